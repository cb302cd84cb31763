"""Beam ModelHandler for GNN inferencers: RunInference does the one-model-per-worker sharing
and the standard metrics; this class loads the inferencer and runs a batch."""

from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np
import torch
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from gnn_assets.config.resource_config import ModelPolicy
from gnn_assets.config.task_config import TaskConfig, parse_task_config
from gnn_assets.graph.samples import SampleBatch
from gnn_assets.graph.collate import CollatedBatch, GraphTypes, collate
from gnn_assets.inference.protocol import BaseInferencer, load_inferencer, move_to_device, resolve_device
from gnn_assets.inference.task_specs import graph_types


class DeviceModel:
    """A loaded inferencer on its device, answering with host arrays. This is what a worker holds
    or, with share_across_processes, what one server process per machine holds for all workers
    (Beam's MultiProcessShared): its calls and answers then cross processes, so they are arrays."""

    def __init__(self, inferencer: BaseInferencer, device: torch.device):
        self.inferencer, self.device = inferencer, device

    def predict(self, collated: CollatedBatch) -> tuple[np.ndarray, np.ndarray | None]:
        """Embeddings [roots, dim] and predictions (classes or values, or None), copied back once per batch."""
        with torch.inference_mode():
            results = self.inferencer.infer_batch(collated, self.device)
        embeddings = results.embeddings.detach().to("cpu", torch.float32).numpy()
        predictions = None if results.predictions is None else results.predictions.detach().cpu().numpy()
        return embeddings, predictions


class GnnModelHandler(ModelHandler[SampleBatch, PredictionResult, DeviceModel]):
    """Runs a decoded batch of neighbourhoods through the config's inferencer.

    Batches arrive made (the pipeline reads samples in batches and decodes them together), so
    RunInference uses this handler with_no_batching(). One PredictionResult comes out per
    batch: example = the root node ids, inference = (embeddings [roots, dim], predicted classes
    or None) — whole arrays, so nothing downstream pays per sample.

    Holds the frozen config as text so that the handler pickles to workers without touching
    storage; the model itself is loaded once per worker in load_model, which verifies that the
    file is the one validated before the job (model_sha256) and moves the model to the
    configured device, where every batch follows it. With share_across_processes, the worker
    processes of a machine share one model (one copy on a GPU instead of one per worker).
    torch_threads, when given, is torch's intra-op thread count for the threads that run
    batches (torch keeps it per thread, and Beam may run a worker's bundles on any thread of
    its pool).
    """

    def __init__(
        self,
        frozen_config_yaml: str,
        frozen_config_uri: str,
        root_node_type: str,
        *,
        model_sha256: str,
        policy: ModelPolicy,
        device: str = "auto",
        torch_threads: int | None = None,
        share_across_processes: bool = False,
        role: str = "",
    ):
        # large_model: Beam loads the model once per machine (MultiProcessShared) for all workers.
        super().__init__(large_model=share_across_processes)
        self._config_yaml = frozen_config_yaml
        self._config_uri = frozen_config_uri
        self._root_node_type = root_node_type
        self.role = role  # "" for the job's own model, "champion" for the model it is compared with
        self._model_sha256 = model_sha256
        self._policy = policy
        self._device_name = device
        self._torch_threads = torch_threads
        self._types: GraphTypes | None = None
        self._device: torch.device | None = None

    def _config(self) -> TaskConfig:
        return parse_task_config(self._config_yaml, self._config_uri)

    def device(self) -> torch.device:
        if self._device is None:
            self._device = resolve_device(self._device_name)
        return self._device

    def load_model(self) -> DeviceModel:
        inferencer = load_inferencer(self._config(), self._policy, self._model_sha256).inferencer
        move_to_device(inferencer, self.device())
        return DeviceModel(inferencer, self.device())

    def run_inference(
        self, batch: SampleBatch, model: DeviceModel, inference_args: Optional[dict[str, Any]] = None
    ) -> Iterable[PredictionResult]:
        if self._types is None:
            self._types = graph_types(self._config())
        if self._torch_threads and torch.get_num_threads() != self._torch_threads:
            torch.set_num_threads(self._torch_threads)
        collated = collate(batch, self._types)
        embeddings, predictions = model.predict(collated)
        for name, values in (("embeddings", embeddings), ("predictions", predictions)):
            if values is not None and len(values) != len(batch):
                raise ValueError(f"infer_batch returned {len(values)} {name} for {len(batch)} roots")
        return [PredictionResult(batch.root_node_ids, (embeddings, predictions))]

    def get_num_bytes(self, batch: SampleBatch) -> int:
        return sum(x.nbytes for x in batch.features.values())

    def get_metrics_namespace(self) -> str:
        return metrics_namespace(self._root_node_type, self.role)


def metrics_namespace(node_type: str, role: str = "") -> str:
    """Beam metrics of one root node type's model: gnn_assets.<type>, or gnn_assets.<type>.<role>
    for a second model of the job (its champion)."""
    return f"gnn_assets.{node_type}" + (f".{role}" if role else "")


def rows_written(metrics: dict[str, float], node_type: str, kinds: list[str], role: str = "") -> dict[str, int]:
    """Rows each kind's writer counted for one root node type's model, from a finished job's counters."""
    namespace = metrics_namespace(node_type, role)
    return {kind: int(metrics.get(f"{namespace}/{kind}_rows_written", 0)) for kind in kinds}
