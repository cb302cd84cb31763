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
from gnn_assets.defs.common import job_partitions
from gnn_assets.defs.inference.dataflow_sensor import build_orphaned_dataflow_jobs_sensor
from gnn_assets.defs.inference.schedules import build_daily_refresh_schedule
from gnn_assets.defs.inference.sensors import build_trained_model_sensor
from gnn_assets.defs.serving.assets import build_deployment_assets
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import load_task_config
from gnn_assets.errors import UserError
from gnn_assets.defs.resources import GnnDeployment, default_resource_config_uri, default_task_config_dir

_log = logging.getLogger("gnn_assets.definitions")

def build_definitions(resource_config_uri: str, task_config_dir: str) -> Definitions:
    resources = load_resource_config(resource_config_uri)
    warehouse_kind = resources.warehouse_kind  # shown as the kind of the assets that write it
    templates = sorted(glob.glob(os.path.join(task_config_dir, "*.yaml")))
    assets, checks, jobs, schedules, graphs = [], [], {}, [], {}
    parts: list[Definitions] = []  # what a task adds beside its chain: drift, candidates, deployment
    for template_uri in templates:
        try:
            template = load_task_config(template_uri)
            task_assets = build_task_assets(template_uri, warehouse_kind, resources.runner_kind)
            task_checks = build_task_checks(template_uri)
            task_parts = [build_drift_assets(template_uri), build_candidate_assets(template_uri, warehouse_kind)]
        except UserError as error:
            # One broken template must not take the other tasks, the sensor and the schedules down.
            _log.warning("task config %s does not load: %s", template_uri, error)
            assets.append(build_invalid_template_asset(template_uri, error))
            continue
        graphs.setdefault(template.graph_name, []).append(os.path.basename(template_uri))
        assets += task_assets
        checks += task_checks
        jobs[template.task_name] = define_asset_job(
            f"{template.task_name}_inference",
            selection=AssetSelection.groups(template.task_name),
            partitions_def=job_partitions,
            description=f"The {template.task_name} chain for one job: frozen config to embeddings, with its checks.",
            executor_def=in_process_executor,
        )
        schedules.append(build_daily_refresh_schedule(template.task_name, jobs[template.task_name]))
        parts += [*task_parts, build_deployment_assets(template_uri, jobs[template.task_name])]
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
    chains = Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[*jobs.values(), *([refresh_graphs] if graphs else [])],
        sensors=[
            build_trained_model_sensor(jobs),
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
    return Definitions.merge(chains, *parts)


defs = build_definitions(default_resource_config_uri(), default_task_config_dir())
