from dagster import DynamicPartitionsDefinition

from gnn_assets.config.errors import ConfigError
from gnn_assets.config.job_name import validate_job_name

# One partition per job name, shared by every task: the sensor adds a partition per new model.
job_partitions = DynamicPartitionsDefinition(name="job_name")


def partition_job_name(partition_key: str) -> str:
    """The partition key as a job name, refused with a clear message when Dataflow would refuse it."""
    try:
        return validate_job_name(partition_key)
    except ConfigError as error:
        raise ConfigError(f"partition {partition_key!r}: {error}") from None
