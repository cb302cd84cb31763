"""What the node-based trainers share: the labelled nodes of the supervision type split by the
seed into training and validation, mini-batches of sampled neighbourhoods, an optimizer step per
batch, a validation figure per epoch (higher is better) and early stopping on it. Each task
(classification, regression) says how its labels are checked, what its loss is and what it
reports."""

from __future__ import annotations

import abc
import time

import numpy as np
import torch

from gnn_assets.config.task_config import TaskConfig, TaskKind
from gnn_assets.graph.enumeration import EnumeratedGraph
from gnn_assets.graph.labels import labelled
from gnn_assets.training.protocol import TrainingError, TrainingResult
from gnn_assets.training.sampled import EarlyStopping, SampledTrainer, optimize, report_epoch


class NodeBasedTrainer(SampledTrainer, abc.ABC):
    """trainerArgs: epochs, batch_size, learning_rate, patience, seed, fanout (default: the
    sampler's), validation_fraction (of the labeled nodes, held out by the seed)."""

    task_kind: TaskKind  # the task kind it trains
    figure: str  # the validation figure's name (higher is better)

    def check_labels(self, config: TaskConfig, labels: np.ndarray, inferencer) -> None:
        """Refuse labels the task cannot learn from (one line)."""

    def prepare_targets(self, labels: np.ndarray, training: np.ndarray) -> np.ndarray:
        """What the loss compares the model's output with, per node (all nodes, read at the batch's)."""
        return labels

    @abc.abstractmethod
    def loss(self, inferencer, embeddings: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The training loss of a batch's embedded roots against their targets."""

    @abc.abstractmethod
    def validate(self, inferencer, embeddings: torch.Tensor, truth: np.ndarray) -> float:
        """The validation figure of embedded validation nodes against their labels."""

    @abc.abstractmethod
    def final_metrics(self, labels: np.ndarray, training: np.ndarray, validation: np.ndarray, best: float) -> dict[str, float]:
        """The task's own figures for the final report, besides epochs, counts and seconds."""

    def finish(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The best state as the model file keeps it."""
        return state

    def train(self, config: TaskConfig, graph: EnumeratedGraph, inferencer, device: torch.device, progress) -> TrainingResult:
        if config.task_kind is not self.task_kind:
            raise TrainingError(f"{config.origin}: {type(self).__name__} trains {self.task_kind.value} tasks, not {config.task_kind.value}")
        settings = self.settings
        node_type = config.root_node_types[0]
        labels = graph.labels[node_type]
        labeled = np.flatnonzero(labelled(labels))
        if len(labeled) < 2:
            raise TrainingError(f"graph {config.graph_name!r}: node type {node_type!r} has {len(labeled)} labeled nodes; training needs labels")
        self.check_labels(config, labels, inferencer)
        model, batches = self.prepare(config, graph, inferencer, device)
        rng = np.random.default_rng(settings.seed)
        shuffled = rng.permutation(labeled)
        cut = max(1, int(len(shuffled) * settings.validation_fraction))
        validation, training = np.sort(shuffled[:cut]), shuffled[cut:]
        targets = self.prepare_targets(labels, training)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        stopping, history, started = EarlyStopping(settings.patience), [], time.monotonic()
        model.train()
        for epoch in range(1, settings.epochs + 1):
            order = rng.permutation(training)
            total, count = 0.0, 0
            for start in range(0, len(order), settings.batch_size):
                roots = order[start : start + settings.batch_size]
                embeddings = inferencer.embed(batches.collate(node_type, roots, rng), device)
                loss = self.loss(inferencer, embeddings, torch.from_numpy(targets[roots]).to(device))
                total, count = total + optimize(optimizer, loss) * len(roots), count + len(roots)
            embeddings = self.embed_all(inferencer, batches, node_type, validation, device, rng)
            with torch.no_grad():
                figure = self.validate(inferencer, embeddings, labels[validation])
            history.append(report_epoch(progress, epoch, settings.epochs, total / count, self.figure, figure, started))
            if stopping.update(epoch, figure, model):
                progress(f"stopping early: validation {self.figure} has not improved for {settings.patience} epochs")
                break
        metrics = {
            **self.final_metrics(labels, training, validation, stopping.best),
            "best_epoch": stopping.best_epoch,
            "epochs": len(history),
            "training_nodes": len(training),
            "validation_nodes": len(validation),
            "seconds": round(time.monotonic() - started, 2),
        }
        return TrainingResult(self.finish(stopping.best_state), metrics, history)
