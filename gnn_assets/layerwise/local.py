"""The layer-wise inference job (gnnAssetsConfig.inferenceMode: LAYERWISE), on one machine.

Reads the enumerated graph (features per node type, in-edges per edge type from the cached
CSR), splits the inferencer's model into layers, checks the split on a probe graph, runs every
layer once over all nodes, and writes the same raw Parquet layout as the sampled Beam job into a
run folder of its own, committed the same way: un-enumeration, checks and both warehouses read
it unchanged. No samples are read or needed.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from gnn_assets import storage
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.errors import UserError
from gnn_assets.graph.csr import load_in_edges
from gnn_assets.graph.enumerated_layout import nodes_uri
from gnn_assets.graph.feature_rows import feature_rows_file
from gnn_assets.outputs.published import InferenceJobResult, NodeTypeOutput, embeddings_table, new_run_id, output_kinds, predictions_table
from gnn_assets.inference.protocol import LayerwiseModel, resolve_device
from gnn_assets.incremental.kept import MAX_LAYERS, StateKeeper, continue_kept, new_kept
from gnn_assets.incremental.plan import IncrementalPlan
from gnn_assets.layerwise.frame import LayerwiseRun
from gnn_assets.outputs.champion import CHAMPION
from gnn_assets.outputs.overlay import continue_output
from gnn_assets.layerwise.executor import LayerwiseExecutor, LayerwiseGraph, must_spill, peak_state_bytes
from gnn_assets.layerwise.memory import memory_budget_bytes, states_outgrow_page_cache
from gnn_assets.layerwise.spill import SpillArea

_WRITE_ROWS = 65_536


def read_features(uri: str, into: torch.Tensor, after_batch=lambda: None) -> torch.Tensor:
    """Row i of the enumeration's node table into row i of `into`, a row group at a time
    (after_batch() after each); Arrow's reader holds about four times a row group while it decodes
    one, and pre-buffering would hold the whole file."""
    with storage.open_read(uri) as stream:
        offset = 0
        for batch in pq.ParquetFile(stream, pre_buffer=False).iter_batches(batch_size=_WRITE_ROWS, columns=["features"]):
            column = batch.column(0)
            rows = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), -1)
            into[offset : offset + len(rows)].numpy()[...] = rows
            offset += len(rows)
            after_batch()
    pa.default_memory_pool().release_unused()  # Arrow's pool keeps freed buffers; torch cannot use them
    if offset != into.shape[0]:
        raise UserError(f"{uri}: holds {offset:,} nodes, the graph's metadata says {into.shape[0]:,}; enumerate the graph again")
    return into


def _spill_directory(resources: Resources, run_dir: str) -> str:
    """Under the run's folder where storage is local; a local temporary folder otherwise (files
    in object storage cannot be memory-mapped)."""
    if storage.is_remote(run_dir):
        return tempfile.mkdtemp(prefix="gnn_assets_layerwise_")
    return os.path.join(run_dir, "layerwise_states")


def _write_part(
    kinds: dict[str, pa.Schema], states, ids, rows: range, model: LayerwiseModel, device, uris: dict[str, str], batch_rows: int, after_batch
) -> None:
    """Rows `rows` of the states as one Parquet file per kind, batch_rows rows at a time."""
    with torch.inference_mode():  # a thread of its own: torch's mode is per thread
        _write_rows(kinds, states, ids, rows, model, device, uris, batch_rows, after_batch)


def _write_rows(kinds, states, node_ids, rows, model: LayerwiseModel, device, uris, batch_rows, after_batch) -> None:
    streams = {kind: storage.open_write(uri) for kind, uri in uris.items()}
    try:
        writers = {
            kind: pq.ParquetWriter(streams[kind], schema, compression="none", use_dictionary=False, write_statistics=["node_id"])
            for kind, schema in kinds.items()
        }
        for start in range(rows.start, rows.stop, batch_rows):
            batch = states[start : min(start + batch_rows, rows.stop)]
            ids = np.arange(start, start + len(batch), dtype=np.int64) if node_ids is None else node_ids[start : start + len(batch)]
            writers["embeddings"].write_table(embeddings_table(ids, batch.float().numpy()))
            if "predictions" in writers:
                writers["predictions"].write_table(predictions_table(ids, model.predict(batch.to(device)).cpu().numpy()))
            after_batch()
        for writer in writers.values():
            writer.close()
    finally:
        for stream in streams.values():
            stream.close()


def _write_outputs(
    config: TaskConfig, states, model: LayerwiseModel, device, output_dir: str, budget: int, after_batch, ids: np.ndarray | None = None
) -> dict[str, int]:
    """The states (and the head's predictions) as Parquet in the raw output layout, one file per
    kind and part; the parts are written in parallel (Arrow and torch release the GIL), one per
    core, each in batches that keep Arrow's copies within a fifth of the budget. Rows per kind.
    ids: the node of each row (an incremental run's recomputed rows); None: row i is node i."""
    kinds = dict(output_kinds(config))
    total = states.shape[0]
    # A part's writer holds about 25 MB of Arrow's buffers: one part per 256 MB of budget at most.
    parts = max(1, min(os.cpu_count() or 1, total // 8192, budget >> 28))
    bytes_per_row = max(states[:1].numel(), 1) * 4 * 4  # a batch is copied about three times over
    batch_rows = int(min(_WRITE_ROWS, max(1024, budget // 5 // parts // bytes_per_row)))
    bounds = np.linspace(0, total, parts + 1).astype(int)
    name = lambda kind, i: storage.join(output_dir, kind, f"part-{i:05d}-of-{parts:05d}.parquet")  # noqa: E731
    with ThreadPoolExecutor(parts) as pool:
        futures = [
            pool.submit(
                _write_part, kinds, states, ids, range(bounds[i], bounds[i + 1]), model, device, {k: name(k, i) for k in kinds}, batch_rows, after_batch
            )
            for i in range(parts)
        ]
        for future in futures:
            future.result()
    pa.default_memory_pool().release_unused()
    return {kind: total for kind in kinds}


class LocalEngine:
    """Engine LOCAL: one process holds the graph as CSR and every layer's states (spilled to disk
    past the memory budget), and computes each layer in chunks of destinations."""

    name = "LOCAL"

    def probe_device(self, job) -> torch.device:
        return resolve_device(job.resources.device)  # the device the layers run on

    def compute(self, run: LayerwiseRun) -> InferenceJobResult:
        config, resources, job_layout = run.job.config, run.job.resources, run.job.layout
        loaded, champion, progress, num_nodes = run.loaded, run.champion, run.progress, run.num_nodes
        run_id = new_run_id()
        graph_dir = run.job.graph_dir
        device = self.probe_device(run.job)
        base, types, dims = run.base, run.types, run.dims
        output_dirs = {"": job_layout.inference_output_dir, CHAMPION: job_layout.champion_output_dir}
        models, program = run.models, run.models[0].program

        budget = memory_budget_bytes(config)
        in_edges = {key: load_in_edges(graph_dir, key, num_nodes[key[0]], num_nodes[key[2]], budget // 2) for key in types.edge_types}
        spill_dir = _spill_directory(resources, job_layout.inference_run_dir(run_id))
        spill = SpillArea(spill_dir)
        csr_bytes = sum(c.nbytes for c in in_edges.values())  # mapped files: not held against the budget
        result = InferenceJobResult(
            run_id=run_id, job_id=run_id, runner="layerwise", state="DONE", seconds=0.0, model_sha256=loaded.weights.sha256, mode="LAYERWISE"
        )
        keeper = None
        try:
            peak = max(peak_state_bytes(m.program, m.row_bytes, num_nodes) for m in models)
            spilled = must_spill(peak, sum(c.held_bytes for c in in_edges.values()), budget)
            stream = states_outgrow_page_cache(peak + csr_bytes, budget)
            features = {}
            for node_type in types.node_types:
                shape = (num_nodes[node_type], dims[node_type])
                # Mapped where the enumeration wrote feature rows: an incremental job reads the
                # rows its frontier gathers, not the whole nodes file.
                rows_file = feature_rows_file(graph_dir, node_type, shape)
                if rows_file is not None:
                    features[node_type] = spill.map_file(rows_file, shape, torch.float32)
                else:
                    target = spill.allocate(f"features_{node_type}", shape, torch.float32) if spilled else torch.empty(shape)
                    features[node_type] = read_features(nodes_uri(graph_dir, node_type), target, spill.release_pages)
            graph = LayerwiseGraph(features, in_edges)
            incremental = IncrementalPlan(base, program, graph_dir, types, num_nodes, config, progress) if base else None
            increment = incremental if incremental is not None and not incremental.fell_back else None
            # Past MAX_LAYERS, an incremental run writes every row again (kept states and outputs).
            layered = increment is not None and len(base.kept.layers) < MAX_LAYERS
            if config.keep_states:
                if layered:
                    kept = continue_kept(base.kept, job_layout.kept_dir, run_id, run.enumeration_id, increment.change.shifts)
                else:
                    kept = new_kept(job_layout.kept_dir, run_id, run.enumeration_id, loaded.weights.sha256)
                keeper = StateKeeper(kept, program.node_type.__getitem__)
            for index, probed in enumerate(models):
                if index:
                    progress(f"champion {champion.job_name}: the same layers over the same graph")
                executor = LayerwiseExecutor(
                    probed.program, graph, device, budget_bytes=budget, spill=spill if spilled else None, progress=progress,
                    row_bytes=probed.row_bytes, stream_sources=stream,
                )
                progress(
                    f"layer-wise on {device}: budget {budget / 2**20:,.0f} MiB, kept states {executor.stats.states_bytes / 2**20:,.1f} MiB"
                    + (f", spilled to {spill_dir}" if executor.stats.spilled else ", in memory")
                    + (", larger than the page cache: sources streamed where calls aggregate in parts" if executor.stats.spilled and stream else "")
                )
                with torch.inference_mode():
                    if index == 0 and increment is not None:
                        finals = executor.run(recompute=increment.plan, base=increment.base_state, keep=keeper)
                    else:
                        finals = executor.run(keep=keeper if index == 0 else None)
                    outputs = result.champion_outputs if index else result.outputs
                    for node_type in config.root_node_types:
                        output_dir = output_dirs[probed.role](run_id, node_type)
                        final = finals[node_type]
                        if index == 0 and layered and node_type in base.outputs:
                            # The rows it recomputed, over its base's output linked as older layers.
                            rows = _write_outputs(config, final.values, probed.model, device, output_dir, budget, spill.release_pages, final.ids)
                            output = NodeTypeOutput(output_dir, samples=len(final.ids), dead_letters=0, rows_by_kind=rows)
                            continue_output(base.outputs[node_type], output, increment.change.shifts[node_type], increment.change.removed_node_ids[node_type])
                            output.merged_rows = num_nodes[node_type]
                        else:
                            rows = _write_outputs(config, final, probed.model, device, output_dir, budget, spill.release_pages)
                            output = NodeTypeOutput(output_dir, samples=num_nodes[node_type], dead_letters=0, rows_by_kind=rows)
                        outputs[node_type] = output
                if index == 0 and keeper is not None:
                    keeper.finish()  # its last writes (the outputs' states) ran beside the outputs' own
                del finals
                if not index:
                    stats = executor.stats.to_dict()
        finally:
            if keeper is not None:
                keeper.stop()  # before the spilled states it may still read are unmapped
            spill.close()
        stats["spill_bytes"] = spill.bytes_written
        result.details = {
            "engine": self.name,
            **stats,
            "model": program.model_name,
            "nodes": num_nodes,
            "edges": {"-".join(k): c.num_edges for k, c in in_edges.items()},
            "csr_bytes": csr_bytes,
        }
        if keeper is not None:
            result.details["kept"] = keeper.kept.to_dict()
        if incremental is not None:
            result.details["incremental"] = incremental.details()
        total_nodes = sum(num_nodes.values())
        result.metrics = {
            "layerwise/layers": program.num_layers,
            "layerwise/chunks": sum(s["chunks"] for s in stats["stages"]),
            "layerwise/spill_bytes": stats["spill_bytes"],
            "layerwise/nodes_per_second": round(total_nodes * program.num_layers * len(models) / max(run.elapsed(), 1e-9), 1),
        }
        return result

    def after_commit(self, run: LayerwiseRun, result: InferenceJobResult) -> None:
        """The spill files went with the executor."""
