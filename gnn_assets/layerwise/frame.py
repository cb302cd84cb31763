"""One layer-wise job, whichever engine computes it (DGL's inference helper has one template
inference() with variants; here the variants are engines).

The frame checks the graph against the config, counts the nodes, reads the graph's types once,
resolves the incremental base, splits and probes the model (and the champion's) on the engine's
probe device, lets the engine compute every model's outputs into a new (or resumed) run folder,
records the champion, commits the run like any job's output and lets the engine clear what it
kept for the run. Engines: LOCAL (layerwise/local.py, one process, the graph held as CSR) and
BEAM (layerwise/beam.py, blocks of nodes on Beam workers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Protocol

import torch

from gnn_assets.config.job import Job
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.enumerated_layout import enumeration_id, nodes_uri, read_graph_metadata
from gnn_assets.graph.enumeration import check_same_graph
from gnn_assets.incremental.base import BaseJob, resolve_base
from gnn_assets.incremental.kept import release_kept_layers
from gnn_assets.inference.protocol import LayerwiseModel, LoadedInferencer, load_inferencer
from gnn_assets.inference.task_specs import GraphTypes, graph_types
from gnn_assets.layerwise.probe import split_and_probe
from gnn_assets.layerwise.split import GraphSignature, LayerProgram
from gnn_assets.outputs.champion import CHAMPION, Champion
from gnn_assets.outputs.published import InferenceJobResult, commit, output_kinds, parquet_rows


@dataclass(frozen=True)
class ProbedModel:
    """One model a job runs, split into layers and checked against its forward on a probe graph."""

    role: str  # "" for the job's own model, CHAMPION for its champion's
    config: TaskConfig  # the config whose inferencer and model file it is
    model_sha256: str
    model: LayerwiseModel
    program: LayerProgram
    row_bytes: dict  # bytes per node of each state, from the probe


@dataclass(frozen=True)
class LayerwiseRun:
    """What every engine is handed, prepared once: the job, its models (its own first, then the
    champion's), the graph's types and node counts, the incremental base."""

    job: Job
    loaded: LoadedInferencer
    champion: Champion | None
    progress: Callable[[str], None]
    num_nodes: dict[str, int]
    started: float  # time.monotonic() when the job started
    types: GraphTypes
    signature: GraphSignature
    models: list[ProbedModel]
    base: BaseJob | None  # None: the job computes every node
    enumeration_id: str  # of the graph the job reads (its ids)

    @property
    def dims(self) -> dict[str, int]:
        return dict(zip(self.types.node_types, self.types.feature_dims))

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def probe_models(
    config: TaskConfig, types: GraphTypes, loaded: LoadedInferencer, champion: Champion | None, champion_loaded: LoadedInferencer | None,
    policy, device: torch.device, progress,
) -> list[ProbedModel]:  # fmt: skip
    """The job's model and its champion's, each split and probed once."""
    signature = signature_of(types)
    dims = dict(zip(types.node_types, types.feature_dims))
    todo = [("", config, loaded, loaded.weights.sha256)]
    if champion is not None:
        theirs = champion_loaded or load_inferencer(champion.config, policy, champion.model_sha256)
        todo.append((CHAMPION, champion.config, theirs, champion.model_sha256))
    return [
        ProbedModel(role, model_config, sha256, *split_and_probe(model_loaded, model_config, signature, dims, device, progress))
        for role, model_config, model_loaded, sha256 in todo
    ]


def signature_of(types: GraphTypes) -> GraphSignature:
    return GraphSignature(tuple(types.node_types), tuple(types.edge_types), types.is_heterogeneous)


class LayerwiseEngine(Protocol):
    name: str

    def probe_device(self, job: Job) -> torch.device:
        """Where the models are split and probed before the job."""

    def compute(self, run: LayerwiseRun) -> InferenceJobResult:
        """Every model's outputs written into the result's run folder (not yet committed)."""

    def after_commit(self, run: LayerwiseRun, result: InferenceJobResult) -> None:
        """Clear what the engine kept for the run, now that its output is published."""


def run_layerwise(
    job: Job,
    loaded: LoadedInferencer,
    engine: LayerwiseEngine,
    *,
    progress=print,
    champion: Champion | None = None,
    champion_loaded: LoadedInferencer | None = None,
) -> InferenceJobResult:
    """Every root node type's embeddings (and predictions) computed layer by layer by the engine,
    committed as a run like the sampled job's; the job's last committed output stays published
    until then. With a champion (its model loaded already, where champion_loaded), its model runs
    layer-wise over the same graph beside."""
    started = time.monotonic()
    config = job.config
    enumeration = enumeration_id(job.graph_dir)  # commit refuses the run if the graph is enumerated again meanwhile
    check_same_graph(config.proto.graph_metadata, read_graph_metadata(job.graph_dir), config.uri)
    num_nodes = {t: parquet_rows(nodes_uri(job.graph_dir, t)) for t in config.node_types}
    types = graph_types(config)
    base = resolve_base(config, job.resources, loaded.weights.sha256, progress) if config.incremental_base_job else None
    if config.incremental_base_job and base is None:
        progress(f"incremental.baseJob {config.incremental_base_job}: no base to start from; computing every node")
    device = engine.probe_device(job)
    models = probe_models(config, types, loaded, champion, champion_loaded, job.resources.model_policy, device, progress)
    run = LayerwiseRun(job, loaded, champion, progress, num_nodes, started, types, signature_of(types), models, base, enumeration)
    result = engine.compute(run)
    if champion is not None:
        result.champion = champion.to_dict()
    result.seconds = run.elapsed()
    result.enumeration_id = enumeration
    commit(job, result, [kind for kind, _ in output_kinds(config)])
    release_kept_layers(job.layout.kept_dir, result.details.get("kept"), result.run_id)
    engine.after_commit(run, result)
    progress(f"committed run {result.run_id}: {job.layout.inference_manifest_uri} ({result.seconds:.1f} s)")
    return result
