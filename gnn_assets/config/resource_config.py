"""Resource configs: what a deployment runs on (storage roots, Beam runner, warehouse).

One YAML per deployment under resources/; ${VAR} and ${VAR:-default} are read from the
environment so that no project ids or credentials live in the repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gnn_assets import storage
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.layout import StorageLayout
from gnn_assets.config.yaml_proto import camel_case, load_yaml
from gnn_assets.proto.resource_config_pb2 import ResourceConfig

_RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")


@dataclass(frozen=True)
class Resources:
    """A validated resource config with every path made absolute."""

    uri: str
    proto: ResourceConfig
    layout: StorageLayout
    model_root: str

    @property
    def runner_kind(self) -> str:
        return self.proto.WhichOneof("runner")

    @property
    def warehouse_kind(self) -> str:
        return self.proto.WhichOneof("warehouse")

    @property
    def duckdb_path(self) -> str:
        return storage.resolve(self.proto.duckdb.path or "warehouse.duckdb", self.layout.root)


def load_resource_config(uri: str) -> Resources:
    proto = load_yaml(uri, ResourceConfig(), env=True)
    errors = []
    if not proto.storage.root:
        errors.append("storage.root: required field is missing")
    runner = proto.WhichOneof("runner")
    if runner is None:
        errors.append("one of localRunner or dataflowRunner is required")
    elif runner == "local_runner":
        mode = proto.local_runner.running_mode or "in_memory"
        if mode not in _RUNNING_MODES:
            errors.append(f"localRunner.runningMode: {mode!r} is not one of {', '.join(_RUNNING_MODES)}")
    else:
        for field in ("project", "region", "temp_location"):
            if not getattr(proto.dataflow_runner, field):
                errors.append(f"dataflowRunner.{camel_case(field)}: required field is missing")
    warehouse = proto.WhichOneof("warehouse")
    if warehouse is None:
        errors.append("one of duckdb or bigquery is required")
    elif warehouse == "duckdb" and storage.is_remote(proto.storage.root) and not os.path.isabs(proto.duckdb.path):
        errors.append("duckdb.path: with a remote storage.root, DuckDB needs an absolute local file path")
    elif warehouse == "bigquery":
        for field in ("project", "dataset"):
            if not getattr(proto.bigquery, field):
                errors.append(f"bigquery.{field}: required field is missing")
    if errors:
        raise ConfigError(f"{uri}: " + "; ".join(errors))

    base = uri.rsplit("/", 1)[0] if storage.is_remote(uri) else os.path.dirname(os.path.abspath(uri))
    root = storage.resolve(proto.storage.root, base)
    model_root = storage.resolve(proto.storage.model_root or "models", root)
    return Resources(uri=uri, proto=proto, layout=StorageLayout(root), model_root=model_root)
