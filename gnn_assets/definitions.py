"""The Dagster code location: every task config template under configs/ becomes a partitioned
chain of assets, fed by the graph assets it names, with checks, a sensor and a schedule.

GNN_ASSETS_RESOURCE_CONFIG chooses the deployment (default resources/local.yaml);
GNN_ASSETS_TASK_CONFIG_DIR the folder of task templates (default configs/).
"""


import glob
import logging
import os

from dagster import AssetSelection, Definitions, PipesSubprocessClient, define_asset_job, in_process_executor

from gnn_assets.defs.candidates.assets import build_candidate_assets
from gnn_assets.defs.comparison.assets import build_drift_assets
from gnn_assets.defs.inference.checks import build_task_checks
from gnn_assets.defs.graphs.assets import build_graph_assets, graph_group, graph_source_missing
from gnn_assets.defs.inference.assets import build_task_assets
from gnn_assets.defs.inference.invalid_configs import build_invalid_template_asset
from gnn_assets.defs.inference.partitions import job_partitions
from gnn_assets.defs.inference.dataflow_sensor import build_orphaned_dataflow_jobs_sensor
from gnn_assets.defs.inference.schedules import build_daily_refresh_schedule
from gnn_assets.defs.inference.sensors import build_trained_model_sensor
from gnn_assets.defs.serving.assets import build_deployment_assets
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import load_task_config
from gnn_assets.errors import UserError
from gnn_assets.resources import GnnDeployment, default_resource_config_uri, default_task_config_dir

_log = logging.getLogger("gnn_assets.definitions")

_WAREHOUSE_KINDS = {"duckdb": "duckdb", "bigquery": "bigquery"}


def build_definitions(resource_config_uri: str, task_config_dir: str) -> Definitions:
    resources = load_resource_config(resource_config_uri)
    warehouse_kind = _WAREHOUSE_KINDS[resources.warehouse_kind]
    templates = sorted(glob.glob(os.path.join(task_config_dir, "*.yaml")))
    assets, checks, jobs, schedules, graphs = [], [], {}, [], {}
    deploy_jobs, promoters = {}, {}
    for template_uri in templates:
        try:
            template = load_task_config(template_uri)
            task_assets = build_task_assets(template_uri, warehouse_kind, resources.runner_kind)
            task_checks = build_task_checks(template_uri)
            drift = build_drift_assets(template_uri)
            candidates = build_candidate_assets(template_uri, warehouse_kind)
        except UserError as error:
            # One broken template must not take the other tasks, the sensor and the schedules down.
            _log.warning("task config %s does not load: %s", template_uri, error)
            assets.append(build_invalid_template_asset(template_uri, error))
            continue
        graphs.setdefault(template.graph_name, []).append(os.path.basename(template_uri))
        assets += task_assets + drift[:1] + candidates[:1]
        checks += task_checks + drift[1:] + candidates[1:]
        jobs[template.task_name] = define_asset_job(
            f"{template.task_name}_inference",
            selection=AssetSelection.groups(template.task_name),
            partitions_def=job_partitions,
            description=f"The {template.task_name} chain for one job: frozen config to embeddings, with its checks.",
            executor_def=in_process_executor,
        )
        schedules.append(build_daily_refresh_schedule(template.task_name, jobs[template.task_name]))
        deployed, deploy_jobs[template.task_name], promoters[template.task_name] = build_deployment_assets(
            template_uri, jobs[template.task_name]
        )
        assets += deployed
    for graph_name, users in graphs.items():
        missing = graph_source_missing(resources.layout, graph_name)
        if missing:
            _log.warning("graph %r named by %s has no graph source", graph_name, ", ".join(users))
        assets += build_graph_assets(graph_name, warehouse_kind, missing_source_of=users if missing else None)
    refresh_graphs = define_asset_job(
        "refresh_graphs",
        selection=AssetSelection.groups(*[graph_group(g) for g in graphs]),
        description="Re-read and re-enumerate every graph.",
        executor_def=in_process_executor,
    )
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[*jobs.values(), *deploy_jobs.values(), *([refresh_graphs] if graphs else [])],
        sensors=[
            build_trained_model_sensor(jobs),
            *promoters.values(),
            *([build_orphaned_dataflow_jobs_sensor()] if resources.runner_kind == "dataflow_runner" else []),
        ],
        schedules=schedules,
        resources={
            "deployment": GnnDeployment(resource_config_uri=resource_config_uri),
            "pipes_subprocess_client": PipesSubprocessClient(),
        },
        # Every step in the run's own process: a step in a process of its own paid ~10 s of
        # imports (torch, PyG, Beam) each, 75 s of a chain launched from the UI. The heavy step
        # still runs apart, as the CLI through Dagster Pipes.
        executor=in_process_executor,
    )


defs = build_definitions(default_resource_config_uri(), default_task_config_dir())
