"""GiGL's inferencer protocol: a class, named in the config, that holds the model.

The config's inferencerConfig.inferencerClsPath names a class; it is built with the
inferencerArgs (strings, as GiGL passes them), then init_model(config, state_dict) builds and
loads the model and infer_batch(batch, device) runs it on one collated batch; an optional
to(device) moves the model to the configured device.

Nothing here trusts its inputs: the class must come from the deployment's allowed module
prefixes, and a model file is refused (one line) when it is too large, compressed, changed
since it was validated, not a state dict of floating-point tensors, or holds NaN or inf.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from gnn_assets import storage
from gnn_assets.config.resource_config import ModelPolicy
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.errors import UserError
from gnn_assets.graph.collate import CollatedBatch


@dataclass
class InferBatchResults:
    """Per root, in batch order: embeddings [n, d] and, for classification, predictions [n]."""

    embeddings: torch.Tensor | None
    predictions: torch.Tensor | None = None


@dataclass
class LayerwiseModel:
    """What layer-wise inference runs (an inferencer's optional layerwise_model()): module is
    called as module(x, edge_index) on a homogeneous graph, module(x_dict, edge_index_dict) keyed
    by node type and (src, relation, dst) on a typed one, and returns the embeddings (a tensor,
    or a dict by node type); head, for node-based tasks, maps embeddings to class scores, or
    with regression to one value per node."""

    module: torch.nn.Module
    head: torch.nn.Module | None = None
    regression: bool = False

    def predict(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Each node's prediction from its embedding: the class scoring highest, or the head's value."""
        scores = self.head(embeddings)
        return scores.reshape(-1) if self.regression else scores.argmax(dim=-1)


@runtime_checkable
class BaseInferencer(Protocol):
    def init_model(self, config: TaskConfig, state_dict: dict[str, torch.Tensor]) -> None: ...

    def infer_batch(self, batch: CollatedBatch, device: torch.device) -> InferBatchResults: ...


# Optional: `to(device)` moves the inferencer's model to a device (see move_to_device);
# `layerwise_model() -> LayerwiseModel` lets inferenceMode LAYERWISE run it.


class ModelMismatchError(UserError, ValueError):
    """A trained model cannot be loaded into the model its config describes, or is refused."""


# Integer tensors torch itself keeps in a state dict (BatchNorm's counter); every other tensor
# of a trained model is floating point.
_INTEGER_COUNTERS = ("num_batches_tracked",)


def inferencer_class(config: TaskConfig, policy: ModelPolicy):
    """The class inferencerClsPath names, imported only from the deployment's allowed prefixes."""
    path = config.proto.inferencer_config.inferencer_cls_path
    where = f"{config.origin}: inferencerConfig.inferencerClsPath"
    return policy.import_class(path, where, ModelMismatchError, ("init_model", "infer_batch"))


def inferencer_from_config(config: TaskConfig, policy: ModelPolicy) -> BaseInferencer:
    """Build the inferencer class named by inferencerClsPath with inferencerArgs."""
    cls = inferencer_class(config, policy)
    try:
        return cls(**dict(config.proto.inferencer_config.inferencer_args))
    except (TypeError, ValueError) as error:
        raise ModelMismatchError(f"{config.origin}: inferencerConfig.inferencerArgs do not fit {cls.__name__}: {error}") from error


def _check_archive(uri: str, data: bytes, limit: int) -> None:
    """A torch.save file is a zip of stored (uncompressed) entries: refuse anything else before
    torch reads it, so a small compressed file cannot expand to gigabytes in memory."""
    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile as error:
        raise ModelMismatchError(f"trained model {uri} is not a torch.save archive (a zip file): {error}") from error
    compressed = [e.filename for e in entries if e.compress_type != zipfile.ZIP_STORED]
    if compressed:
        raise ModelMismatchError(f"trained model {uri} has compressed entries ({compressed[0]}, ...); torch.save writes none")
    total = sum(e.file_size for e in entries)
    if total > limit:
        raise ModelMismatchError(f"trained model {uri} unpacks to {total:,} bytes, more than the limit {limit:,} (maxModelBytes)")


def _check_tensors(uri: str, state: dict) -> None:
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise ModelMismatchError(f"trained model {uri}: entry {name!r} is a {type(value).__name__}, not a tensor")
        if not value.is_floating_point():
            if name.rsplit(".", 1)[-1] in _INTEGER_COUNTERS and not value.is_complex() and value.dtype != torch.bool:
                continue
            raise ModelMismatchError(f"trained model {uri}: {name} is {value.dtype}; model weights must be floating point")
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ModelMismatchError(f"trained model {uri}: {name} has {bad:,} non-finite values (NaN or inf)")


@dataclass(frozen=True)
class LoadedStateDict:
    tensors: dict[str, torch.Tensor]
    sha256: str
    size_bytes: int


def load_state_dict(uri: str, policy: ModelPolicy, expected_sha256: str | None = None) -> LoadedStateDict:
    """Load tensors only (weights_only=True) after refusing oversized, compressed, changed or
    non-float files; expected_sha256 is the hash recorded when the model was validated."""
    try:
        if not storage.exists(uri):
            raise FileNotFoundError("no such file")
        size = storage.size(uri)
        if size > policy.max_model_bytes:
            raise ModelMismatchError(f"trained model {uri} is {size:,} bytes, more than the limit {policy.max_model_bytes:,} (maxModelBytes)")
        data = storage.read_bytes(uri)
    except (OSError, IOError, IndexError) as error:
        raise ModelMismatchError(f"trained model {uri} cannot be read: {error}") from error
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise ModelMismatchError(
            f"trained model {uri} changed since it was validated (sha256 {digest[:12]}..., validated {expected_sha256[:12]}...); "
            "materialize trained_model again"
        )
    _check_archive(uri, data, policy.max_model_bytes)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises pickle, runtime and zip errors alike for bad files
        raise ModelMismatchError(f"trained model {uri} is not a loadable state dict: {' '.join(str(error).split())[:300]}") from error
    if not isinstance(state, dict):
        raise ModelMismatchError(f"trained model {uri} holds a {type(state).__name__}, not a state dict")
    _check_tensors(uri, state)
    return LoadedStateDict(state, digest, len(data))


@dataclass
class LoadedInferencer:
    inferencer: BaseInferencer
    weights: LoadedStateDict


def load_inferencer(config: TaskConfig, policy: ModelPolicy, expected_sha256: str | None = None) -> LoadedInferencer:
    """The inferencer with its trained weights loaded; raises ModelMismatchError before any job runs."""
    inferencer = inferencer_from_config(config, policy)
    model = load_state_dict(config.trained_model_uri, policy, expected_sha256)
    inferencer.init_model(config, model.tensors)
    return LoadedInferencer(inferencer, model)


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when this machine has it, else the CPU; a CUDA device that is not there is refused."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelMismatchError(f"device {name!r} is configured but this machine has no CUDA device")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ModelMismatchError(f"device {name!r} is configured but this machine has {torch.cuda.device_count()} CUDA devices")
    return device


def move_to_device(inferencer: BaseInferencer, device: torch.device) -> None:
    """Put the inferencer's model on device (its to(device)); one without to() runs on the CPU only."""
    move = getattr(inferencer, "to", None)
    if callable(move):
        move(device)
    elif device.type != "cpu":
        raise ModelMismatchError(f"{type(inferencer).__name__} has no to(device), so it cannot run on {device}")
