"""Names that become paths and table names: graph, node type and relation names.

Every such name is checked here, once, where it enters (a config, a graph source's metadata,
a command-line flag, a storage layout call): a name like '../../x' never reaches a path.
"""

from __future__ import annotations

import re

from gnn_assets.config.errors import ConfigError

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")


def is_plain_name(name: object) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def validate_name(name: object, what: str) -> str:
    """A plain name ([A-Za-z][A-Za-z0-9_]*, at most 128 characters), else one line saying which."""
    if not is_plain_name(name):
        raise ConfigError(f"invalid {what} {name!r}: use letters, digits and '_', starting with a letter (at most 128)")
    return name  # type: ignore[return-value]
