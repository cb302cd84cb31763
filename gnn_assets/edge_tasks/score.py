"""The edge predictions stage of an edge task (linkBasedTaskMetadata): after the GNN, every edge of
each supervision edge type is scored from its two ends' embeddings of the committed inference run
by the task's decoder (EdgeTaskSpec), read an edge row group at a time and written as Parquet
(enumerated src and dst, the prediction) into a run folder of its own, committed with a manifest
like inference output (outputs/edge_predictions.py), then un-enumerated in the warehouse with both
id columns mapped (jobs/unenumerate.py).

Memory: both end types' embeddings (nodes x width x 4 bytes each) and one row group of edges.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from gnn_assets import storage
from gnn_assets.config.job import Job
from gnn_assets.graph.enumerated_layout import check_enumeration, edge_type_name, edges_uri, nodes_uri
from gnn_assets.inference.protocol import LoadedInferencer, ModelMismatchError, move_to_device, resolve_device
from gnn_assets.outputs.edge_predictions import EdgePredictionsManifest, EdgeTypePredictions, edge_predictions_schema
from gnn_assets.outputs.overlay import merged_output_files
from gnn_assets.outputs.published import (
    IncompleteOutput,
    InferenceJobResult,
    commit_time,
    count_files,
    new_run_id,
    parquet_rows,
    publish_manifest,
    read_committed,
    read_output_files,
    verify_committed,
)

BATCH_EDGES = 65_536  # edges scored per decoder call


def run_edge_predictions(job: Job, loaded: LoadedInferencer, progress: Callable[[str], None] = print) -> EdgePredictionsManifest:
    """Score every supervision edge from the committed embeddings; commit and return the manifest."""
    started = time.monotonic()
    config = job.config
    inferencer = loaded.inferencer
    if not callable(getattr(inferencer, "predict_edges", None)):
        raise ModelMismatchError(
            f"{config.origin}: {type(inferencer).__name__} has no predict_edges(src, dst); an edge task's inferencer scores edges "
            "(gnn_assets.inference.task_specs.EdgeTaskSpec)"
        )
    inference = read_committed(job.layout)
    verify_committed(inference, ["embeddings"])
    what = f"edge predictions of job {config.job_name!r} (inference run {inference.run_id})"
    check_enumeration(job.graph_dir, inference.enumeration_id, what)
    device = resolve_device(job.resources.device)
    move_to_device(inferencer, device)
    run_id = new_run_id()
    run_dir = job.layout.edge_predictions_run_dir(run_id)
    schema = edge_predictions_schema(config.task_kind.is_regression)
    manifest = EdgePredictionsManifest(run_id, inference.run_id, 0.0, enumeration_id=inference.enumeration_id)
    embedded: dict[str, tuple[torch.Tensor, np.ndarray]] = {}
    for key in config.supervision_edge_types:
        for node_type in (key[0], key[2]):
            if node_type not in embedded:
                embedded[node_type] = _embeddings(job, inference, node_type, device)
        name = edge_type_name(key)
        output_dir = storage.join(run_dir, name)
        uri = storage.join(output_dir, "part-000000.parquet")
        rows, unscored = _score(inferencer, edges_uri(job.graph_dir, key), embedded[key[0]], embedded[key[2]], uri, schema, device)
        files = [uri]
        manifest.edges[name] = EdgeTypePredictions(list(key), output_dir, rows, unscored, files, count_files(files, rows, f"{name} edge predictions"))
        progress(f"{name}: {rows:,} edges scored" + (f", {unscored:,} without an embedding at an end" if unscored else ""))
    check_enumeration(job.graph_dir, inference.enumeration_id, what)
    manifest.seconds = time.monotonic() - started
    manifest.committed_at = commit_time()
    publish_manifest(job.layout.edge_predictions_manifest_uri, storage.join(job.layout.edge_predictions_dir, "runs"), run_id, manifest.to_json())
    progress(f"committed edge predictions run {run_id}: {job.layout.edge_predictions_manifest_uri} ({manifest.seconds:.1f} s)")
    return manifest


def _embeddings(job: Job, inference: InferenceJobResult, node_type: str, device: torch.device) -> tuple[torch.Tensor, np.ndarray]:
    """A node type's embeddings by enumerated id (zeros where a node has none) and which nodes have one."""
    output = inference.outputs.get(node_type)
    if output is None:
        raise IncompleteOutput(f"committed run {inference.run_id} has no embeddings of {node_type!r}")
    ids, values = read_output_files(merged_output_files(output, "embeddings", f"{node_type} embeddings of run {inference.run_id}"))
    num_nodes = parquet_rows(nodes_uri(job.graph_dir, node_type))
    if len(ids) and (ids.min() < 0 or ids.max() >= num_nodes):
        raise IncompleteOutput(f"{node_type} embeddings of run {inference.run_id} hold ids outside 0..{num_nodes - 1}")
    matrix = torch.zeros((num_nodes, values.shape[1] if len(ids) else 1), dtype=torch.float32)
    matrix[torch.from_numpy(ids)] = torch.from_numpy(values)
    present = np.zeros(num_nodes, dtype=bool)
    present[ids] = True
    return matrix.to(device), present


def _score(inferencer, uri: str, src_side, dst_side, out_uri: str, schema: pa.Schema, device: torch.device) -> tuple[int, int]:
    (src_matrix, src_present), (dst_matrix, dst_present) = src_side, dst_side
    rows = unscored = 0
    with storage.open_read(uri) as source, storage.open_write(out_uri) as sink:
        edges = pq.ParquetFile(source)
        with pq.ParquetWriter(sink, schema, compression="none", use_dictionary=False, write_statistics=["src_node_id"]) as writer:
            for group in range(edges.num_row_groups):
                table = edges.read_row_group(group, columns=["src", "dst"])
                src, dst = table["src"].to_numpy(), table["dst"].to_numpy()
                scored = src_present[src] & dst_present[dst]
                unscored += int((~scored).sum())
                src, dst = src[scored], dst[scored]
                for start in range(0, len(src), BATCH_EDGES):
                    s, d = src[start : start + BATCH_EDGES], dst[start : start + BATCH_EDGES]
                    with torch.inference_mode():
                        predicted = inferencer.predict_edges(src_matrix[torch.from_numpy(s).to(device)], dst_matrix[torch.from_numpy(d).to(device)])
                    values = predicted.cpu().numpy().astype(schema.field("pred").type.to_pandas_dtype())
                    writer.write_table(pa.Table.from_arrays([pa.array(s), pa.array(d), pa.array(values)], schema=schema))
                    rows += len(s)
    return rows, unscored
