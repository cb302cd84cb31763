"""The Dagster code location: the Component instances under gnn_assets/defs/ (dg's defs folder).

defs/deployment/defs.yaml names the resource config (default $GNN_ASSETS_RESOURCE_CONFIG, else
resources/local.yaml); each defs/graphs/<graph>/defs.yaml is a graph, each
defs/tasks/<task>/defs.yaml a task whose GbmlConfig template lies beside it. Each defs.yaml is
checked before Dagster reads it (components/instance_files.py).
"""

from pathlib import Path

import gnn_assets.lib  # noqa: F401  (its warning filters, set before the loader's own warning context)
from gnn_assets.lib.components.instance_files import load_instances

defs = load_instances(Path(__file__).parent)
