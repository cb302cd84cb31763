"""Node classification: cross-entropy on the labeled nodes in mini-batches of sampled
neighbourhoods, a seeded validation split, early stopping on validation accuracy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from gnn_assets.config.task_config import TaskConfig, TaskKind
from gnn_assets.graph.labels import is_values, labelled
from gnn_assets.training.node_based import NodeBasedTrainer
from gnn_assets.training.protocol import TrainingError


class NodeClassificationTrainer(NodeBasedTrainer):
    task_kind = TaskKind.NODE_CLASSIFICATION
    figure = "accuracy"

    def check_labels(self, config: TaskConfig, labels: np.ndarray, inferencer) -> None:
        if is_values(labels):
            raise TrainingError(
                f"graph {config.graph_name!r}: the labels are floating numbers (values); a classification task needs integer "
                "classes (or set gnnAssetsConfig.regression for node regression)"
            )
        largest = labels[labelled(labels)].max()
        if largest >= inferencer.num_classes:
            raise TrainingError(f"graph {config.graph_name!r}: label {largest} does not fit num_classes={inferencer.num_classes}")

    def loss(self, inferencer, embeddings: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(inferencer.scores(embeddings), targets)

    def validate(self, inferencer, embeddings: torch.Tensor, truth: np.ndarray) -> float:
        predicted = inferencer.scores(embeddings).argmax(-1).cpu().numpy()
        return float((predicted == truth).mean())

    def final_metrics(self, labels: np.ndarray, training: np.ndarray, validation: np.ndarray, best: float) -> dict[str, float]:
        majority = np.bincount(labels[training]).argmax()
        return {"validation_accuracy": best, "validation_majority_baseline": float((labels[validation] == majority).mean())}
