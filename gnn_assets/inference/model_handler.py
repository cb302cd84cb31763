"""Beam ModelHandler for GNN inferencers: RunInference does the batching, the one-model-per-
worker sharing and the standard metrics; this class loads the inferencer and runs a batch."""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import numpy as np
import torch
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from gnn_assets.config.task_config import TaskConfig, parse_task_config
from gnn_assets.graph.codec import Neighborhood
from gnn_assets.graph.collate import collate
from gnn_assets.inference.protocol import BaseInferencer, load_inferencer
from gnn_assets.inference.task_specs import graph_types


class GnnModelHandler(ModelHandler[Neighborhood, PredictionResult, BaseInferencer]):
    """Runs a batch of decoded neighbourhoods through the config's inferencer.

    Holds the frozen config as text so that the handler pickles to workers without touching
    storage; the model itself is loaded once per worker process in load_model.
    """

    def __init__(self, frozen_config_yaml: str, frozen_config_uri: str, root_node_type: str, max_batch_size: int):
        super().__init__()
        self._config_yaml = frozen_config_yaml
        self._config_uri = frozen_config_uri
        self._root_node_type = root_node_type
        self._max_batch_size = max_batch_size
        self._types = None

    def _config(self) -> TaskConfig:
        return parse_task_config(self._config_yaml, self._config_uri)

    def load_model(self) -> BaseInferencer:
        return load_inferencer(self._config())

    def run_inference(
        self, batch: Sequence[Neighborhood], model: BaseInferencer, inference_args: Optional[dict[str, Any]] = None
    ) -> Iterable[PredictionResult]:
        if self._types is None:
            self._types = graph_types(self._config())
        collated = collate(batch, self._types)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        results = model.infer_batch(collated, device)
        embeddings = results.embeddings.detach().to("cpu", torch.float32).numpy()
        predictions = None if results.predictions is None else results.predictions.detach().cpu().numpy().astype(np.int64)
        for i, sample in enumerate(batch):
            yield PredictionResult(sample, (embeddings[i], None if predictions is None else int(predictions[i])))

    def get_num_bytes(self, batch: Sequence[Neighborhood]) -> int:
        return sum(x.nbytes for s in batch for x in s.features.values())

    def get_metrics_namespace(self) -> str:
        return metrics_namespace(self._root_node_type)

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {"min_batch_size": 1, "max_batch_size": self._max_batch_size}


def metrics_namespace(node_type: str) -> str:
    return f"gnn_assets.{node_type}"
