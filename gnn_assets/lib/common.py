"""What the Dagster layer's domains share: the job-name partitions, asset keys of a task, and
reading what an upstream materialization recorded."""

import base64
import json
import sys
from collections.abc import Mapping
from typing import Any

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, DynamicPartitionsDefinition, MetadataValue

from gnn_assets.config.job import Job
from gnn_assets.config.layout import job_layout
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.job_name import validate_job_name
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig, load_task_config

# The one set of job names every task shared before each task had its own: each task's sensor
# adds the job names its task materialized from it to the task's set (lib/inference/sensors.py).
SHARED_JOB_PARTITIONS = "job_name"


def job_partitions(task_name: str) -> DynamicPartitionsDefinition:
    """A task's own partitions, one per job name (`<task>_jobs`): the sensor adds a new model's job
    to its task's set only, so no task lists (or launches) another task's jobs."""
    return DynamicPartitionsDefinition(name=f"{task_name}_jobs")


def add_job_partitions(instance: DagsterInstance, task_name: str, job_names: list[str]) -> None:
    instance.add_dynamic_partitions(job_partitions(task_name).name, job_names)


def partition_job_name(partition_key: str) -> str:
    """The partition key as a job name, refused with a clear message when Dataflow would refuse it."""
    try:
        return validate_job_name(partition_key)
    except ConfigError as error:
        raise ConfigError(f"partition {partition_key!r}: {error}") from None


def inference_command(
    job_name: str, task_config_uri: str, resource_config_uri: str, stage: str, runner_overrides: Mapping[str, Any] | None, *checks: str
) -> list[str]:
    """`python -m gnn_assets.inference` for one stage of a job, as an asset starts it through Pipes:
    checks are the hash flags the job verifies; a task's own runner fields go with it, so that the
    job runs on them too."""
    overrides = ["--runner_overrides", json.dumps(dict(runner_overrides), sort_keys=True)] if runner_overrides else []
    return [
        sys.executable, "-m", "gnn_assets.inference",
        "--job_name", job_name,
        "--task_config_uri", task_config_uri,
        "--resource_config_uri", resource_config_uri,
        "--stages", stage,
        *checks,
        *overrides,
    ]  # fmt: skip


def task_asset_key(task_name: str, asset_name: str) -> AssetKey:
    return AssetKey([task_name, asset_name])


def recorded_metadata(instance: DagsterInstance, key: AssetKey, partition: str, name: str):
    """A metadata value of the latest materialization of one partition of an asset."""
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1).records
    if not records:
        raise ConfigError(f"{key.to_user_string()} has no materialization for partition {partition!r}: materialize it first")
    entry = records[0].asset_materialization.metadata.get(name)
    if entry is None:
        raise ConfigError(f"{key.to_user_string()} partition {partition!r} recorded no {name}: materialize it again")
    return entry.value


def per_node_type(name: str, values: Mapping[str, float]) -> dict[str, MetadataValue]:
    """One numeric entry per node (or edge) type, `<name> (<type>)`: the asset page plots each
    across materializations (a JSON entry it only lists)."""
    return {f"{name} ({key})": MetadataValue.int(v) if isinstance(v, int) else MetadataValue.float(float(v)) for key, v in values.items()}


def png_metadata(name: str, png: bytes) -> MetadataValue:
    """A picture shown on the asset page (markdown with the PNG inline)."""
    return MetadataValue.md(f"![{name}](data:image/png;base64,{base64.b64encode(png).decode()})")


def partition_job(context, deployment, task_name: str, runner_overrides: Mapping[str, Any] | None = None) -> Job:
    """The job of the run's partition: its frozen config as frozen_config recorded it, on the
    deployment's resources (with the task's runner overrides where given)."""
    resources = deployment.resources(runner_overrides)
    return Job.of(frozen_config_for(context.instance, resources, task_name, partition_job_name(context.partition_key)), resources)


def frozen_config_for(instance: DagsterInstance, resources: Resources, task_name: str, job_name: str) -> TaskConfig:
    """The frozen config as the frozen_config materialization recorded it: the file in storage must
    still hash to the recorded sha256 (a config rewritten in storage is refused, not run)."""
    expected = recorded_metadata(instance, task_asset_key(task_name, "frozen_config"), job_name, "sha256")
    config = load_task_config(job_layout(resources.layout, task_name, job_name).frozen_config_uri)
    if config.sha256 != expected:
        raise ConfigError(
            f"{config.uri} changed since frozen_config recorded it (sha256 {config.sha256[:12]}..., recorded "
            f"{expected[:12]}...): materialize frozen_config again"
        )
    return config
