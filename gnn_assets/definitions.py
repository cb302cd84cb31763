"""The Dagster code location: every task config template under configs/ becomes a partitioned
chain of assets, fed by the graph assets it names, with checks, a sensor and a schedule.

GNN_ASSETS_RESOURCE_CONFIG chooses the deployment (default resources/local.yaml);
GNN_ASSETS_TASK_CONFIG_DIR the folder of task templates (default configs/).
"""


import glob
import os

from dagster import AssetSelection, Definitions, PipesSubprocessClient, define_asset_job

from gnn_assets.assets.checks import build_task_checks
from gnn_assets.assets.graphs import GROUP as GRAPHS_GROUP
from gnn_assets.assets.graphs import build_graph_assets
from gnn_assets.assets.inference import build_task_assets
from gnn_assets.assets.partitions import job_partitions
from gnn_assets.automation.dataflow import build_orphaned_dataflow_jobs_sensor
from gnn_assets.automation.schedules import build_daily_refresh_schedule
from gnn_assets.automation.sensors import build_trained_model_sensor
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import load_task_config
from gnn_assets.resources import GnnDeployment, default_resource_config_uri, default_task_config_dir

_WAREHOUSE_KINDS = {"duckdb": "duckdb", "bigquery": "bigquery"}


def build_definitions(resource_config_uri: str, task_config_dir: str) -> Definitions:
    resources = load_resource_config(resource_config_uri)
    warehouse_kind = _WAREHOUSE_KINDS[resources.warehouse_kind]
    templates = sorted(glob.glob(os.path.join(task_config_dir, "*.yaml")))
    assets, checks, jobs, schedules, graphs = [], [], {}, [], []
    for template_uri in templates:
        template = load_task_config(template_uri)
        if template.graph_name not in graphs:
            graphs.append(template.graph_name)
            assets += build_graph_assets(template.graph_name, warehouse_kind)
        assets += build_task_assets(template_uri, warehouse_kind, resources.runner_kind)
        checks += build_task_checks(template_uri)
        jobs[template.task_name] = define_asset_job(
            f"{template.task_name}_inference",
            selection=AssetSelection.groups(template.task_name),
            partitions_def=job_partitions,
            description=f"The {template.task_name} chain for one job: frozen config to embeddings, with its checks.",
        )
        schedules.append(build_daily_refresh_schedule(template.task_name, jobs[template.task_name]))
    refresh_graphs = define_asset_job(
        "refresh_graphs", selection=AssetSelection.groups(GRAPHS_GROUP), description="Re-read and re-enumerate every graph."
    )
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[*jobs.values(), refresh_graphs],
        sensors=[
            build_trained_model_sensor(jobs),
            *([build_orphaned_dataflow_jobs_sensor()] if resources.runner_kind == "dataflow_runner" else []),
        ],
        schedules=schedules,
        resources={
            "deployment": GnnDeployment(resource_config_uri=resource_config_uri),
            "pipes_subprocess_client": PipesSubprocessClient(),
        },
    )


defs = build_definitions(default_resource_config_uri(), default_task_config_dir())
