"""One layer-wise job, whichever engine computes it (DGL's inference helper has one template
inference() with variants; here the variants are engines).

The frame checks the graph against the config, counts the nodes, lets the engine compute every
model's outputs into a new (or resumed) run folder, records the champion, commits the run like
any job's output and lets the engine clear what it kept for the run. Engines: LOCAL
(layerwise/job.py, one process, the graph held as CSR) and BEAM (layerwise/beam.py, blocks of
nodes on Beam workers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Protocol

from gnn_assets.config.job import Job
from gnn_assets.graph.enumerated_layout import enumeration_id, nodes_uri, read_graph_metadata
from gnn_assets.graph.enumeration import check_same_graph
from gnn_assets.inference.protocol import LoadedInferencer
from gnn_assets.outputs.champion import Champion
from gnn_assets.outputs.published import InferenceJobResult, commit, output_kinds, parquet_rows


@dataclass(frozen=True)
class LayerwiseRun:
    """What every engine is handed: the job, its model (and champion), the graph's node counts."""

    job: Job
    loaded: LoadedInferencer
    champion: Champion | None
    progress: Callable[[str], None]
    num_nodes: dict[str, int]
    started: float  # time.monotonic() when the job started

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class LayerwiseEngine(Protocol):
    name: str

    def compute(self, run: LayerwiseRun) -> InferenceJobResult:
        """Every model's outputs written into the result's run folder (not yet committed)."""

    def after_commit(self, run: LayerwiseRun, result: InferenceJobResult) -> None:
        """Clear what the engine kept for the run, now that its output is published."""


def run_layerwise(
    job: Job, loaded: LoadedInferencer, engine: LayerwiseEngine, *, progress=print, champion: Champion | None = None
) -> InferenceJobResult:
    """Every root node type's embeddings (and predictions) computed layer by layer by the engine,
    committed as a run like the sampled job's; the job's last committed output stays published
    until then. With a champion, its model runs layer-wise over the same graph beside."""
    started = time.monotonic()
    config = job.config
    enumeration = enumeration_id(job.graph_dir)  # commit refuses the run if the graph is enumerated again meanwhile
    check_same_graph(config.proto.graph_metadata, read_graph_metadata(job.graph_dir), config.uri)
    num_nodes = {t: parquet_rows(nodes_uri(job.graph_dir, t)) for t in config.node_types}
    run = LayerwiseRun(job, loaded, champion, progress, num_nodes, started)
    result = engine.compute(run)
    if champion is not None:
        result.champion = champion.to_dict()
    result.seconds = run.elapsed()
    result.enumeration_id = enumeration
    commit(job, result, [kind for kind, _ in output_kinds(config)])
    engine.after_commit(run, result)
    progress(f"committed run {result.run_id}: {job.layout.inference_manifest_uri} ({result.seconds:.1f} s)")
    return result
