"""Dataflow jobs whose Dagster run is gone are cancelled. Dataflow itself cannot be reached here:
the sensor runs against a recording stand-in for the jobs API, with real runs in a real instance."""

from __future__ import annotations

import uuid

from dagster import DagsterRun, DagsterRunStatus, build_sensor_context

from gnn_assets.lib.inference.dataflow_sensor import build_orphaned_dataflow_jobs_sensor
from gnn_assets.beam.dataflow_jobs import DAGSTER_RUN_LABEL, DataflowJob
from gnn_assets.lib.resources import GnnDeployment
from tests.support.deployments import make_deployment


class RecordingJobs:
    def __init__(self, jobs):
        self.jobs, self.cancelled = jobs, []

    def active_jobs(self):
        return self.jobs

    def cancel(self, job_id):
        self.cancelled.append(job_id)


def create_run_for_test(instance, job_name: str, status: DagsterRunStatus) -> DagsterRun:
    return instance.add_run(DagsterRun(job_name=job_name, run_id=str(uuid.uuid4()), status=status))


def test_jobs_of_runs_that_are_not_in_progress_are_cancelled(tmp_path):
    deployment = make_deployment(tmp_path)
    instance = deployment.instance
    running = create_run_for_test(instance, job_name="demo", status=DagsterRunStatus.STARTED)
    failed = create_run_for_test(instance, job_name="demo", status=DagsterRunStatus.FAILURE)
    starting = create_run_for_test(instance, job_name="demo", status=DagsterRunStatus.STARTING)
    jobs = RecordingJobs(
        [
            DataflowJob("j-running", "gnn-a", {DAGSTER_RUN_LABEL: running.run_id}),
            DataflowJob("j-failed", "gnn-b", {DAGSTER_RUN_LABEL: failed.run_id}),
            DataflowJob("j-starting", "gnn-c", {DAGSTER_RUN_LABEL: starting.run_id}),
            DataflowJob("j-unknown-run", "gnn-d", {DAGSTER_RUN_LABEL: "5e1f0c2a-0000-4000-8000-000000000000"}),
            DataflowJob("j-not-ours", "someone-elses-job", {"team": "other"}),
        ]
    )
    sensor = build_orphaned_dataflow_jobs_sensor(lambda _deployment: jobs)
    resources = {"deployment": GnnDeployment(resource_config_uri=str(deployment.resource_config))}
    with build_sensor_context(instance=instance, resources=resources) as context:
        result = sensor(context)
    assert jobs.cancelled == ["j-failed", "j-unknown-run"]
    assert "cancelled 2 orphaned Dataflow jobs" in result.skip_message


def test_the_sensor_exists_only_where_jobs_run_on_dataflow(tmp_path):
    defs = make_deployment(tmp_path).definitions()
    assert "orphaned_dataflow_jobs" not in {s.name for s in defs.sensors}
