"""GiGL's trainer component: trainerConfig.trainerClsPath names a class, built with the
trainerArgs (strings, as GiGL passes them), whose train(config, graph, inferencer, device,
progress) fits the inferencer's model on the enumerated graph and returns its state dict with
its metrics. The model trained is the one the inferencer builds (init_model then loads the
result), so a trained file always fits its task's inferencer.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable

import torch

from gnn_assets import storage
from gnn_assets.config.resource_config import ModelPolicy
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.errors import UserError, shorten
from gnn_assets.graph.enumeration import EnumeratedGraph


class TrainingError(UserError, ValueError):
    """A trainer that cannot be built or run as configured."""


@dataclass
class TrainingResult:
    state_dict: dict[str, torch.Tensor]
    metrics: dict[str, float]  # the final figures (validation quality, epochs, seconds)
    history: list[dict[str, float]] = field(default_factory=list)  # one entry per epoch: loss, validation


@runtime_checkable
class BaseTrainer(Protocol):
    def train(
        self, config: TaskConfig, graph: EnumeratedGraph, inferencer, device: torch.device, progress: Callable[[str], None]
    ) -> TrainingResult: ...


def has_trainer(config: TaskConfig) -> bool:
    return bool(config.proto.trainer_config.trainer_cls_path)


def trainer_from_config(config: TaskConfig, policy: ModelPolicy) -> BaseTrainer:
    """The class trainerClsPath names, imported only from the deployment's allowed prefixes and
    built with trainerArgs."""
    where = f"{config.origin}: trainerConfig.trainerClsPath"
    path = config.proto.trainer_config.trainer_cls_path
    cls = policy.import_class(path, where, TrainingError, ("train",))
    try:
        return cls(**dict(config.proto.trainer_config.trainer_args))
    except (TypeError, ValueError) as error:
        raise TrainingError(f"{config.origin}: trainerConfig.trainerArgs do not fit {cls.__name__}: {error}") from error


def state_dict_bytes(state_dict: dict[str, torch.Tensor]) -> bytes:
    """torch.save of tensors only (contiguous CPU copies): what a model file holds."""
    buffer = io.BytesIO()
    torch.save({name: tensor.detach().cpu().contiguous().clone() for name, tensor in state_dict.items()}, buffer)
    return buffer.getvalue()


def write_training_report(directory: str, result: TrainingResult, curve_png: bytes) -> dict[str, str]:
    """metrics.json (final figures and per-epoch history) and curve.png under directory."""
    metrics_uri, curve_uri = storage.join(directory, "metrics.json"), storage.join(directory, "curve.png")
    storage.write_text(metrics_uri, json.dumps({"metrics": result.metrics, "history": result.history}, indent=2, sort_keys=True))
    storage.write_bytes(curve_uri, curve_png)
    return {"metrics": metrics_uri, "curve": curve_uri}


MAX_INT_ARG = 1_000_000_000  # more epochs, hops or rows than any training finishes


def int_arg(name: str, value: str, minimum: int = 1, maximum: int = MAX_INT_ARG) -> int:
    try:
        number = int(value) if len(value) <= 20 else None
    except ValueError:
        number = None
    if number is None:
        raise ValueError(f"trainerArgs.{name} must be an integer, got {shorten(value)!r}") from None
    if number < minimum:
        raise ValueError(f"trainerArgs.{name} must be at least {minimum}, got {number}")
    if number > maximum:
        raise ValueError(f"trainerArgs.{name} must be at most {maximum:,}, got {number}")
    return number


def float_arg(name: str, value: str, low: float = 0.0, high: float = float("inf")) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"trainerArgs.{name} must be a number, got {shorten(value)!r}") from None
    if not low < number <= high:
        raise ValueError(f"trainerArgs.{name} must be in ({low:g}, {high:g}], got {number:g}")
    return number
