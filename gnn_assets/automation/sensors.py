"""A sensor on the model location: each new trained-model file starts its job's chain.

Model files live at <model root>/<task>/<name>.pt (a folder locally, a GCS prefix on GCP).
The job name derives from the file name; a file seen before (same size and update time) is
not requested again, and run keys deduplicate the rest. A file the sensor has never seen whose
job already has a materialized trained_model (say, after `make demo`, or when the sensor is
first turned on) is recorded without a run; a replaced file always runs.
"""


import hashlib
import json

from dagster import (
    AssetObservation,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from gnn_assets import storage
from gnn_assets.assets.inference import task_asset_key
from gnn_assets.assets.partitions import job_partitions
from gnn_assets.config.job_name import job_name_for_model_file
from gnn_assets.resources import GnnDeployment


def build_trained_model_sensor(task_jobs: dict[str, UnresolvedAssetJobDefinition]) -> SensorDefinition:
    """task_jobs: the inference job of each task, by task name."""

    @sensor(
        name="new_trained_model",
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        jobs=list(task_jobs.values()),
        description="Adds a job_name partition for every new trained-model file and requests its task's chain.",
    )
    def new_trained_model(context: SensorEvaluationContext, deployment: GnnDeployment) -> SensorResult:
        resources = deployment.resources()
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        known = set(context.instance.get_dynamic_partitions(job_partitions.name))
        run_requests, new_partitions, observations = [], [], []
        for task, job_def in task_jobs.items():
            materialized = context.instance.get_materialized_partitions(task_asset_key(task, "trained_model"))
            for match in storage.match_files(storage.join(resources.model_root, task, "*.pt")):
                signature = f"{match.size}:{match.updated}"
                first_sight = match.path not in seen
                if seen.get(match.path) == signature:
                    continue
                seen[match.path] = signature
                job = job_name_for_model_file(match.path)
                if first_sight and job in materialized:
                    continue
                if job not in known and job not in new_partitions:
                    new_partitions.append(job)
                observations.append(
                    AssetObservation(
                        asset_key=task_asset_key(task, "trained_model"),
                        partition=job,
                        metadata={"uri": match.path, "size_bytes": match.size},
                    )
                )
                run_key = hashlib.sha256(f"{match.path}:{signature}".encode()).hexdigest()[:20]
                run_requests.append(RunRequest(run_key=run_key, partition_key=job, job_name=job_def.name))
        return SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=[job_partitions.build_add_request(new_partitions)] if new_partitions else [],
            asset_events=observations,
            cursor=json.dumps(seen, sort_keys=True),
        )

    return new_trained_model
