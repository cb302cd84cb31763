"""The Dagster code location: the Component instances under gnn_assets/defs/ (dg's defs folder).

defs/deployment/defs.yaml names the resource config (default $GNN_ASSETS_RESOURCE_CONFIG, else
resources/local.yaml); each defs/graphs/<graph>/defs.yaml is a graph, each
defs/tasks/<task>/defs.yaml a task whose GbmlConfig template lies beside it.
"""

from pathlib import Path

from dagster import load_from_defs_folder

import gnn_assets.defs  # noqa: F401  (its warning filters, set before the loader's own warning context)

defs = load_from_defs_folder(path_within_project=Path(__file__).parent)
