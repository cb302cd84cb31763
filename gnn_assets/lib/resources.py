"""Dagster resources, built from one resource config (resources/*.yaml).

The deployment Component (defs/deployment/defs.yaml) names the file; without one there,
GNN_ASSETS_RESOURCE_CONFIG picks it, and resources/local.yaml is the default. The CLI reads the
same file, so Dagster and a hand-run job see the same storage, runner and warehouse.
"""


import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from gnn_assets.config.resource_config import Resources, load_resource_config
from gnn_assets.warehouse import Warehouse, open_warehouse

REPO_ROOT = Path(__file__).resolve().parents[2]
RESOURCE_CONFIG_ENV = "GNN_ASSETS_RESOURCE_CONFIG"
# Assets that write the warehouse share this Dagster concurrency pool: DuckDB takes one writer
# at a time, so they queue in Dagster instead of waiting on the file's lock (README).
WAREHOUSE_POOL = "gnn_assets_warehouse"


def default_resource_config_uri(project_root: Path = REPO_ROOT) -> str:
    return os.environ.get(RESOURCE_CONFIG_ENV) or str(project_root / "resources" / "local.yaml")


class GnnDeployment(ConfigurableResource):
    """Where a deployment keeps its data, which Beam runner it uses and which warehouse holds tables."""

    resource_config_uri: str
    _loaded: Resources | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # Read once per run (each asset and check of a run used to parse the file again).
        self._loaded = load_resource_config(self.resource_config_uri)

    def resources(self, runner_overrides: Mapping[str, Any] | None = None) -> Resources:
        """The deployment's resources: read once per run, and afresh on each call outside one (a
        sensor's or schedule's tick, a code location load, which must see the file as it is now);
        runner_overrides: a task's own runner fields (its Component's runner_overrides)."""
        if runner_overrides or self._loaded is None:
            return load_resource_config(self.resource_config_uri, runner_overrides)
        return self._loaded

    def warehouse(self) -> Warehouse:
        return open_warehouse(self.resources())
