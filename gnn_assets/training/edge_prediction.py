"""Edge classification and edge regression (linkBasedTaskMetadata): the labelled edges of the
supervision edge types (the graph's edge labels, read where the source lies: graph/edge_labels.py),
a seeded validation split per edge type, mini-batches of edges whose two ends are embedded from
their sampled neighbourhoods and scored by the task's decoder; cross-entropy or squared error,
early stopping on validation accuracy or R^2 (averaged over the edge types).

Regression learns the values standardized by the training labels' mean and spread, then rescales
the decoder's last linear layer so that the model file predicts the values themselves (a dot
product decoder has no layer to rescale: it learns the values as they are)."""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.edge_labels import EdgeLabels
from gnn_assets.graph.enumerated_layout import edge_type_name
from gnn_assets.graph.enumeration import EnumeratedGraph
from gnn_assets.training.evaluation import r_squared
from gnn_assets.training.protocol import TrainingError, TrainingResult, int_arg
from gnn_assets.training.sampled import EarlyStopping, SampledBatches, SampledTrainer, optimize, report_epoch

_LAST_LAYER = "decoder.2"  # EdgePredictor's MLP: Linear, ReLU, Linear
MAX_VALIDATION_EDGES = 2000  # per edge type: every epoch embeds their ends


class EdgeTrainer(SampledTrainer):
    """trainerArgs: epochs, batch_size (edges), learning_rate, patience, seed, fanout (default: the
    sampler's), validation_fraction (of each edge type's labelled edges, held out by the seed; at
    most MAX_VALIDATION_EDGES of them), edges_per_epoch (training edges drawn per epoch and edge type; default all)."""

    def __init__(self, edges_per_epoch: str = "", **args: str):
        super().__init__(**args)
        self.edges_per_epoch = int_arg("edges_per_epoch", edges_per_epoch) if edges_per_epoch else None

    def train(self, config: TaskConfig, graph: EnumeratedGraph, inferencer, device: torch.device, progress) -> TrainingResult:
        if not config.task_kind.is_edge_based:
            raise TrainingError(f"{config.origin}: EdgeTrainer trains edge tasks (taskMetadata.linkBasedTaskMetadata), not {config.task_kind.value}")
        if not callable(getattr(inferencer, "edge_scores", None)):
            raise TrainingError(f"{config.origin}: {type(inferencer).__name__} scores no edges; EdgeTrainer trains EdgeTaskSpec's models")
        regression = config.task_kind.is_regression
        settings = self.settings
        labelled = {key: graph.edge_labels.get(key) for key in config.supervision_edge_types}
        for key, found in labelled.items():
            if found is None or len(found) < 2:
                raise TrainingError(f"graph {config.graph_name!r}: {edge_type_name(key)} has {0 if found is None else len(found)} labelled edges; training needs labels")
            if not regression and found.labels.max() >= inferencer.num_classes:
                raise TrainingError(f"graph {config.graph_name!r}: edge label {found.labels.max()} does not fit num_classes={inferencer.num_classes}")
        model, batches = self.prepare(config, graph, inferencer, device)
        rng = np.random.default_rng(settings.seed)
        splits = {}
        for key, found in labelled.items():
            shuffled = rng.permutation(len(found))
            cut = max(1, min(int(len(found) * settings.validation_fraction), MAX_VALIDATION_EDGES))
            splits[key] = (np.sort(shuffled[:cut]), shuffled[cut:])
        training_labels = {key: labelled[key].labels[training] for key, (_, training) in splits.items()}
        self.mean, self.spread = 0.0, 1.0
        if regression and inferencer.decoder == "mlp":
            every = np.concatenate(list(training_labels.values()))
            self.mean, self.spread = float(every.mean()), float(every.std()) or 1.0
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        stopping, history, started = EarlyStopping(settings.patience), [], time.monotonic()
        figure_name = "r2" if regression else "accuracy"
        model.train()
        for epoch in range(1, settings.epochs + 1):
            total, count = 0.0, 0
            for key, (_, training) in splits.items():
                order = rng.permutation(training)[: self.edges_per_epoch]
                for start in range(0, len(order), settings.batch_size):
                    edges = order[start : start + settings.batch_size]
                    scores = self._scores(inferencer, batches, key, labelled[key], edges, device, rng)
                    wanted = torch.from_numpy(labelled[key].labels[edges]).to(device)
                    if regression:
                        loss = F.mse_loss(scores.reshape(-1), ((wanted - self.mean) / self.spread).float())
                    else:
                        loss = F.cross_entropy(scores, wanted)
                    total, count = total + optimize(optimizer, loss) * len(edges), count + len(edges)
            figures = {key: self._validate(inferencer, batches, key, labelled[key], validation, regression, device, rng) for key, (validation, _) in splits.items()}
            figure = float(np.mean(list(figures.values())))
            history.append(report_epoch(progress, epoch, settings.epochs, total / count, figure_name, figure, started))
            if stopping.update(epoch, figure, model):
                progress(f"stopping early: validation {figure_name} has not improved for {settings.patience} epochs")
                break
        metrics = {f"validation_{figure_name}": stopping.best, **self._baselines(labelled, splits, training_labels, regression, stopping.best)}
        metrics.update(
            best_epoch=stopping.best_epoch,
            epochs=len(history),
            training_edges=sum(len(t) for _, t in splits.values()),
            validation_edges=sum(len(v) for v, _ in splits.values()),
            seconds=round(time.monotonic() - started, 2),
        )
        return TrainingResult(self._rescaled(stopping.best_state), metrics, history)

    def _scores(self, inferencer, batches: SampledBatches, key, found: EdgeLabels, edges: np.ndarray, device, rng) -> torch.Tensor:
        """The decoder's output for some labelled edges (rows of found), ends embedded from samples."""
        ends = []
        for node_type, ids in ((key[0], found.src[edges]), (key[2], found.dst[edges])):
            unique, inverse = np.unique(ids, return_inverse=True)
            ends.append(inferencer.embed(batches.collate(node_type, unique, rng), device)[torch.from_numpy(inverse).to(device)])
        return inferencer.edge_scores(*ends)

    def _validate(self, inferencer, batches, key, found: EdgeLabels, validation: np.ndarray, regression: bool, device, rng) -> float:
        inferencer.model.eval()
        with torch.no_grad():
            scores = torch.cat([
                self._scores(inferencer, batches, key, found, validation[start : start + self.settings.batch_size], device, rng)
                for start in range(0, len(validation), self.settings.batch_size)
            ])  # fmt: skip
        inferencer.model.train()
        truth = found.labels[validation]
        if regression:
            return r_squared(scores.reshape(-1).double().cpu().numpy() * self.spread + self.mean, truth)
        return float((scores.argmax(-1).cpu().numpy() == truth).mean())

    def _baselines(self, labelled, splits, training_labels, regression: bool, best: float) -> dict[str, float]:
        truth = np.concatenate([labelled[key].labels[validation] for key, (validation, _) in splits.items()])
        every = np.concatenate(list(training_labels.values()))
        if regression:
            return {
                "validation_rmse": float(np.sqrt(max(0.0, 1.0 - best) * truth.var())),
                "validation_mean_baseline_rmse": float(np.sqrt(np.mean((truth - every.mean()) ** 2))),
            }
        return {"validation_majority_baseline": float((truth == np.bincount(every).argmax()).mean())}

    def _rescaled(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if (self.mean, self.spread) == (0.0, 1.0):
            return state
        out = dict(state)
        out[f"{_LAST_LAYER}.weight"] = state[f"{_LAST_LAYER}.weight"] * self.spread
        out[f"{_LAST_LAYER}.bias"] = state[f"{_LAST_LAYER}.bias"] * self.spread + self.mean
        return out
