"""A sensor per task on its model location: each new trained-model file starts its job's chain.

It polls storage, outside the asset graph, so it stays a sensor: it adds the job's partition
and materializes the task's frozen_config and trained_model for it; the rest of the chain
follows by its AutomationConditions (eager downstream of trained_model, GnnTaskComponent).

Model files live at <model root>/<task>/<name>.pt (a folder locally, a GCS prefix on GCP). The
job name derives from the file name. A file is taken only once it is whole: a GCS object
appears whole, a local file when it has not changed between two ticks (a writer may still be
writing it). What the sensor remembers per file is its version (GCS generation; locally size,
times and inode) and its content hash: a rewrite with the same content starts nothing, a
rewrite with new content always does, whatever its size and time. Two files that stand for
one job name start nothing and are reported; files that are gone are forgotten. A file never
seen before whose job already has a materialized trained_model (after `make demo`, or when the
sensor is first turned on) is recorded without a run.

Each task has its own partitions (`<task>_jobs`) and its own sensor (`<task>_new_trained_model`):
a new model's job is added to its task's set only. Upgrade from an instance where every task
shared one set (`job_name`) and one sensor (`new_trained_model`): each tick adds to the task's set
the shared set's job names the task materialized (its frozen_config or trained_model), so their
runs and materializations show under the task again; the shared set and the old sensor's state
are left as they were (no definition reads them). The new sensor's first tick records the files
whose job has a materialized trained_model without a run, as above.
"""


import hashlib
import json
from collections import defaultdict

from dagster import (
    AssetKey,
    AssetObservation,
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from gnn_assets import storage
from gnn_assets.lib.common import SHARED_JOB_PARTITIONS, job_partitions, task_asset_key
from gnn_assets.config.job_name import job_name_for_model_file
from gnn_assets.lib.resources import GnnDeployment

PENDING, DONE = "pending", "done"
# The tag on each task's frozen_config and trained_model: what its sensor materializes.
TRIGGER_TAG = {"gnn_assets/trigger": "new_trained_model"}


def build_trained_model_sensor(task: str, intake: list[AssetKey]) -> SensorDefinition:
    """intake: the task's assets the sensor materializes (frozen_config, trained_model)."""

    @sensor(
        name=f"{task}_new_trained_model",
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        target=AssetSelection.assets(*intake),
        description=(
            f"Adds a partition to {task}'s job names ({job_partitions(task).name}) for every new model file in "
            f"<model root>/{task}/ and materializes its frozen_config and trained_model; the chain's AutomationConditions take it from there."
        ),
    )
    def new_trained_model(context: SensorEvaluationContext, deployment: GnnDeployment) -> SensorResult:
        resources = deployment.resources()
        seen: dict[str, dict] = json.loads(context.cursor) if context.cursor else {}
        remembered: dict[str, dict] = {}  # the next cursor: files that exist now
        shared = set(context.instance.get_dynamic_partitions(SHARED_JOB_PARTITIONS))
        run_requests, observations = [], []
        known = set(context.instance.get_dynamic_partitions(job_partitions(task).name))
        materialized = context.instance.get_materialized_partitions(task_asset_key(task, "trained_model"))
        frozen = context.instance.get_materialized_partitions(task_asset_key(task, "frozen_config")) if shared else set()
        new_partitions = sorted((shared & (materialized | frozen)) - known)  # adopted from the shared set
        by_job = defaultdict(list)
        for file in storage.file_versions(storage.join(resources.model_root, task, "*.pt")):
            if not storage.is_inside(file.path, resources.model_root):
                context.log.warning(f"{file.path} resolves outside the model root {resources.model_root}: ignored")
                continue
            by_job[job_name_for_model_file(file.path)].append(file)
        for job, files in sorted(by_job.items()):
            if len(files) > 1:
                context.log.error(
                    f"model files {', '.join(f.path for f in files)} all stand for job {job!r}: none starts a run; rename all but one"
                )
                continue
            file = files[0]
            before = seen.get(file.path, {})
            if before.get("version") == file.version and before.get("state") == DONE:
                remembered[file.path] = before
                continue
            if not file.atomic and before.get("version") != file.version:
                # Changed since the last tick (or new): a writer may still be at it. Next tick decides.
                remembered[file.path] = {"version": file.version, "sha256": before.get("sha256", ""), "state": PENDING}
                continue
            digest = storage.sha256(file.path)
            remembered[file.path] = {"version": file.version, "sha256": digest, "state": DONE}
            if digest == before.get("sha256"):
                continue  # rewritten with the same content
            if not before.get("sha256") and job in materialized:
                continue  # first sight of a model whose job ran before this sensor knew it
            if job not in known and job not in new_partitions:
                new_partitions.append(job)
            observations.append(
                AssetObservation(
                    asset_key=task_asset_key(task, "trained_model"),
                    partition=job,
                    metadata={"uri": file.path, "size_bytes": file.size, "sha256": digest},
                )
            )
            run_key = hashlib.sha256(f"{file.path}:{file.version}:{digest}".encode()).hexdigest()[:20]
            run_requests.append(RunRequest(run_key=run_key, partition_key=job, asset_selection=intake))
        return SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=[job_partitions(task).build_add_request(new_partitions)] if new_partitions else [],
            asset_events=observations,
            cursor=json.dumps(remembered, sort_keys=True),
        )

    return new_trained_model
