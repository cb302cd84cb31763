"""Deployment: which job's model the real-time server of a task serves.

<task>/deployed_model (not partitioned) records a job name and its model's sha256 where running
servers look (gnn_assets/serving/deployment.py); they load that model and swap to it without
dropping a request. Materialized by hand (config job_name, or by default the newest job whose
chain run succeeded with every check passing) or by the sensor <task>_promote_model, which
promotes a job as soon as its chain succeeded (stopped by default).
"""

from dagster import (
    Definitions,
    AssetExecutionContext,

    AssetRecordsFilter,
    Config,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    RunStatusSensorContext,
    asset,
    define_asset_job,
    run_status_sensor,
)

from gnn_assets.config.errors import ConfigError
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.lib.common import recorded_metadata, task_asset_key
from gnn_assets.lib.resources import GnnDeployment

SERVING_GROUP = "serving"


class DeployedModelConfig(Config):
    job_name: str = ""  # empty: the newest job whose chain run succeeded with every check passing


def newest_passed_job(instance: DagsterInstance, task: str) -> str:
    """The partition of the newest embeddings materialization whose run succeeded and whose
    checks in that run all passed."""
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=task_asset_key(task, "embeddings")), limit=50).records
    for record in records:
        run = instance.get_run_by_id(record.run_id)
        if run is None or run.status != DagsterRunStatus.SUCCESS:
            continue
        evaluations = instance.all_logs(record.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        if evaluations and all(e.dagster_event.asset_check_evaluation_data.passed for e in evaluations):
            return record.partition_key
    raise ConfigError(f"{task} has no job whose chain succeeded with every check passing: materialize one, or name a job_name")


def materialized_in_run(instance: DagsterInstance, run_id: str, key) -> bool:
    events = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    return any(e.dagster_event.asset_key == key for e in events)


def build_deployment_assets(template: TaskConfig) -> Definitions:
    task = template.task_name
    key = task_asset_key(task, "deployed_model")

    @asset(
        key=key,
        deps=[task_asset_key(task, "embeddings")],
        group_name=SERVING_GROUP,
        kinds={"fastapi"},
        description=(
            f"The job whose model the real-time server of {task} serves (`gnn-assets serve`): its name and model "
            "sha256, where running servers look; they swap to it without dropping a request. Config job_name, or "
            "by default the newest job whose chain succeeded with every check passing."
        ),
    )
    def deployed_model(context: AssetExecutionContext, config: DeployedModelConfig, deployment: GnnDeployment) -> MaterializeResult:
        from gnn_assets.serving.deployment import deployment_uri, write_deployment

        job_name = config.job_name or newest_passed_job(context.instance, task)
        sha256 = recorded_metadata(context.instance, task_asset_key(task, "trained_model"), job_name, "sha256")
        resources = deployment.resources()
        record = write_deployment(resources.layout, task, job_name, sha256)
        context.log.info(f"{task} now serves job {job_name} (model sha256 {sha256[:12]})")
        return MaterializeResult(
            metadata={
                "job_name": job_name,
                "model_sha256": sha256,
                "deployed_at": record.deployed_at,
                "record_uri": MetadataValue.path(deployment_uri(resources.layout, task)),
            }
        )

    deploy_job = define_asset_job(f"{task}_deploy", selection=[key], description=f"Point the {task} server at a job's model.")

    @run_status_sensor(
        name=f"{task}_promote_model",
        run_status=DagsterRunStatus.SUCCESS,
        # Every run of the code location: the chain runs as its job, and as the runs its
        # AutomationConditions launch.
        request_job=deploy_job,
        default_status=DefaultSensorStatus.STOPPED,
        description=f"Deploy a {task} job's model as soon as a run that made its embeddings succeeded (every blocking check passed).",
    )
    def promote_model(context: RunStatusSensorContext):
        job_name = context.dagster_run.tags.get("dagster/partition")
        if job_name and materialized_in_run(context.instance, context.dagster_run.run_id, task_asset_key(task, "embeddings")):
            return RunRequest(
                run_key=f"promote-{context.dagster_run.run_id}",
                run_config={"ops": {f"{task}__deployed_model": {"config": {"job_name": job_name}}}},
            )

    return Definitions(assets=[deployed_model], jobs=[deploy_job], sensors=[promote_model])
