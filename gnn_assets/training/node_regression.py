"""Node regression: squared error on the labelled nodes' values in mini-batches of sampled
neighbourhoods, a seeded validation split, early stopping on validation R^2.

The model learns the values standardized by the training labels' mean and spread (a price in
the thousands trains as well as a score near one); the head is then rescaled so the model file
predicts the values themselves, exactly: value = spread * (w . h + b) + mean is a linear head."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from gnn_assets.config.task_config import TaskConfig, TaskKind
from gnn_assets.graph.labels import is_values
from gnn_assets.training.evaluation import r_squared
from gnn_assets.training.node_based import NodeBasedTrainer
from gnn_assets.training.protocol import TrainingError


class NodeRegressionTrainer(NodeBasedTrainer):
    task_kind = TaskKind.NODE_REGRESSION
    figure = "r2"

    def check_labels(self, config: TaskConfig, labels: np.ndarray, inferencer) -> None:
        if not is_values(labels):
            raise TrainingError(
                f"graph {config.graph_name!r}: the labels are integers (classes); a regression task needs floating values "
                "(write the label column as a floating type, NULL where a node has none)"
            )

    def prepare_targets(self, labels: np.ndarray, training: np.ndarray) -> np.ndarray:
        self.mean = float(labels[training].mean())
        spread = float(labels[training].std())
        self.spread = spread if spread > 0 else 1.0
        return ((labels - self.mean) / self.spread).astype(np.float32)

    def loss(self, inferencer, embeddings: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(inferencer.values(embeddings), targets)

    def validate(self, inferencer, embeddings: torch.Tensor, truth: np.ndarray) -> float:
        predicted = inferencer.values(embeddings).double().cpu().numpy() * self.spread + self.mean
        return r_squared(predicted, truth)

    def final_metrics(self, labels: np.ndarray, training: np.ndarray, validation: np.ndarray, best: float) -> dict[str, float]:
        truth = labels[validation]
        return {
            "validation_r2": best,
            "validation_rmse": float(np.sqrt(max(0.0, 1.0 - best) * truth.var())),
            "validation_mean_baseline_rmse": float(np.sqrt(np.mean((truth - labels[training].mean()) ** 2))),
        }

    def finish(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = dict(state)
        out["head.weight"] = state["head.weight"] * self.spread
        out["head.bias"] = state["head.bias"] * self.spread + self.mean
        return out
