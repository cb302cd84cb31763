"""A sensor that cancels Dataflow jobs whose Dagster run is no longer in progress.

Dagster terminates a run by stopping the driver, which cancels its Dataflow job; when the
driver dies without that chance, this sensor finds the job by its dagster-run-id label and
cancels it. Only in deployments that run on Dataflow.
"""

from typing import Callable

from dagster import DagsterRunStatus, DefaultSensorStatus, SensorDefinition, SensorEvaluationContext, SkipReason, sensor

from gnn_assets.beam.dataflow_jobs import DataflowJobs, DataflowJobsClient, orphaned_jobs
from gnn_assets.lib.resources import GnnDeployment

_IN_PROGRESS = {
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
}


def _client_for(deployment: GnnDeployment) -> DataflowJobs:
    cfg = deployment.resources().proto.dataflow_runner
    return DataflowJobsClient(cfg.project, cfg.region)


def build_orphaned_dataflow_jobs_sensor(
    jobs_client: Callable[[GnnDeployment], DataflowJobs] = _client_for,
) -> SensorDefinition:
    @sensor(
        name="orphaned_dataflow_jobs",
        minimum_interval_seconds=120,
        default_status=DefaultSensorStatus.RUNNING,
        description="Cancels Dataflow jobs labelled with a Dagster run that is no longer in progress (its driver died).",
    )
    def orphaned_dataflow_jobs(context: SensorEvaluationContext, deployment: GnnDeployment):
        client = jobs_client(deployment)

        def in_progress(run_id: str) -> bool:
            run = context.instance.get_run_by_id(run_id)
            return run is not None and run.status in _IN_PROGRESS

        cancelled = []
        for job in orphaned_jobs(client.active_jobs(), in_progress):
            context.log.warning(f"cancelling Dataflow job {job.job_id} ({job.name}): Dagster run {job.dagster_run_id} is not in progress")
            client.cancel(job.job_id)
            cancelled.append(job.job_id)
        return SkipReason(f"cancelled {len(cancelled)} orphaned Dataflow jobs: {cancelled}" if cancelled else "no orphaned Dataflow jobs")

    return orphaned_dataflow_jobs
