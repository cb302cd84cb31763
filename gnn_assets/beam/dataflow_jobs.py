"""Dataflow jobs whose Dagster run is gone: found by their label and cancelled.

A driver cancels its Dataflow job when it is stopped (SIGTERM); a driver that is killed (OOM,
SIGKILL, a lost machine) cannot, and its job would run on, billed, until it ends. Every job a
Dagster run starts carries the run id as a label (DAGSTER_RUN_LABEL), so whatever
still runs for a run that is no longer in progress can be found and cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

# The label every Dataflow job started by a Dagster run carries (runners.dataflow_flags).
DAGSTER_RUN_LABEL = "dagster-run-id"



@dataclass(frozen=True)
class DataflowJob:
    job_id: str
    name: str
    labels: dict[str, str]

    @property
    def dagster_run_id(self) -> str | None:
        return self.labels.get(DAGSTER_RUN_LABEL)


class DataflowJobs(Protocol):
    def active_jobs(self) -> list[DataflowJob]: ...

    def cancel(self, job_id: str) -> None: ...


class DataflowJobsClient:
    """The active jobs of one project and region, through Dataflow's API (google-cloud-dataflow-client)."""

    def __init__(self, project: str, region: str):
        from google.cloud import dataflow_v1beta3

        self._api = dataflow_v1beta3
        self._client = dataflow_v1beta3.JobsV1Beta3Client()
        self.project, self.region = project, region

    def active_jobs(self) -> list[DataflowJob]:
        request = self._api.ListJobsRequest(
            project_id=self.project, location=self.region, filter=self._api.ListJobsRequest.Filter.ACTIVE
        )
        return [DataflowJob(job.id, job.name, dict(job.labels)) for job in self._client.list_jobs(request=request)]

    def cancel(self, job_id: str) -> None:
        job = self._api.Job(requested_state=self._api.JobState.JOB_STATE_CANCELLED)
        self._client.update_job(
            request=self._api.UpdateJobRequest(project_id=self.project, location=self.region, job_id=job_id, job=job)
        )


def orphaned_jobs(jobs: list[DataflowJob], run_in_progress: Callable[[str], bool]) -> list[DataflowJob]:
    """Active jobs labelled with a Dagster run id whose run is not in progress (finished, failed,
    cancelled, or unknown to this instance). Jobs without the label are not ours to judge."""
    return [job for job in jobs if job.dagster_run_id and not run_in_progress(job.dagster_run_id)]
