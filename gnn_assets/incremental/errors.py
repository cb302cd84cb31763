"""The one error of incremental jobs."""

from gnn_assets.errors import UserError


class IncrementalRefused(UserError, ValueError):
    """An incremental job that cannot start from its base: one line, before any work."""
