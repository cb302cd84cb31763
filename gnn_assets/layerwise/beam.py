"""Layer-wise inference as a Beam job (gnnAssetsConfig.layerwise.engine: BEAM), for graphs that
outgrow one machine: FnApiRunner locally, Dataflow from resources/gcp.yaml.

The same split program and block functions (blocks.py) as everywhere else; one Beam stage group
per message-passing layer:

    the layer before's completion ─ row groups of the edge files ─ Gather (reads its edges and,
        run by run of sources, their states from the layer before's files) ─ partial
        messages, combined per destination piece in a bounded outbox, written to message files
        (messages.py) ─ a reference per piece ─┐
    destination pieces ─ CoGroupByKey ─ Apply (reads and merges its messages, writes the piece's
        state file) ─ CombineGlobally(count) ─ mark the layer complete ─ (next layer) ...
        ─ write outputs per block

What a worker holds at once is set by the config, never by the graph (worker_limits): an outbox
of at most layerwise.combineMb, runs of sources whose messages take a quarter of that, and pieces
of blocks (the unit a layer is applied to) whose widest state takes about layerwise.pieceKb.
Neither edges nor messages travel through the shuffle, only references: each layer's gather
reads its edges from storage and writes its messages there. A model with GCN's normalization gets
a degree pass first (every node's in-edges per edge type, written per piece), and each source's
degree travels with its rows. An incremental job (incremental.baseJob) gets its plan from the
driver (Increment): each layer gathers only the in-edges of the nodes it recomputes and each
piece keeps the base's rows for the others; layerwise.keepStates streams the run's piece files
into the kept layout every engine reads (keep_piece_states).

Node features and edges enter from the enumeration's Parquet in storage, read by the workers,
never through the driver. Each layer's states are Parquet files per node type and piece
(`node_id` and one column per state) under the run's folder, and a layer is marked complete
(`stage-<k>.done`) once all its pieces are written; a run that failed or was killed resumes at
the first layer not complete when the same job runs again with the same config, model, block and
piece size and graph files. The last step writes the raw output layout of every other mode, a
file per block, and the job commits it the same way (outputs/published.py).

This module is the engine (driver side); beam_pipeline.py builds the job, beam_steps.py holds its
steps and beam_states.py the files they read and write.
"""

from __future__ import annotations

import json
import threading
import time

import apache_beam as beam
import numpy as np
import torch

from gnn_assets import storage
from gnn_assets.graph.enumerated_layout import edges_uri
from gnn_assets.inference.model_handler import rows_written
from gnn_assets.inference.protocol import resolve_device
from gnn_assets.incremental.kept import KeptRun, new_kept, whole_uri
from gnn_assets.incremental.plan import IncrementalPlan
from gnn_assets.outputs.published import InferenceJobResult, NodeTypeOutput, new_run_id, output_kinds, parquet_rows
from gnn_assets.beam.runners import beam_counters, pipeline_options, run_to_completion
from gnn_assets.layerwise.beam_pipeline import BeamModel, build_job, graph_version, prepare_models, resumable_run
from gnn_assets.layerwise.beam_states import done_uri, output_dir_of, read_states, state_uri, states_dir_of
from gnn_assets.layerwise.beam_steps import NAMESPACE, Increment
from gnn_assets.layerwise.blocks import Blocks
from gnn_assets.layerwise.frame import LayerwiseRun


PROGRESS_POLL_SECONDS = 2.0


class _StageWatcher:
    """Reports each layer as its completion mark appears (the runner blocks this thread)."""

    def __init__(self, states_dir: str, stages: range, progress):
        self._states_dir, self._stages, self._progress = states_dir, stages, progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        pending = list(self._stages)
        started = time.monotonic()
        while pending and not self._stop.wait(PROGRESS_POLL_SECONDS):
            while pending and storage.exists(done_uri(self._states_dir, pending[0])):
                self._progress(f"layer {pending[0]} of {self._stages.stop - 1} complete ({time.monotonic() - started:.0f} s)")
                pending.pop(0)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _stage_seconds(states_dir: str, stages: range, started: float, finished: float) -> dict[str, float]:
    """Wall seconds of each stage this run computed (from its completion marks; the first
    includes the job's start and the degree pass) and of writing the outputs."""
    seconds, before = {}, started
    for stage in stages:
        at = json.loads(storage.read_text(done_uri(states_dir, stage))).get("at_unix", before)
        seconds[str(stage)], before = round(at - before, 1), at
    seconds["outputs"] = round(finished - before, 1)
    return seconds




def keep_piece_states(states_dir: str, model: BeamModel, num_nodes: dict[str, int], kept: KeptRun) -> KeptRun:
    """The run's layer states in the kept layout every engine reads (incremental/kept.py): one
    .npy per state over all nodes, streamed piece by piece (one piece in memory at a time)."""
    pieces = Blocks(model.piece_nodes, num_nodes)
    for plan in model.engine.plans:
        for node_type, names in plan.kept.items():
            for name in names:
                uri = whole_uri(kept.layers[-1], name)
                shape = (num_nodes[node_type], model.engine.widths[name])
                with kept.write(uri) as stream:
                    np.lib.format.write_array_header_1_0(stream, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": shape})
                    for piece in range(pieces.count(node_type) if shape[0] else 0):
                        values = read_states(state_uri(states_dir, plan.stage, node_type, piece), [name])[name]
                        stream.write(np.ascontiguousarray(values, dtype=np.float32).reshape(-1, shape[1]).tobytes())
                kept.states[name] = {"node_type": node_type, "shape": list(shape), "dtype": "float32"}
    return kept


class BeamEngine:
    """Engine BEAM: the graph in blocks and pieces of nodes, each layer a Beam stage (gather,
    group, apply), states through storage between layers; a failed run resumes at its first
    incomplete layer."""

    name = "BEAM"

    def __init__(self, dagster_run_id: str | None = None):
        self.dagster_run_id = dagster_run_id

    def probe_device(self, job) -> torch.device:
        return torch.device("cpu")  # the driver only checks; workers run on the deployment's device

    def compute(self, run: LayerwiseRun) -> InferenceJobResult:
        config, resources, job_layout = run.job.config, run.job.resources, run.job.layout
        loaded, progress, num_nodes = run.loaded, run.progress, run.num_nodes
        graph_dir = run.job.graph_dir
        blocks = Blocks(config.layerwise_block_nodes, num_nodes)
        models = prepare_models(config, run.models, run.dims, progress)
        graph = graph_version(run.job)
        base = run.base
        incremental = None
        if base is not None:
            # The affected sets are made here, on the driver, from the enumeration's out-edges by
            # source, read where the change reaches (the layers run on the workers).
            incremental = IncrementalPlan(base, models[0].engine.program, graph_dir, run.types, num_nodes, config, progress)
            if incremental.plan is not None:
                graph = {**graph, "incremental_base": base.run_id}  # a resumed layer must have had the same base
        run_id = resumable_run(job_layout, models, blocks, graph) or new_run_id()
        increment = None
        if incremental is not None and incremental.plan is not None:
            increment = Increment(storage.join(job_layout.inference_run_dir(run_id), "incremental"), base.kept)
            increment.write(incremental.plan, incremental.change.shifts)
        options = pipeline_options(resources, config.task_name, config.job_name, dagster_run_id=self.dagster_run_id)
        pipeline = beam.Pipeline(options=options)
        firsts = build_job(pipeline, run.job, models, blocks, run_id, graph, increment, progress)
        layers = len(models[0].engine.plans)
        if firsts[""]:
            progress(f"resuming run {run_id} at layer {firsts['']}: layers 0..{firsts[''] - 1} are complete")
        progress(
            f"layer-wise on Beam ({resources.runner_kind}): {sum(num_nodes.values()):,} nodes in {sum(blocks.count(t) for t in num_nodes)} "
            f"blocks of up to {blocks.block_nodes:,} (layers applied to pieces of {models[0].piece_nodes:,}), {layers - 1} message-passing "
            f"layers (run {run_id})"
        )
        started = time.time()
        with _StageWatcher(states_dir_of(job_layout, run_id, ""), range(firsts[""], layers), progress):
            result, job_id, console_url = run_to_completion(pipeline, resources, progress, "layer-wise Beam job")
        metrics = beam_counters(result, "gnn_assets.", distributions=True)
        stage_seconds = _stage_seconds(states_dir_of(job_layout, run_id, ""), range(firsts[""], layers), started, time.time())
        kinds = [kind for kind, _ in output_kinds(config)]
        job = InferenceJobResult(
            run_id=run_id,
            job_id=job_id,
            runner=options.get_all_options()["runner"],
            state="DONE",
            seconds=0.0,
            model_sha256=loaded.weights.sha256,
            mode="LAYERWISE",
            console_url=console_url,
        )
        for model in models:
            outputs = job.champion_outputs if model.role else job.outputs
            for node_type in config.root_node_types:
                outputs[node_type] = NodeTypeOutput(
                    output_dir_of(job_layout, run_id, node_type, model.role),
                    samples=num_nodes[node_type],
                    dead_letters=0,
                    rows_by_kind=rows_written(metrics, node_type, kinds, model.role),
                )
        edges = {k: parquet_rows(edges_uri(graph_dir, k)) for k in config.edge_types}
        messages = {
            plan.stage: int(metrics.get(f"{NAMESPACE}/layer_{plan.stage}_message_bytes", 0)) for plan in models[0].engine.plans if plan.calls
        }
        layer_edges = {
            plan.stage: sum(edges[c.edge_type] for calls in plan.calls.values() for c in calls) for plan in models[0].engine.plans if plan.calls
        }
        job.details = {
            "engine": self.name,
            "device": str(resolve_device(resources.device)) if resources.runner_kind != "dataflow_runner" else resources.device,
            "layers": layers - 1,
            "blocks": {t: blocks.count(t) for t in num_nodes},
            "block_nodes": blocks.block_nodes,
            "resumed_at_layer": firsts[""],
            "message_kinds": {
                str(plan.stage): {c.name: c.kind for calls in plan.calls.values() for c in calls} for plan in models[0].engine.plans if plan.calls
            },
            "piece_nodes": models[0].piece_nodes,
            "stage_seconds": stage_seconds,
            "largest_message_piece_bytes": {
                str(k): int(metrics.get(f"{NAMESPACE}/layer_{k}_message_piece_bytes.max", 0)) for k in messages if k >= firsts[""]
            },
            "message_bytes": {str(k): v for k, v in messages.items()},
            "message_bytes_per_edge": {str(k): round(v / max(layer_edges[k], 1), 1) for k, v in messages.items() if k >= firsts[""]},
            "nodes": num_nodes,
            "edges": {"-".join(k): v for k, v in edges.items()},
            "spill_bytes": 0,
            "budget_bytes": 0,
        }
        if incremental is not None:
            job.details["incremental"] = incremental.details()
        if config.keep_states:
            record = new_kept(job_layout.kept_dir, run_id, run.enumeration_id, loaded.weights.sha256)  # engine BEAM writes every row: one whole layer
            job.details["kept"] = keep_piece_states(states_dir_of(job_layout, run_id, ""), models[0], num_nodes, record).to_dict()
        job.metrics = {**metrics, "layerwise/layers": layers - 1, "layerwise/chunks": sum(blocks.count(t) for t in num_nodes)}
        return job

    def after_commit(self, run: LayerwiseRun, result: InferenceJobResult) -> None:
        """Published: the layers' states are spent."""
        storage.delete_tree(storage.join(run.job.layout.inference_run_dir(result.run_id), "layerwise_states"))
