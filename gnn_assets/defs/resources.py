"""Dagster resources, built from one resource config (resources/*.yaml).

GNN_ASSETS_RESOURCE_CONFIG picks the deployment; resources/local.yaml is the default. The CLI
reads the same file, so Dagster and a hand-run job see the same storage, runner and warehouse.
"""


import os
from pathlib import Path

from dagster import ConfigurableResource

from gnn_assets.config.resource_config import Resources, load_resource_config
from gnn_assets.warehouse import Warehouse, open_warehouse

REPO_ROOT = Path(__file__).resolve().parents[2]
RESOURCE_CONFIG_ENV = "GNN_ASSETS_RESOURCE_CONFIG"
TASK_CONFIG_DIR_ENV = "GNN_ASSETS_TASK_CONFIG_DIR"
# Assets that write the warehouse share this Dagster concurrency pool: DuckDB takes one writer
# at a time, so they queue in Dagster instead of waiting on the file's lock (README).
WAREHOUSE_POOL = "gnn_assets_warehouse"


def default_resource_config_uri() -> str:
    return os.environ.get(RESOURCE_CONFIG_ENV) or str(REPO_ROOT / "resources" / "local.yaml")


def default_task_config_dir() -> str:
    return os.environ.get(TASK_CONFIG_DIR_ENV) or str(REPO_ROOT / "configs")


class GnnDeployment(ConfigurableResource):
    """Where a deployment keeps its data, which Beam runner it uses and which warehouse holds tables."""

    resource_config_uri: str

    def resources(self) -> Resources:
        return load_resource_config(self.resource_config_uri)

    def warehouse(self) -> Warehouse:
        return open_warehouse(self.resources())
