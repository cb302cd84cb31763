"""The deployment Component: what every task and graph of the project runs on, and what reacts.

One instance per project (defs/deployment/defs.yaml). It holds the resource config (storage,
runner, warehouse: resources/*.yaml), the Dagster resources made from it, the sensor that
evaluates the AutomationConditions of the tasks and graphs, the job that refreshes every graph,
and the executor (each task has its own sensor on its model location: the task Component).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from gnn_assets import storage
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.resource_config import Resources, load_resource_config
from gnn_assets.lib.graphs.assets import GRAPH_TAG
from gnn_assets.lib.inference.dataflow_sensor import build_orphaned_dataflow_jobs_sensor
from gnn_assets.lib.resources import GnnDeployment, default_resource_config_uri

AUTOMATION_SENSOR = "gnn_assets_automation"


class GnnDeploymentComponent(dg.Component, dg.Model, dg.Resolvable):
    """The deployment of a gnn_assets project: the resource config every task and graph uses, the
    automation sensor and the refresh_graphs job. One per project."""

    resource_config: str | None = Field(
        default=None,
        description=(
            "The resource config (resources/*.yaml: storage, runner, warehouse), relative to the project root or "
            "absolute. Unset: $GNN_ASSETS_RESOURCE_CONFIG, else resources/local.yaml."
        ),
    )
    automation_sensor_running: bool = Field(
        default=True,
        description=(
            "Whether the sensor that evaluates the tasks' and graphs' AutomationConditions starts running "
            "(turn it on or off in the UI under Automation either way)."
        ),
    )
    automation_interval_seconds: int = Field(default=30, ge=5, description="How often the automation sensor evaluates.")

    def resource_config_uri(self, project_root: Path) -> str:
        if not self.resource_config:
            return default_resource_config_uri(project_root)
        if storage.is_remote(self.resource_config):
            return self.resource_config
        return str((project_root / self.resource_config).resolve())

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        uri = self.resource_config_uri(context.project_root)
        resources = load_resource_config(uri)
        return dg.Definitions(
            jobs=[
                dg.define_asset_job(
                    "refresh_graphs",
                    selection=dg.AssetSelection.tag(*next(iter(GRAPH_TAG.items()))),
                    description="Re-read and re-enumerate every graph.",
                    executor_def=dg.in_process_executor,
                )
            ],
            sensors=[
                dg.AutomationConditionSensorDefinition(
                    AUTOMATION_SENSOR,
                    target=dg.AssetSelection.all(),
                    default_status=dg.DefaultSensorStatus.RUNNING if self.automation_sensor_running else dg.DefaultSensorStatus.STOPPED,
                    minimum_interval_seconds=self.automation_interval_seconds,
                    description=(
                        "Evaluates the AutomationConditions of every task and graph: a new graph source is enumerated, "
                        "a new trained model runs its chain."
                    ),
                ),
                *([build_orphaned_dataflow_jobs_sensor()] if resources.runner_kind == "dataflow_runner" else []),
            ],
            resources={
                "deployment": GnnDeployment(resource_config_uri=uri),
                "pipes_subprocess_client": dg.PipesSubprocessClient(),
            },
            # Every step in the run's own process: a step in a process of its own paid ~10 s of
            # imports (torch, PyG, Beam) each, 75 s of a chain launched from the UI. The heavy step
            # still runs apart, as the CLI through Dagster Pipes.
            executor=dg.in_process_executor,
        )


def project_deployment(context: dg.ComponentLoadContext) -> tuple[str, Resources]:
    """The resource config of the project's one deployment instance, for a task or graph Component."""
    found = context.component_tree.get_all_components(of_type=GnnDeploymentComponent)
    if len(found) != 1:
        raise ConfigError(
            f"the project has {len(found)} instances of GnnDeploymentComponent, not one: "
            "`dg scaffold defs gnn_assets.lib.components.GnnDeploymentComponent deployment` makes it"
            if not found
            else f"the project has {len(found)} instances of GnnDeploymentComponent; keep one"
        )
    uri = found[0].resource_config_uri(context.project_root)
    return uri, load_resource_config(uri)
