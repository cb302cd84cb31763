from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LocalRunnerConfig(_message.Message):
    __slots__ = ("running_mode", "num_workers")
    RUNNING_MODE_FIELD_NUMBER: _ClassVar[int]
    NUM_WORKERS_FIELD_NUMBER: _ClassVar[int]
    running_mode: str
    num_workers: int
    def __init__(self, running_mode: _Optional[str] = ..., num_workers: _Optional[int] = ...) -> None: ...

class DataflowRunnerConfig(_message.Message):
    __slots__ = ("project", "region", "temp_location", "staging_location", "worker_image", "machine_type", "num_workers", "max_num_workers", "disk_size_gb", "autoscaling_algorithm", "experiments", "labels", "service_account_email", "max_run_time_seconds", "worker_accelerator", "resource_hints")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ResourceHintsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    TEMP_LOCATION_FIELD_NUMBER: _ClassVar[int]
    STAGING_LOCATION_FIELD_NUMBER: _ClassVar[int]
    WORKER_IMAGE_FIELD_NUMBER: _ClassVar[int]
    MACHINE_TYPE_FIELD_NUMBER: _ClassVar[int]
    NUM_WORKERS_FIELD_NUMBER: _ClassVar[int]
    MAX_NUM_WORKERS_FIELD_NUMBER: _ClassVar[int]
    DISK_SIZE_GB_FIELD_NUMBER: _ClassVar[int]
    AUTOSCALING_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENTS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_EMAIL_FIELD_NUMBER: _ClassVar[int]
    MAX_RUN_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WORKER_ACCELERATOR_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_HINTS_FIELD_NUMBER: _ClassVar[int]
    project: str
    region: str
    temp_location: str
    staging_location: str
    worker_image: str
    machine_type: str
    num_workers: int
    max_num_workers: int
    disk_size_gb: int
    autoscaling_algorithm: str
    experiments: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    service_account_email: str
    max_run_time_seconds: int
    worker_accelerator: str
    resource_hints: _containers.ScalarMap[str, str]
    def __init__(self, project: _Optional[str] = ..., region: _Optional[str] = ..., temp_location: _Optional[str] = ..., staging_location: _Optional[str] = ..., worker_image: _Optional[str] = ..., machine_type: _Optional[str] = ..., num_workers: _Optional[int] = ..., max_num_workers: _Optional[int] = ..., disk_size_gb: _Optional[int] = ..., autoscaling_algorithm: _Optional[str] = ..., experiments: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., service_account_email: _Optional[str] = ..., max_run_time_seconds: _Optional[int] = ..., worker_accelerator: _Optional[str] = ..., resource_hints: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StorageConfig(_message.Message):
    __slots__ = ("root", "model_root")
    ROOT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ROOT_FIELD_NUMBER: _ClassVar[int]
    root: str
    model_root: str
    def __init__(self, root: _Optional[str] = ..., model_root: _Optional[str] = ...) -> None: ...

class DuckDbWarehouseConfig(_message.Message):
    __slots__ = ("path", "memory_limit_mb", "temp_directory")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MEMORY_LIMIT_MB_FIELD_NUMBER: _ClassVar[int]
    TEMP_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    path: str
    memory_limit_mb: int
    temp_directory: str
    def __init__(self, path: _Optional[str] = ..., memory_limit_mb: _Optional[int] = ..., temp_directory: _Optional[str] = ...) -> None: ...

class BigQueryWarehouseConfig(_message.Message):
    __slots__ = ("project", "dataset", "location", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    project: str
    dataset: str
    location: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, project: _Optional[str] = ..., dataset: _Optional[str] = ..., location: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ResourceConfig(_message.Message):
    __slots__ = ("storage", "local_runner", "dataflow_runner", "duckdb", "bigquery", "allowed_class_prefixes", "max_model_bytes", "device", "share_model_across_processes")
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_RUNNER_FIELD_NUMBER: _ClassVar[int]
    DATAFLOW_RUNNER_FIELD_NUMBER: _ClassVar[int]
    DUCKDB_FIELD_NUMBER: _ClassVar[int]
    BIGQUERY_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_CLASS_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    MAX_MODEL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SHARE_MODEL_ACROSS_PROCESSES_FIELD_NUMBER: _ClassVar[int]
    storage: StorageConfig
    local_runner: LocalRunnerConfig
    dataflow_runner: DataflowRunnerConfig
    duckdb: DuckDbWarehouseConfig
    bigquery: BigQueryWarehouseConfig
    allowed_class_prefixes: _containers.RepeatedScalarFieldContainer[str]
    max_model_bytes: int
    device: str
    share_model_across_processes: bool
    def __init__(self, storage: _Optional[_Union[StorageConfig, _Mapping]] = ..., local_runner: _Optional[_Union[LocalRunnerConfig, _Mapping]] = ..., dataflow_runner: _Optional[_Union[DataflowRunnerConfig, _Mapping]] = ..., duckdb: _Optional[_Union[DuckDbWarehouseConfig, _Mapping]] = ..., bigquery: _Optional[_Union[BigQueryWarehouseConfig, _Mapping]] = ..., allowed_class_prefixes: _Optional[_Iterable[str]] = ..., max_model_bytes: _Optional[int] = ..., device: _Optional[str] = ..., share_model_across_processes: bool = ...) -> None: ...
