"""What the built-in trainers share: mini-batches of sampled neighbourhoods built with the
project's own sampler and collation (the same model input as the inference job), the seeded
settings, early stopping, and the inferencer's model put in training mode.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.collate import CollatedBatch, GraphTypes, collate_merged
from gnn_assets.graph.enumeration import EnumeratedGraph
from gnn_assets.graph.sampler import NeighborSampler, neighborhoods
from gnn_assets.graph.samples import SampleBatch
from gnn_assets.inference.task_specs import GraphSageTaskSpec, graph_types
from gnn_assets.training.protocol import TrainingError, float_arg, int_arg

DEFAULT_FANOUT = (10, 10)


@dataclass
class TrainingSettings:
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int  # epochs without a better validation figure before stopping
    seed: int
    fanout: tuple[int, ...] | None  # None: the config's sampler fanout
    validation_fraction: float

    @classmethod
    def from_args(
        cls,
        epochs: str = "10",
        batch_size: str = "512",
        learning_rate: str = "0.01",
        patience: str = "3",
        seed: str = "0",
        fanout: str = "",
        validation_fraction: str = "0.15",
    ) -> "TrainingSettings":
        hops = tuple(int_arg("fanout", f.strip(), minimum=-1) for f in fanout.split(",") if f.strip()) or None
        if hops and 0 in hops:
            raise ValueError("trainerArgs.fanout: 0 is neither -1 (all) nor positive")
        return cls(
            epochs=int_arg("epochs", epochs),
            batch_size=int_arg("batch_size", batch_size),
            learning_rate=float_arg("learning_rate", learning_rate, high=10.0),
            patience=int_arg("patience", patience),
            seed=int_arg("seed", seed, minimum=0),
            fanout=hops,
            validation_fraction=float_arg("validation_fraction", validation_fraction, high=0.5),
        )


class SampledBatches:
    """Roots of one node type -> the collated model input of their sampled neighbourhoods."""

    def __init__(self, graph: EnumeratedGraph, types: GraphTypes, fanout: list[int]):
        self.graph = graph
        self.types = types
        self.sampler = NeighborSampler(graph, fanout)

    def collate(self, node_type: str, roots: np.ndarray, rng: np.random.Generator) -> CollatedBatch:
        chunk = self.sampler.sample(node_type, roots.astype(np.int64), rng)
        return collate_merged(SampleBatch.from_neighborhoods(list(neighborhoods(self.graph, node_type, chunk))), self.types)


class SampledTrainer:
    """Built-in trainers: they train the built-in task specs' models (GraphSageTaskSpec)."""

    def __init__(self, **args: str):
        self.settings = TrainingSettings.from_args(**args)

    def prepare(self, config: TaskConfig, graph: EnumeratedGraph, inferencer, device: torch.device):
        """The inferencer's model, freshly built from the seed, on device and in training mode,
        and the batches to train it with."""
        if not isinstance(inferencer, GraphSageTaskSpec):
            raise TrainingError(
                f"{config.origin}: {type(self).__name__} trains the built-in task specs' models, not {type(inferencer).__name__}; "
                "name a trainer of your own in trainerConfig.trainerClsPath"
            )
        fanout = list(self.settings.fanout or config.fanout or DEFAULT_FANOUT)
        types = graph_types(config)
        torch.manual_seed(self.settings.seed)
        model = inferencer.build_model(types).to(device)
        inferencer.use_model(types, model)
        return model, SampledBatches(graph, types, fanout)

    def embed_all(self, inferencer, batches: SampledBatches, node_type: str, roots: np.ndarray, device, rng) -> torch.Tensor:
        """Embeddings of roots in eval mode, batch by batch."""
        inferencer.model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(roots), self.settings.batch_size):
                out.append(inferencer.embed(batches.collate(node_type, roots[start : start + self.settings.batch_size], rng), device))
        inferencer.model.train()
        return torch.cat(out) if out else torch.zeros(0)


def optimize(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One optimizer step on the loss; the loss's value."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


class EarlyStopping:
    """Keeps the best state seen (by a validation figure, higher is better); says when to stop."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best = -float("inf")
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_epoch = 0
        self.since_best = 0

    def update(self, epoch: int, figure: float, model: torch.nn.Module) -> bool:
        """Record an epoch's figure; True when training should stop."""
        if figure > self.best:
            self.best, self.best_epoch, self.since_best = figure, epoch, 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            self.since_best += 1
        return self.since_best >= self.patience


def report_epoch(progress: Callable[[str], None], epoch: int, epochs: int, loss: float, name: str, figure: float, started: float) -> dict:
    progress(f"epoch {epoch}/{epochs}: loss {loss:.4f}, validation {name} {figure:.4f} ({time.monotonic() - started:.1f} s)")
    return {"epoch": epoch, "loss": loss, name: figure}
