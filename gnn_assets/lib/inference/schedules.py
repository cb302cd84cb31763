"""A daily re-run of each task's chain for its newest job, for graphs that refresh daily.

Stopped by default: turn it on in the UI (Automation) where a graph does refresh.
"""


from dagster import DefaultScheduleStatus, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason, schedule

from gnn_assets import storage
from gnn_assets.lib.common import job_partitions
from gnn_assets.config.job_name import job_name_for_model_file
from gnn_assets.lib.resources import GnnDeployment


def build_daily_refresh_schedule(task_name: str, job_def) -> ScheduleDefinition:
    """job_def: the task's inference job, as define_asset_job returns it."""
    @schedule(
        name=f"{task_name}_daily_refresh",
        cron_schedule="0 4 * * *",
        job=job_def,
        default_status=DefaultScheduleStatus.STOPPED,
        description=f"Every day at 04:00, re-runs the {task_name} chain for the job of its newest trained model.",
    )
    def daily_refresh(context: ScheduleEvaluationContext, deployment: GnnDeployment):
        models = storage.match_files(storage.join(deployment.resources().model_root, task_name, "*.pt"))
        if not models:
            return SkipReason(f"no trained model for {task_name} yet")
        job = job_name_for_model_file(max(models, key=lambda m: m.updated).path)
        if job not in context.instance.get_dynamic_partitions(job_partitions(task_name).name):
            return SkipReason(f"job {job!r} has no partition yet; the {task_name}_new_trained_model sensor adds it")
        return RunRequest(partition_key=job, tags={"gnn_assets/trigger": "daily_refresh"})

    return daily_refresh
