"""Resource configs: what a deployment runs on (storage roots, Beam runner, warehouse).

One YAML per deployment under resources/; ${VAR} and ${VAR:-default} are read from the
environment so that no project ids or credentials live in the repository.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from gnn_assets import storage
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.layout import StorageLayout
from gnn_assets.config.yaml_proto import camel_case, load_yaml, parse_yaml
from gnn_assets.errors import shorten
from gnn_assets.proto.resource_config_pb2 import ResourceConfig

_RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")
_DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")
MIN_DUCKDB_MEMORY_MB = 64  # below this DuckDB fails its own queries (seen at 1 and 16 MB) with a traceback
_CLASS_PREFIX = re.compile(r"([A-Za-z_][A-Za-z0-9_]*\.)+")
DEFAULT_ALLOWED_CLASS_PREFIXES = ("gnn_assets.",)
DEFAULT_MAX_MODEL_BYTES = 2 << 30
# Modules that run a program when imported (or load a whole code location): never class paths.
ENTRY_POINT_MODULES = ("gnn_assets.cli", "gnn_assets.demo", "gnn_assets.definitions", "gnn_assets.defs", "gnn_assets.lib")


@dataclass(frozen=True)
class ModelPolicy:
    """What a deployment trusts: where inferencer classes may come from, how large a model file may be."""

    allowed_class_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_CLASS_PREFIXES
    max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES

    def check_class_path(self, path: str, where: str) -> str:
        """Refuse a class path outside the allowed module prefixes, before anything is imported."""
        if not any(path.startswith(prefix) for prefix in self.allowed_class_prefixes):
            raise ConfigError(
                f"{where}: {path!r} is outside the allowed module prefixes {list(self.allowed_class_prefixes)} "
                "(resource config: allowedClassPrefixes)"
            )
        module_name = path.rpartition(".")[0]
        if any(part == "__main__" for part in module_name.split(".")) or any(
            module_name == entry or module_name.startswith(entry + ".") for entry in ENTRY_POINT_MODULES
        ):
            raise ConfigError(f"{where}: {path!r} is in an entry-point module, which runs a program when imported")
        return path

    def import_class(self, path: str, where: str, error: type[Exception], methods: tuple[str, ...]) -> type:
        """The class a checked class path names, defined (not just imported) in an allowed module
        and having `methods`; anything else is refused with `error`."""
        module_name, _, class_name = self.check_class_path(path, where).rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError) as failure:
            raise error(f"{where} {path!r} cannot be imported: {failure}") from failure
        if inspect.isclass(cls) and not any(cls.__module__.startswith(prefix) for prefix in self.allowed_class_prefixes):
            raise error(f"{where}: {path} is {cls.__module__}.{cls.__qualname__}, defined outside the allowed module prefixes")
        if not inspect.isclass(cls) or not all(callable(getattr(cls, m, None)) for m in methods):
            raise error(f"{where}: {path} is not a class with {' and '.join(methods)}")
        return cls


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
    def model_policy(self) -> ModelPolicy:
        return ModelPolicy(
            tuple(self.proto.allowed_class_prefixes) or DEFAULT_ALLOWED_CLASS_PREFIXES,
            self.proto.max_model_bytes or DEFAULT_MAX_MODEL_BYTES,
        )

    @property
    def device(self) -> str:
        """'auto', 'cpu', 'cuda' or 'cuda:N' (validated)."""
        return self.proto.device or "auto"

    @property
    def share_model_across_processes(self) -> bool:
        """As configured; by default on a configured CUDA device (a GPU holds one copy for all workers)."""
        if self.proto.HasField("share_model_across_processes"):
            return self.proto.share_model_across_processes
        return self.device.startswith("cuda")

    @property
    def duckdb_path(self) -> str:
        return storage.resolve(self.proto.duckdb.path or "warehouse.duckdb", self.layout.root)

    @property
    def duckdb_temp_directory(self) -> str:
        """Where DuckDB spills (duckdb.tempDirectory, relative to the storage root); "" for DuckDB's default."""
        folder = self.proto.duckdb.temp_directory
        return storage.resolve(folder, self.layout.root) if folder else ""


def load_resource_config(uri: str, runner_overrides: Mapping[str, Any] | None = None) -> Resources:
    """runner_overrides: fields of the deployment's runner (localRunner or dataflowRunner, as in
    the file) that one task sets otherwise, e.g. {"maxNumWorkers": 200}; they refine the runner,
    never switch it, and are validated with the rest."""
    proto = load_yaml(uri, ResourceConfig(), env=True)
    if runner_overrides:
        _override_runner(proto, runner_overrides, uri)
    errors = []
    if not proto.storage.root:
        errors.append("storage.root: required field is missing")
    runner = proto.WhichOneof("runner")
    if runner is None:
        errors.append("one of localRunner or dataflowRunner is required")
    elif runner == "local_runner":
        mode = proto.local_runner.running_mode or "in_memory"
        if mode not in _RUNNING_MODES:
            errors.append(f"localRunner.runningMode: {shorten(mode)!r} is not one of {', '.join(_RUNNING_MODES)}")
    else:
        for field in ("project", "region", "temp_location"):
            if not getattr(proto.dataflow_runner, field):
                errors.append(f"dataflowRunner.{camel_case(field)}: required field is missing")
    warehouse = proto.WhichOneof("warehouse")
    if warehouse is None:
        errors.append("one of duckdb or bigquery is required")
    elif warehouse == "duckdb" and storage.is_remote(proto.storage.root) and not os.path.isabs(proto.duckdb.path):
        errors.append("duckdb.path: with a remote storage.root, DuckDB needs an absolute local file path")
    if proto.duckdb.temp_directory and (
        storage.is_remote(proto.duckdb.temp_directory)
        or (storage.is_remote(proto.storage.root) and not os.path.isabs(proto.duckdb.temp_directory))
    ):
        errors.append("duckdb.tempDirectory: DuckDB spills to a local folder (an absolute path when storage.root is remote)")
    elif warehouse == "bigquery":
        for field in ("project", "dataset"):
            if not getattr(proto.bigquery, field):
                errors.append(f"bigquery.{field}: required field is missing")
    for prefix in proto.allowed_class_prefixes:
        if not _CLASS_PREFIX.fullmatch(prefix):
            errors.append(f"allowedClassPrefixes: {shorten(prefix)!r} is not a module prefix ending in '.' (e.g. 'my_models.')")
    if proto.device and not _DEVICE.fullmatch(proto.device):
        errors.append(f"device: {shorten(proto.device)!r} is not one of auto, cpu, cuda, cuda:N")
    if warehouse == "duckdb" and 0 < proto.duckdb.memory_limit_mb < MIN_DUCKDB_MEMORY_MB:
        errors.append(f"duckdb.memoryLimitMb: {proto.duckdb.memory_limit_mb} is below the {MIN_DUCKDB_MEMORY_MB} MB DuckDB needs to run its queries (0: DuckDB's default)")
    if errors:
        raise ConfigError(f"{uri}: " + "; ".join(errors))

    base = uri.rsplit("/", 1)[0] if storage.is_remote(uri) else os.path.dirname(os.path.abspath(uri))
    root = storage.resolve(proto.storage.root, base)
    model_root = storage.resolve(proto.storage.model_root or "models", root)
    return Resources(uri=uri, proto=proto, layout=StorageLayout(root), model_root=model_root)


def _override_runner(proto: ResourceConfig, overrides: Mapping[str, Any], uri: str) -> None:
    runner = proto.WhichOneof("runner") or "local_runner"
    override = getattr(parse_yaml(yaml.safe_dump({camel_case(runner): dict(overrides)}), ResourceConfig(), f"{uri} with runner overrides"), runner)
    target = getattr(proto, runner)
    for field, _ in override.ListFields():
        target.ClearField(field.name)  # replaced, a list or a map too, not appended to
    target.MergeFrom(override)
