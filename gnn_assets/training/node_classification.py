"""Node classification: cross-entropy on the labeled nodes in mini-batches of sampled
neighbourhoods, a seeded validation split, early stopping on validation accuracy."""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from gnn_assets.config.task_config import TaskConfig, TaskKind
from gnn_assets.graph.enumeration import EnumeratedGraph
from gnn_assets.training.protocol import TrainingError, TrainingResult
from gnn_assets.training.sampled import EarlyStopping, SampledTrainer, optimize, report_epoch


class NodeClassificationTrainer(SampledTrainer):
    """trainerArgs: epochs, batch_size, learning_rate, patience, seed, fanout (default: the
    sampler's), validation_fraction (of the labeled nodes, held out by the seed)."""

    def train(self, config: TaskConfig, graph: EnumeratedGraph, inferencer, device: torch.device, progress) -> TrainingResult:
        if config.task_kind is not TaskKind.NODE_CLASSIFICATION:
            raise TrainingError(f"{config.origin}: NodeClassificationTrainer needs a nodeBasedTaskMetadata task")
        settings = self.settings
        node_type = config.root_node_types[0]
        labels = graph.labels[node_type]
        labeled = np.flatnonzero(labels >= 0)
        if len(labeled) < 2:
            raise TrainingError(f"graph {config.graph_name!r}: node type {node_type!r} has {len(labeled)} labeled nodes; training needs labels")
        if labels.max() >= inferencer.num_classes:
            raise TrainingError(f"graph {config.graph_name!r}: label {labels.max()} does not fit num_classes={inferencer.num_classes}")
        model, batches = self.prepare(config, graph, inferencer, device)
        rng = np.random.default_rng(settings.seed)
        shuffled = rng.permutation(labeled)
        cut = max(1, int(len(shuffled) * settings.validation_fraction))
        validation, training = np.sort(shuffled[:cut]), shuffled[cut:]
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        stopping, history, started = EarlyStopping(settings.patience), [], time.monotonic()
        model.train()
        for epoch in range(1, settings.epochs + 1):
            order = rng.permutation(training)
            total, count = 0.0, 0
            for start in range(0, len(order), settings.batch_size):
                roots = order[start : start + settings.batch_size]
                batch = batches.collate(node_type, roots, rng)
                scores = inferencer.scores(inferencer.embed(batch, device))
                loss = F.cross_entropy(scores, torch.from_numpy(labels[roots]).to(device))
                total, count = total + optimize(optimizer, loss) * len(roots), count + len(roots)
            embeddings = self.embed_all(inferencer, batches, node_type, validation, device, rng)
            with torch.no_grad():
                predicted = inferencer.scores(embeddings).argmax(-1).cpu().numpy()
            accuracy = float((predicted == labels[validation]).mean())
            history.append(report_epoch(progress, epoch, settings.epochs, total / count, "accuracy", accuracy, started))
            if stopping.update(epoch, accuracy, model):
                progress(f"stopping early: validation accuracy has not improved for {settings.patience} epochs")
                break
        majority = np.bincount(labels[training]).argmax()
        metrics = {
            "validation_accuracy": stopping.best,
            "validation_majority_baseline": float((labels[validation] == majority).mean()),
            "best_epoch": stopping.best_epoch,
            "epochs": len(history),
            "training_nodes": len(training),
            "validation_nodes": len(validation),
            "seconds": round(time.monotonic() - started, 2),
        }
        return TrainingResult(stopping.best_state, metrics, history)
