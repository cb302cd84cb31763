from gnn_assets.errors import UserError


class ConfigError(UserError, ValueError):
    """A config file is invalid; the message names the file and the field."""
