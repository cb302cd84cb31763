"""GiGL's inferencer protocol: a class, named in the config, that holds the model.

The config's inferencerConfig.inferencerClsPath names a class; it is built with the
inferencerArgs (strings, as GiGL passes them), then init_model(config, state_dict) builds and
loads the model and infer_batch(batch, device) runs it on one collated batch.
"""

from __future__ import annotations

import importlib
import io
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from gnn_assets import storage
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.collate import CollatedBatch


@dataclass
class InferBatchResults:
    """Per root, in batch order: embeddings [n, d] and, for classification, predictions [n]."""

    embeddings: torch.Tensor | None
    predictions: torch.Tensor | None = None


@runtime_checkable
class BaseInferencer(Protocol):
    def init_model(self, config: TaskConfig, state_dict: dict[str, torch.Tensor]) -> None: ...

    def infer_batch(self, batch: CollatedBatch, device: torch.device) -> InferBatchResults: ...


class ModelMismatchError(ValueError):
    """A trained model cannot be loaded into the model its config describes."""


def inferencer_from_config(config: TaskConfig) -> BaseInferencer:
    """Build the inferencer class named by inferencerClsPath with inferencerArgs."""
    path = config.proto.inferencer_config.inferencer_cls_path
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ModelMismatchError(f"{config.uri}: inferencerConfig.inferencerClsPath {path!r} cannot be imported: {error}") from error
    try:
        inferencer = cls(**dict(config.proto.inferencer_config.inferencer_args))
    except (TypeError, ValueError) as error:
        raise ModelMismatchError(f"{config.uri}: inferencerConfig.inferencerArgs do not fit {path}: {error}") from error
    if not isinstance(inferencer, BaseInferencer):
        raise ModelMismatchError(f"{config.uri}: {path} does not implement init_model and infer_batch")
    return inferencer


def load_state_dict(uri: str) -> dict[str, torch.Tensor]:
    """Load tensors only (weights_only=True): a model file cannot run code on load."""
    try:
        data = storage.read_bytes(uri)
    except (OSError, IOError) as error:
        raise ModelMismatchError(f"trained model {uri} cannot be read: {error}") from error
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises pickle, runtime and zip errors alike for bad files
        raise ModelMismatchError(f"trained model {uri} is not a loadable state dict: {error}") from error
    if not isinstance(state, dict):
        raise ModelMismatchError(f"trained model {uri} holds a {type(state).__name__}, not a state dict")
    return state


def load_inferencer(config: TaskConfig) -> BaseInferencer:
    """The inferencer with its trained weights loaded; raises ModelMismatchError before any job runs."""
    inferencer = inferencer_from_config(config)
    inferencer.init_model(config, load_state_dict(config.trained_model_uri))
    return inferencer
