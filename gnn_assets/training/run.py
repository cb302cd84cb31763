"""Train a job's model where its trained model is expected: the trainer named by the frozen
config fits the inferencer's model on the enumerated graph, and the state dict (tensors only) is
written to the job's model URI, with the metrics and the training curve next to the job."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch

from gnn_assets.config.job import Job
from gnn_assets import storage
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.edge_labels import read_edge_labels
from gnn_assets.graph.enumeration import check_same_graph, read_enumerated_graph
from gnn_assets.inference.protocol import inferencer_from_config, resolve_device
from gnn_assets.training.curves import training_curve_png
from gnn_assets.training.protocol import TrainingError, TrainingResult, state_dict_bytes, trainer_from_config, write_training_report


@contextlib.contextmanager
def deterministic_kernels():
    """Torch's deterministic kernels while a model trains: the same seed gives the same model
    file byte for byte. Without them, link prediction on 2 CPU threads gave a different file on
    every run (weights up to 1.15e-4 apart): a multi-threaded kernel in its backward adds in
    an order that varies; in deterministic mode the bytes equal those of a one-thread run."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


@dataclass
class TrainedModel:
    uri: str
    result: TrainingResult
    report_uris: dict[str, str]  # metrics.json, curve.png
    curve_png: bytes


def train_model(config: TaskConfig, resources: Resources, progress: Callable[[str], None] = print) -> TrainedModel:
    trainer = trainer_from_config(config, resources.model_policy)
    inferencer = inferencer_from_config(config, resources.model_policy)
    graph_dir = resources.layout.enumerated_graph_dir(config.graph_name)
    graph = read_enumerated_graph(graph_dir)
    check_same_graph(config.proto.graph_metadata, graph.metadata, config.uri)
    if config.task_kind.is_edge_based:
        source_dir = resources.layout.graph_source_dir(config.graph_name)
        graph.edge_labels = read_edge_labels(source_dir, graph_dir, config.supervision_edge_types, config.task_kind.is_regression)
    device = resolve_device(resources.device)
    progress(f"training {type(inferencer).__name__} with {type(trainer).__name__} on {device}")
    with deterministic_kernels():
        result = trainer.train(config, graph, inferencer, device, progress)
    if not result.state_dict:
        raise TrainingError(f"{type(trainer).__name__} returned no weights")
    storage.replace_atomically(config.trained_model_uri, state_dict_bytes(result.state_dict))
    figure = next((k for k in result.history[0] if k not in ("epoch", "loss")), None) if result.history else None
    baseline = next((v for k, v in result.metrics.items() if "baseline" in k), None)
    curve = training_curve_png(result.history, figure, baseline, f"{config.task_name} / {config.job_name}") if figure else b""
    directory = storage.join(Job.of(config, resources).layout.directory, "training")
    uris = write_training_report(directory, result, curve)
    progress(f"model written to {config.trained_model_uri}: " + ", ".join(f"{k} {v:g}" for k, v in result.metrics.items()))
    return TrainedModel(config.trained_model_uri, result, uris, curve)
