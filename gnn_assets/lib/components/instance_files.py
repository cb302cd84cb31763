"""The instance files (defs.yaml) read before Dagster's loader reads them.

Dagster parses every defs.yaml under defs/ itself and walks the whole parsed tree (source
positions, template rendering): a few hundred bytes of nested YAML aliases expand to billions
of nodes there (gigabytes, then a MemoryError), and a duplicate key silently wins. Those are
refused here first, each in one line naming the file and line; what Dagster then reads is its
own (a wrong attribute name or type: `dg check yaml`).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import Definitions, load_from_defs_folder

from gnn_assets.config.errors import ConfigError

MAX_BYTES = 256 * 1024  # a defs.yaml is a few lines; a template it names may be long, but lies beside it
MAX_NODES = 100_000  # YAML nodes once every alias is expanded


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes of the tree once aliases are expanded, each shared node counted once per use
    (computed once per node, so a bomb is measured without being expanded)."""
    if id(node) in sizes:
        return sizes[id(node)]
    sizes[id(node)] = MAX_NODES + 1  # a node that contains itself is unbounded
    if isinstance(node, yaml.MappingNode):
        total = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        total = 1 + sum(_expanded_size(v, sizes) for v in node.value)
    else:
        total = 1
    sizes[id(node)] = min(total, MAX_NODES + 1)
    return sizes[id(node)]


def _duplicate_key(node: yaml.Node) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    return key
                seen.add(key.value)
            found = _duplicate_key(value)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for value in node.value:
            found = _duplicate_key(value)
            if found is not None:
                return found
    return None


def check_instance_file(path: Path) -> None:
    """Refuse (one line, file and line) a defs.yaml Dagster's loader should not be handed."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes; an instance file holds at most {MAX_BYTES:,} (put long configs in the template beside it)")
    text = path.read_text()
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not YAML: {' '.join(str(error).split())}") from None
    for document in documents:
        if document is None:
            continue
        if _expanded_size(document, {}) > MAX_NODES:
            raise ConfigError(f"{path}: expands to more than {MAX_NODES:,} YAML nodes through its aliases (&anchor/*alias); write the values out")
        duplicate = _duplicate_key(document)
        if duplicate is not None:
            raise ConfigError(f"{path}:{duplicate.start_mark.line + 1}: the key {duplicate.value!r} is given twice in one mapping")


def load_instances(package_dir: Path) -> Definitions:
    """The code location of a project whose package lies at package_dir: every defs.yaml under its
    defs/ folder checked, then loaded by Dagster."""
    for path in sorted((package_dir / "defs").rglob("defs.yaml")):
        check_instance_file(path)
    return load_from_defs_folder(path_within_project=package_dir)
