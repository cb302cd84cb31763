"""Task configs (GiGL's GbmlConfig) and resource configs: load, validate, freeze."""

from gnn_assets.config.errors import ConfigError

__all__ = ["ConfigError"]
