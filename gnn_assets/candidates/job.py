"""The link candidates stage: a second model after the GNN, as a Beam job (RunInference).

For each supervision edge type (src, relation, dst) of a link prediction task, the "model" is an
index of every dst node's embedding (index.py) and its input is every src node's embedding, both
from the job's committed inference output; the output is the k best destinations of each source
(src_node_id, dst_node_id, score, rank; enumerated ids) as Parquet in a run folder of its own,
committed with a manifest like the inference output (outputs/published.py), then un-enumerated in the
warehouse with both id columns mapped (jobs/unenumerate.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from apache_beam.metrics.metric import Metrics
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from gnn_assets import storage
from gnn_assets.candidates.index import CandidateIndex, Candidates
from gnn_assets.config.job import Job
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.errors import UserError
from gnn_assets.graph.csr import build_in_edges
from gnn_assets.graph.enumerated_layout import check_enumeration, edge_type_name, edges_uri, mapping_uri
from gnn_assets.beam.sinks import PlainParquetSink
from gnn_assets.inference.protocol import resolve_device
from gnn_assets.outputs.candidates import CANDIDATES_SCHEMA, CandidatesManifest, EdgeCandidates
from gnn_assets.outputs.overlay import merged_output_files
from gnn_assets.outputs.published import IncompleteOutput, commit_time, count_files, new_run_id, parquet_rows, publish_manifest, read_committed, read_output_files
from gnn_assets.beam.runners import beam_counters, pipeline_options, run_to_completion

SOURCE_BATCH_ROWS = 1024
METRICS_NAMESPACE = "gnn_assets.link_candidates"


class NoLinkCandidates(UserError, ValueError):
    """The task computes no link candidates (gnnAssetsConfig.linkCandidates.k is 0)."""


@dataclass(frozen=True)
class IndexSpec:
    """Everything a worker needs to build one edge type's index (plain values: it pickles)."""

    destination_files: tuple[str, ...]
    num_destinations: int
    k: int
    cosine: bool
    existing_edges_uri: str | None  # the supervision edges to leave out, or None
    num_sources: int
    exclude_self: bool

    def build(self, device: torch.device) -> CandidateIndex:
        ids, matrix = read_output_files(list(self.destination_files))
        if len(ids) and (ids.min() < 0 or ids.max() >= self.num_destinations):
            raise IncompleteOutput(f"destination embeddings hold ids outside 0..{self.num_destinations - 1}")
        destinations = torch.zeros((self.num_destinations, matrix.shape[1] if len(ids) else 1))
        destinations[torch.tensor(ids)] = torch.tensor(matrix)
        absent = np.setdiff1d(np.arange(self.num_destinations), ids)  # no embedding (a dead letter): never a candidate
        exclude = None
        if self.existing_edges_uri is not None:
            edges = storage.read_parquet(self.existing_edges_uri)
            exclude = build_in_edges(edges["dst"].to_numpy(), edges["src"].to_numpy(), self.num_sources)  # by source
        return CandidateIndex(
            destinations.to(device), self.k, cosine=self.cosine, exclude=exclude, exclude_self=self.exclude_self, absent=absent
        )


class CandidateModelHandler(ModelHandler[tuple, PredictionResult, CandidateIndex]):
    """RunInference's view of the index: load_model builds it once per worker; a batch of source
    embeddings comes out as one PredictionResult of their candidates."""

    def __init__(self, spec: IndexSpec, edge_name: str, device: str = "auto"):
        super().__init__()
        self._spec, self._edge_name, self._device = spec, edge_name, device

    def load_model(self) -> CandidateIndex:
        return self._spec.build(resolve_device(self._device))

    def run_inference(self, batch: tuple, model: CandidateIndex, inference_args: Optional[dict[str, Any]] = None) -> Iterable[PredictionResult]:
        ids, matrix = batch
        queries = torch.from_numpy(matrix).to(model.destinations.device)
        return [PredictionResult(ids, model.top_k(ids, queries))]

    def get_num_bytes(self, batch: tuple) -> int:
        return batch[1].nbytes

    def get_metrics_namespace(self) -> str:
        return f"{METRICS_NAMESPACE}.{self._edge_name}"


class _ReadSourceBatches(beam.DoFn):
    """A raw embeddings file -> (ids, matrix) batches of up to SOURCE_BATCH_ROWS sources."""

    def process(self, path: str):
        with storage.open_read(path) as stream:
            for batch in pq.ParquetFile(stream).iter_batches(batch_size=SOURCE_BATCH_ROWS, columns=["node_id", "emb"]):
                values = batch.column(1)
                matrix = values.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(batch.num_rows, -1)
                yield batch.column(0).to_numpy(), matrix


class _CandidatesToArrow(beam.DoFn):
    def __init__(self, edge_name: str):
        namespace = f"{METRICS_NAMESPACE}.{edge_name}"
        self._rows = Metrics.counter(namespace, "rows_written")
        self._sources = Metrics.counter(namespace, "sources")

    def process(self, result: PredictionResult):
        found: Candidates = result.inference
        self._sources.inc(len(result.example))
        self._rows.inc(len(found.src))
        yield pa.Table.from_arrays(
            [pa.array(found.src), pa.array(found.dst), pa.array(found.score), pa.array(found.rank)], schema=CANDIDATES_SCHEMA
        )


def _index_spec(config: TaskConfig, resources: Resources, edge_type, manifest) -> IndexSpec:
    src, _, dst = edge_type
    enumerated = resources.layout.enumerated_graph_dir(config.graph_name)
    existing = edges_uri(enumerated, edge_type) if config.exclude_existing_edges else None
    return IndexSpec(
        destination_files=tuple(merged_output_files(manifest.outputs[dst], "embeddings", f"{dst} embeddings of run {manifest.run_id}")),
        num_destinations=parquet_rows(mapping_uri(enumerated, dst)),
        k=config.link_candidates_k,
        cosine=config.candidate_score == "COSINE",
        existing_edges_uri=existing if existing and storage.exists(existing) else None,
        num_sources=parquet_rows(mapping_uri(enumerated, src)),
        exclude_self=src == dst,
    )


def run_candidates_job(job: Job, *, progress=print, dagster_run_id: str | None = None) -> CandidatesManifest:
    """Top-k destinations for every source node of each supervision edge type, from the job's
    committed embeddings; committed when every file holds the rows the job counted."""
    config, resources, job_layout = job.config, job.resources, job.layout
    if not config.link_candidates_k:
        raise NoLinkCandidates(f"{config.uri}: gnnAssetsConfig.linkCandidates.k is 0: this task computes no link candidates")
    inference = read_committed(job_layout)
    run_id = new_run_id()
    options = pipeline_options(resources, config.task_name, config.job_name, dagster_run_id=dagster_run_id)
    pipeline = beam.Pipeline(options=options)
    result = CandidatesManifest(
        run_id=run_id,
        inference_run_id=inference.run_id,
        k=config.link_candidates_k,
        score=config.candidate_score,
        exclude_existing_edges=config.exclude_existing_edges,
        runner=options.get_all_options()["runner"],
        seconds=0.0,
        enumeration_id=inference.enumeration_id,
    )
    for edge_type in config.supervision_edge_types:
        name = edge_type_name(edge_type)
        output_dir = storage.join(job_layout.candidates_run_dir(run_id), name)
        spec = _index_spec(config, resources, edge_type, inference)
        if spec.k > spec.num_destinations:
            progress(
                f"[{name}] linkCandidates.k is {spec.k:,} but there are only {spec.num_destinations:,} {edge_type[2]} nodes: "
                f"each source gets at most {spec.num_destinations:,} candidates (fewer where existing edges are excluded)"
            )
        handler = CandidateModelHandler(spec, name, resources.device)
        (
            pipeline
            | f"[{name}] Sources" >> beam.Create(merged_output_files(inference.outputs[edge_type[0]], "embeddings", f"{edge_type[0]} embeddings of run {inference.run_id}"))
            | f"[{name}] Spread files" >> beam.Reshuffle()
            | f"[{name}] Read sources" >> beam.ParDo(_ReadSourceBatches())
            | f"[{name}] Top {config.link_candidates_k}" >> RunInference(handler.with_no_batching())
            | f"[{name}] To Arrow" >> beam.ParDo(_CandidatesToArrow(name))
            | f"[{name}] Write" >> beam.io.Write(
                PlainParquetSink(storage.join(output_dir, "part"), CANDIDATES_SCHEMA, statistics=("src_node_id",))
            )
        )
        result.edges[name] = EdgeCandidates(list(edge_type), output_dir, 0, 0)
    started = time.monotonic()
    progress(f"link candidates: top {result.k} by {result.score} for {', '.join(result.edges)} (run {run_id}) on {resources.runner_kind}")
    beam_result, _, _ = run_to_completion(pipeline, resources, progress, "link candidates job")
    result.seconds = time.monotonic() - started
    result.metrics = beam_counters(beam_result, METRICS_NAMESPACE)
    for name, edge in result.edges.items():
        edge.sources = int(result.metrics.get(f"{METRICS_NAMESPACE}.{name}/sources", 0))
        edge.rows = int(result.metrics.get(f"{METRICS_NAMESPACE}.{name}/rows_written", 0))
        edge.files = storage.glob(storage.join(edge.output_dir, "*.parquet"))
        edge.file_sha256 = count_files(edge.files, edge.rows, f"{name} candidates")
        progress(f"{name}: {edge.rows:,} candidates for {edge.sources:,} sources in {result.seconds:.1f} s")
    check_enumeration(job.graph_dir, result.enumeration_id, f"link candidates run {run_id} of job {config.job_name!r}")
    result.committed_at = commit_time()
    publish_manifest(job_layout.candidates_manifest_uri, storage.join(job_layout.candidates_dir, "runs"), run_id, result.to_json())
    return result


def candidate_recall(job: Job, manifest: CandidatesManifest, max_edges: int = 2000) -> dict[str, dict]:
    """Per supervision edge type: the share of held-out edges (the graph source's evaluation
    edges; else a seeded sample of its own edges, marked optimistic) whose destination is among
    its source's candidates, against what k random candidates would find."""
    from gnn_assets.graph.enumerated_layout import edges_by_original_id
    from gnn_assets.training.evaluation import EVALUATION_EDGES, evaluation_edges

    source_dir = job.resources.layout.graph_source_dir(job.config.graph_name)
    enumerated = job.graph_dir
    out = {}
    for name, edge in manifest.edges.items():
        src_type, relation, dst_type = edge.edge_type
        pairs, origin = evaluation_edges(source_dir, (src_type, relation, dst_type)), EVALUATION_EDGES
        if pairs is None:
            pairs, origin = edges_by_original_id(enumerated, (src_type, relation, dst_type)), "a sample of the graph's own edges (optimistic)"
        if len(pairs) > max_edges:
            rng = np.random.default_rng(0)
            pairs = [pairs[i] for i in np.sort(rng.choice(len(pairs), max_edges, replace=False))]
        ints = {}
        for node_type in {src_type, dst_type}:
            mapping = storage.read_parquet(mapping_uri(enumerated, node_type))
            ints[node_type] = dict(zip(mapping["node_id"].to_pylist(), mapping["int_id"].to_pylist()))
        pairs = [(ints[src_type][s], ints[dst_type][d]) for s, d in pairs if s in ints[src_type] and d in ints[dst_type]]
        sources = pa.array(sorted({s for s, _ in pairs}), pa.int64())
        found = set()
        for uri in edge.files:
            table = storage.read_parquet(uri).select(["src_node_id", "dst_node_id"])
            table = table.filter(pc.is_in(table["src_node_id"], value_set=sources))
            found.update(zip(table["src_node_id"].to_pylist(), table["dst_node_id"].to_pylist()))
        hits = sum((s, d) in found for s, d in pairs)
        num_dst = len(ints[dst_type])
        out[name] = {
            "metric": f"recall@{manifest.k}",
            "value": hits / max(len(pairs), 1),
            "baseline": min(1.0, manifest.k / max(num_dst, 1)),
            "count": len(pairs),
            "source": origin,
        }
    return out
