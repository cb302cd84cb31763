"""Layer-wise inference as a Beam job (gnnAssetsConfig.layerwise.engine: BEAM), for graphs that
outgrow one machine: FnApiRunner locally, Dataflow from resources/gcp.yaml.

The same split program and block functions (blocks.py) as everywhere else; one Beam stage group
per message-passing layer:

    edges, grouped by source block once ─ Gather (reads the source block's states from the layer
        before's files; that layer's completion is a side input) ─ CombinePerKey(merge) per
        destination block ─┐
    destination blocks ─ CoGroupByKey ─ Apply (writes the block's state file) ─ CombineGlobally(count)
        ─ mark the layer complete ─ (next layer) ... ─ write outputs

Node features and edges enter from the enumeration's Parquet in storage, read by the workers
(row groups of the edge files, blocks of the node files), never through the driver. Each layer's
states are Parquet files per node type and block (`node_id` and one column per state) under the
run's folder, and a layer is marked complete (`stage-<k>.done`) once all its blocks are written;
a run that failed or was killed resumes at the first layer not complete when the same job runs
again with the same config, model, block size and graph files. The last step writes the raw
output layout of every other mode and the job commits it the same way (outputs/published.py).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from apache_beam.metrics.metric import Metrics

from gnn_assets.config.layout import job_layout as job_layout_of
from gnn_assets import storage
from gnn_assets.config.resource_config import ModelPolicy, Resources
from gnn_assets.config.task_config import TaskConfig, parse_task_config
from gnn_assets.graph.enumerated_layout import edges_uri, nodes_uri
from gnn_assets.inference.model_handler import metrics_namespace
from gnn_assets.inference.protocol import load_inferencer, move_to_device, resolve_device
from gnn_assets.inference.task_specs import graph_types
from gnn_assets.outputs.champion import CHAMPION
from gnn_assets.outputs.published import EMBEDDINGS_SCHEMA, PREDICTIONS_SCHEMA, InferenceJobResult, NodeTypeOutput, new_run_id, output_kinds, parquet_rows
from gnn_assets.beam.runners import beam_counters, pipeline_options, run_to_completion
from gnn_assets.layerwise.blocks import BlockEngine, Blocks, Partial, merge
from gnn_assets.layerwise.frame import LayerwiseRun
from gnn_assets.layerwise.job import layerwise_model_of, split_and_probe
from gnn_assets.layerwise.split import GraphSignature, split_model

NAMESPACE = "gnn_assets.layerwise"


def layer_namespace(role: str) -> str:
    """Beam metrics of the job's own model's layers, or of its champion's (role "champion")."""
    return NAMESPACE + (f".{role}" if role else "")
PROGRESS_POLL_SECONDS = 2.0


# ---- state files -----------------------------------------------------------------------------


def state_uri(states_dir: str, stage: int, node_type: str, block: int) -> str:
    return storage.join(states_dir, f"stage-{stage}", node_type, f"block-{block:06d}.parquet")


def done_uri(states_dir: str, stage: int) -> str:
    return storage.join(states_dir, f"stage-{stage}.done")


def write_states(uri: str, start: int, states: dict[str, np.ndarray]) -> None:
    rows = len(next(iter(states.values()))) if states else 0
    columns = {"node_id": pa.array(np.arange(start, start + rows, dtype=np.int64))}
    for name, values in states.items():
        values = np.ascontiguousarray(values, dtype=np.float32).reshape(rows, -1)
        columns[name] = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])
    with storage.open_write(uri) as stream:
        pq.write_table(pa.table(columns), stream, compression="none", use_dictionary=False, write_statistics=["node_id"])


def read_states(uri: str, names: list[str]) -> dict[str, np.ndarray]:
    with storage.open_read(uri) as stream:
        table = pq.read_table(stream, columns=names)
    return {name: _matrix(table[name]) for name in names}


def _matrix(column) -> np.ndarray:
    column = column.combine_chunks()
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return values.reshape(len(column), -1)


def read_node_rows(uri: str, start: int, stop: int) -> np.ndarray:
    """Feature rows start..stop-1 of an enumeration's node file, reading only the row groups they lie in."""
    with storage.open_read(uri) as stream:
        parquet = pq.ParquetFile(stream, pre_buffer=False)
        parts, offset = [], 0
        for group in range(parquet.num_row_groups):
            rows = parquet.metadata.row_group(group).num_rows
            if offset < stop and offset + rows > start:
                table = parquet.read_row_group(group, columns=["features"])
                parts.append(_matrix(table["features"])[max(start - offset, 0) : stop - offset])
            offset += rows
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


# ---- the model on a worker ---------------------------------------------------------------------


class _ModelSpec:
    """What a worker needs to rebuild the block engine: plain values, so that it pickles."""

    def __init__(self, config: TaskConfig, model_config: TaskConfig, model_sha256: str, policy: ModelPolicy, widths: dict[str, int], device: str):
        self.graph_yaml, self.graph_uri = config.to_yaml(), config.uri
        self.model_yaml, self.model_uri = model_config.to_yaml(), model_config.uri
        self.model_sha256, self.policy, self.widths, self.device = model_sha256, policy, widths, device

    def key(self) -> tuple:
        return (self.model_uri, self.model_sha256, self.graph_uri, self.device, tuple(sorted(self.widths.items())))

    def load(self) -> tuple[BlockEngine, torch.nn.Module]:
        model_config = parse_task_config(self.model_yaml, self.model_uri)
        device = resolve_device(self.device)
        loaded = load_inferencer(model_config, self.policy, self.model_sha256)
        move_to_device(loaded.inferencer, device)
        model = layerwise_model_of(loaded.inferencer, model_config)
        types = graph_types(parse_task_config(self.graph_yaml, self.graph_uri))
        signature = GraphSignature(tuple(types.node_types), tuple(types.edge_types), types.is_heterogeneous)
        return BlockEngine(split_model(model.module, signature), self.widths, device), model.head


_LOADED: dict[tuple, tuple[BlockEngine, torch.nn.Module]] = {}
_LOADING = threading.Lock()


class _WithEngine(beam.DoFn):
    """A step that needs the model: loaded and split once per worker process, whichever of the
    job's steps (gather, apply, write, for every layer) sets up first."""

    def __init__(self, spec: _ModelSpec, blocks: Blocks):
        self._spec, self._blocks = spec, blocks

    def setup(self):
        key = self._spec.key()
        with _LOADING:
            if key not in _LOADED:
                _LOADED[key] = self._spec.load()
            self.engine, self.head = _LOADED[key]


# ---- transforms ------------------------------------------------------------------------------


class _ReadEdgeGroup(beam.DoFn):
    """(edge type, row group of its enumerated edges file) -> ((source type, source block), (edge type, src, dst))."""

    def __init__(self, graph_dir: str, blocks: Blocks):
        self._graph_dir, self._blocks = graph_dir, blocks

    def process(self, task):
        key, group = task
        key = tuple(key)
        with storage.open_read(edges_uri(self._graph_dir, key)) as stream:
            table = pq.ParquetFile(stream, pre_buffer=False).read_row_group(group, columns=["src", "dst"])
        src, dst = table["src"].to_numpy(), table["dst"].to_numpy()
        block = src // self._blocks.block_nodes
        order = np.argsort(block, kind="stable")
        src, dst, block = src[order], dst[order], block[order]
        values, starts = np.unique(block, return_index=True)
        for b, lo, hi in zip(values.tolist(), starts, np.append(starts[1:], len(src))):
            yield (key[0], int(b)), (key, src[lo:hi], dst[lo:hi])


def read_block_states(graph_dir, states_dir, blocks: Blocks, node_type, block, names: dict[str, int], inputs: dict[str, str]) -> dict[str, np.ndarray]:
    start, stop = blocks.range(node_type, block)
    found, by_stage = {}, {}
    for name, stage in names.items():
        if name in inputs:
            found[name] = read_node_rows(nodes_uri(graph_dir, node_type), start, stop)
        else:
            by_stage.setdefault(stage, []).append(name)
    for stage, stage_names in by_stage.items():
        found.update(read_states(state_uri(states_dir, stage, node_type, block), stage_names))
    return found


class _Gather(_WithEngine):
    """A source block's out-edges joined to its states (read from the layer before's files: states
    travel through storage, not the shuffle) -> partial messages per destination block. Runs
    once the layer before is complete (its completion is a side input)."""

    def __init__(self, spec, blocks, stage: int, graph_dir: str, states_dir: str, names: dict[str, int], inputs: dict[str, str], role: str):
        super().__init__(spec, blocks)
        self._stage, self._graph_dir, self._states_dir, self._names, self._inputs = stage, graph_dir, states_dir, names, inputs
        self._bytes = Metrics.counter(layer_namespace(role), f"layer_{stage}_shuffle_bytes")
        self._edges = Metrics.counter(layer_namespace(role), f"layer_{stage}_edges")

    def process(self, element, layer_before_complete):
        (src_type, block), chunks = element
        edges: dict[tuple, tuple[list, list]] = {}
        for key, src, dst in chunks:
            have = edges.setdefault(tuple(key), ([], []))
            have[0].append(src)
            have[1].append(dst)
        joined = {k: (np.concatenate(s), np.concatenate(d)) for k, (s, d) in edges.items()}
        self._edges.inc(sum(len(s) for s, _ in joined.values()))
        states = read_block_states(self._graph_dir, self._states_dir, self._blocks, src_type, block, self._names, self._inputs)
        for key, part in self.engine.gather(self._stage, self._blocks, src_type, block, states, joined):
            self._bytes.inc(part.nbytes)
            yield key, part


class _MergePartials(beam.CombineFn):
    """Partial aggregates of one destination block, by call: exact to combine in any order.
    Parts are collected and merged in one pass when the accumulator is compacted (before the
    shuffle, where Beam lifts the combine) or read."""

    def create_accumulator(self):
        return {}

    def add_input(self, accumulator, part: Partial):
        accumulator.setdefault(part.call, []).append(part)
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = {}
        for accumulator in accumulators:
            for call, parts in accumulator.items():
                merged.setdefault(call, []).extend(parts)
        return merged

    def compact(self, accumulator):
        return {call: [merge(parts)] for call, parts in accumulator.items()}

    def extract_output(self, accumulator):
        return {call: merge(parts) for call, parts in accumulator.items()}


class _Apply(_WithEngine):
    """A destination block's layer: own states + merged messages -> its new states, written."""

    def __init__(self, spec, blocks, stage: int, graph_dir: str, states_dir: str, own: dict[str, dict[str, int]], inputs: dict[str, str], role: str):
        super().__init__(spec, blocks)
        self._stage, self._graph_dir, self._states_dir, self._own, self._inputs = stage, graph_dir, states_dir, own, inputs
        self._nodes = Metrics.counter(layer_namespace(role), f"layer_{stage}_nodes")

    def process(self, element):
        (node_type, block), grouped = element
        merged = next(iter(grouped["merged"]), {})
        own = read_block_states(self._graph_dir, self._states_dir, self._blocks, node_type, block, self._own[node_type], self._inputs)
        with torch.inference_mode():
            states = self.engine.apply(self._stage, self._blocks, node_type, block, own, merged)
        start, stop = self._blocks.range(node_type, block)
        if states:
            write_states(state_uri(self._states_dir, self._stage, node_type, block), start, states)
        self._nodes.inc(stop - start)
        yield stop - start


class _MarkDone(beam.DoFn):
    def __init__(self, states_dir: str, stage: int, fingerprint: dict):
        self._states_dir, self._stage, self._fingerprint = states_dir, stage, fingerprint

    def process(self, nodes: int):
        record = {**self._fingerprint, "stage": self._stage, "nodes": int(nodes), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        storage.replace_atomically(done_uri(self._states_dir, self._stage), json.dumps(record, sort_keys=True).encode())
        yield nodes


class _WriteOutputs(_WithEngine):
    """A root block's final states (and the head's predictions) in the raw output layout."""

    def __init__(self, spec, blocks, states_dir: str, final: dict[str, tuple[str, int]], output_dirs: dict[str, str], kinds: list[str], role: str):
        super().__init__(spec, blocks)
        self._states_dir, self._final, self._output_dirs, self._kinds, self._role = states_dir, final, output_dirs, kinds, role

    def process(self, element):
        node_type, block = element
        name, stage = self._final[node_type]
        start, stop = self._blocks.range(node_type, block)
        values = read_states(state_uri(self._states_dir, stage, node_type, block), [name])[name]
        ids = pa.array(np.arange(start, stop, dtype=np.int64))
        dim = values.shape[1]
        offsets = pa.array(np.arange(0, (len(values) + 1) * dim, dim, dtype=np.int32))
        tables = {"embeddings": pa.Table.from_arrays([ids, pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))], schema=EMBEDDINGS_SCHEMA)}
        if "predictions" in self._kinds:
            with torch.inference_mode():
                predictions = self.head(torch.from_numpy(np.array(values)).to(self.engine.device)).argmax(dim=-1).cpu().numpy()
            tables["predictions"] = pa.Table.from_arrays([ids, pa.array(predictions)], schema=PREDICTIONS_SCHEMA)
        for kind, table in tables.items():
            uri = storage.join(self._output_dirs[node_type], kind, f"part-{block:06d}.parquet")
            with storage.open_write(uri) as stream:
                pq.write_table(table, stream, compression="none", use_dictionary=False, write_statistics=["node_id"])
            Metrics.counter(metrics_namespace(node_type, self._role), f"{kind}_rows_written").inc(table.num_rows)
        yield stop - start


# ---- the pipeline ----------------------------------------------------------------------------


def completed_stages(states_dir: str, fingerprint: dict) -> int:
    """How many stages from the first are marked complete for this fingerprint."""
    stage = 0
    while storage.exists(done_uri(states_dir, stage)):
        record = json.loads(storage.read_text(done_uri(states_dir, stage)))
        if any(record.get(k) != v for k, v in fingerprint.items()):
            break
        stage += 1
    return stage


def build_pipeline(
    pipeline: beam.Pipeline,
    config: TaskConfig,
    spec: _ModelSpec,
    engine: BlockEngine,
    blocks: Blocks,
    graph_dir: str,
    states_dir: str,
    output_dirs: dict[str, str],
    fingerprint: dict,
    first_stage: int,
    label: str = "",
    role: str = "",
) -> None:
    """Every stage from first_stage, then the outputs, onto the pipeline."""
    program = engine.program
    stage_of = {n.name: program.stage[n] for n in program.node_type}
    inputs = engine.inputs
    edge_types = sorted({c.edge_type for plan in engine.plans[first_stage:] for calls in plan.calls.values() for c in calls})
    edges_by_source: dict[str, beam.PCollection] = {}
    for key in sorted({k[0] for k in edge_types}):
        tasks = []
        for edge_key in [k for k in edge_types if k[0] == key]:
            with storage.open_read(edges_uri(graph_dir, edge_key)) as stream:
                groups = pq.ParquetFile(stream).num_row_groups
            tasks += [(list(edge_key), g) for g in range(groups)]
        # Grouped by source block once; every layer's gather reads the same groups.
        edges_by_source[key] = (
            pipeline
            | f"{label}Edges from {key}" >> beam.Create(tasks)
            | f"{label}Spread edges from {key}" >> beam.Reshuffle()
            | f"{label}Read edges from {key}" >> beam.ParDo(_ReadEdgeGroup(graph_dir, blocks))
            | f"{label}Group edges from {key} by source block" >> beam.GroupByKey()
        )
    tick = pipeline | f"{label}Start at layer {first_stage}" >> beam.Create([0])
    for plan in engine.plans[first_stage:]:
        k = plan.stage
        name = f"{label}[layer {k}] "
        partials = []
        for src_type in plan.calls:
            needed = {s: stage_of[s] for s in engine.source_states(k, src_type)}
            gather = _Gather(spec, blocks, k, graph_dir, states_dir, needed, inputs, role)
            partials.append(
                edges_by_source[src_type]
                | f"{name}Gather from {src_type}" >> beam.ParDo(gather, layer_before_complete=beam.pvalue.AsSingleton(tick))
            )
        destinations = tick | f"{name}Destination blocks" >> beam.FlatMap(
            lambda _, types=tuple(plan.node_types): [((t, b), None) for t in types for b in range(blocks.count(t))]
        )
        grouped = {"block": destinations}
        if partials:
            grouped["merged"] = (
                partials
                | f"{name}Messages" >> beam.Flatten()
                | f"{name}Combine per destination block" >> beam.CombinePerKey(_MergePartials())
            )
        own = {t: {s: stage_of[s] for s in plan.own_states[t]} for t in plan.node_types}
        applied = (
            grouped
            | f"{name}Group by destination block" >> beam.CoGroupByKey()
            | f"{name}Apply" >> beam.ParDo(_Apply(spec, blocks, k, graph_dir, states_dir, own, inputs, role))
        )
        tick = (
            applied
            | f"{name}Count nodes" >> beam.CombineGlobally(sum)
            | f"{name}Mark complete" >> beam.ParDo(_MarkDone(states_dir, k, fingerprint))
        )
    final = {t: (engine.outputs[t], stage_of[engine.outputs[t]]) for t in config.root_node_types}
    kinds = [kind for kind, _ in output_kinds(config)]
    (
        tick
        | f"{label}Output blocks" >> beam.FlatMap(lambda _: [(t, b) for t in config.root_node_types for b in range(blocks.count(t))])
        | f"{label}Spread output blocks" >> beam.Reshuffle()
        | f"{label}Write outputs" >> beam.ParDo(_WriteOutputs(spec, blocks, states_dir, final, output_dirs, kinds, role))
    )


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


@dataclass
class BeamModel:
    """One model the job runs: the job's own (role "") or its champion's."""

    role: str
    config: TaskConfig  # the config whose inferencer and model file it is
    model_sha256: str
    engine: BlockEngine

    def spec(self, config: TaskConfig, resources: Resources) -> _ModelSpec:
        return _ModelSpec(config, self.config, self.model_sha256, resources.model_policy, self.engine.widths, resources.device)

    def fingerprint(self, blocks: Blocks, graph: dict[str, str]) -> dict:
        """What a layer's states depend on: a run resumes only when all of it is unchanged."""
        return {"config_sha256": self.config.sha256, "model_sha256": self.model_sha256, "block_nodes": blocks.block_nodes, "graph": graph}


def graph_version(config: TaskConfig, resources: Resources) -> dict[str, str]:
    """The version token of every node and edge file the job reads (a graph enumerated again has new ones)."""
    graph_dir = resources.layout.enumerated_graph_dir(config.graph_name)
    uris = [nodes_uri(graph_dir, t) for t in config.node_types] + [edges_uri(graph_dir, k) for k in config.edge_types]
    return {storage.basename(uri): "".join(v.version for v in storage.file_versions(uri)) for uri in uris}


def prepare_models(config: TaskConfig, resources: Resources, loaded, champion=None, progress=print) -> list[BeamModel]:
    """Split each model and check, on the probe graph, both the split and the block engine's
    answer against its own forward: a model engine BEAM cannot compute exactly is refused here."""
    from gnn_assets.layerwise.blocks import probe_blocks

    types = graph_types(config)
    dims = dict(zip(types.node_types, types.feature_dims))
    signature = GraphSignature(tuple(types.node_types), tuple(types.edge_types), types.is_heterogeneous)
    device = torch.device("cpu")  # the driver only checks; workers run on the deployment's device
    todo = [("", config, loaded, loaded.weights.sha256)]
    if champion is not None:
        todo.append((CHAMPION, champion.config, load_inferencer(champion.config, resources.model_policy, champion.model_sha256), champion.model_sha256))
    models = []
    for role, model_config, model_loaded, sha256 in todo:
        model, program, row_bytes = split_and_probe(model_loaded, model_config, signature, dims, device, progress)
        widths = probe_blocks(program, model.module, dims, row_bytes, device)
        models.append(BeamModel(role, model_config, sha256, BlockEngine(program, widths, device)))
        kinds = sorted({c.kind for plan in models[-1].engine.plans for calls in plan.calls.values() for c in calls})
        progress(f"engine BEAM: the blocks match the forward on a probe graph; messages combined by {', '.join(kinds)}")
    return models


def states_dir_of(job_layout, run_id: str, role: str) -> str:
    return storage.join(job_layout.inference_run_dir(run_id), "layerwise_states", role or "own")


def output_dir_of(job_layout, run_id: str, node_type: str, role: str) -> str:
    return job_layout.champion_output_dir(run_id, node_type) if role else job_layout.inference_output_dir(run_id, node_type)


def build_job(
    pipeline: beam.Pipeline,
    config: TaskConfig,
    resources: Resources,
    models: list[BeamModel],
    blocks: Blocks,
    run_id: str,
    graph: dict[str, str],
) -> dict[str, int]:
    """Every model's remaining layers and outputs onto the pipeline; the first layer each starts
    at. graph: the version of the graph's files (graph_version), part of each layer's mark."""
    job_layout = job_layout_of(resources.layout, config.task_name, config.job_name)
    graph_dir = resources.layout.enumerated_graph_dir(config.graph_name)
    firsts = {}
    for model in models:
        states_dir = states_dir_of(job_layout, run_id, model.role)
        fingerprint = model.fingerprint(blocks, graph)
        firsts[model.role] = first = completed_stages(states_dir, fingerprint)
        build_pipeline(
            pipeline,
            config,
            model.spec(config, resources),
            model.engine,
            blocks,
            graph_dir,
            states_dir,
            {t: output_dir_of(job_layout, run_id, t, model.role) for t in config.root_node_types},
            fingerprint,
            first,
            label=f"{model.role} " if model.role else "",
            role=model.role,
        )
    return firsts


def resumable_run(job_layout, models: list[BeamModel], blocks: Blocks, graph: dict[str, str]) -> str | None:
    """The newest uncommitted run of this job with layers complete for the same models and blocks."""
    from gnn_assets.outputs.published import NoCommittedOutput, read_committed

    try:
        committed = read_committed(job_layout).run_id
    except (NoCommittedOutput, Exception):  # noqa: BLE001 - an unreadable manifest resumes nothing
        committed = ""
    for run_id in sorted(storage.child_names(storage.join(job_layout.inference_dir, "runs")), reverse=True):
        if run_id > committed and completed_stages(states_dir_of(job_layout, run_id, ""), models[0].fingerprint(blocks, graph)) > 0:
            return run_id
    return None


class BeamEngine:
    """Engine BEAM: the graph in blocks of nodes, each layer a Beam stage (gather, combine, apply),
    states through storage between layers; a failed run resumes at its first incomplete layer."""

    name = "BEAM"

    def __init__(self, dagster_run_id: str | None = None):
        self.dagster_run_id = dagster_run_id

    def compute(self, run: LayerwiseRun) -> InferenceJobResult:
        config, resources, job_layout = run.job.config, run.job.resources, run.job.layout
        loaded, champion, progress, num_nodes = run.loaded, run.champion, run.progress, run.num_nodes
        graph_dir = run.job.graph_dir
        blocks = Blocks(config.layerwise_block_nodes, num_nodes)
        models = prepare_models(config, resources, loaded, champion, progress)
        graph = graph_version(config, resources)
        run_id = resumable_run(job_layout, models, blocks, graph) or new_run_id()
        options = pipeline_options(resources, config.task_name, config.job_name, dagster_run_id=self.dagster_run_id)
        pipeline = beam.Pipeline(options=options)
        firsts = build_job(pipeline, config, resources, models, blocks, run_id, graph)
        layers = len(models[0].engine.plans)
        if firsts[""]:
            progress(f"resuming run {run_id} at layer {firsts['']}: layers 0..{firsts[''] - 1} are complete")
        progress(
            f"layer-wise on Beam ({resources.runner_kind}): {sum(num_nodes.values()):,} nodes in {sum(blocks.count(t) for t in num_nodes)} "
            f"blocks of up to {blocks.block_nodes:,}, {layers - 1} message-passing layers (run {run_id})"
        )
        with _StageWatcher(states_dir_of(job_layout, run_id, ""), range(firsts[""], layers), progress):
            result, job_id, console_url = run_to_completion(pipeline, resources, progress, "layer-wise Beam job")
        metrics = beam_counters(result, "gnn_assets.")
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
                namespace = metrics_namespace(node_type, model.role)
                outputs[node_type] = NodeTypeOutput(
                    output_dir_of(job_layout, run_id, node_type, model.role),
                    samples=num_nodes[node_type],
                    dead_letters=0,
                    rows_by_kind={kind: int(metrics.get(f"{namespace}/{kind}_rows_written", 0)) for kind in kinds},
                )
        edges = {k: parquet_rows(edges_uri(graph_dir, k)) for k in config.edge_types}
        shuffle = {
            plan.stage: int(metrics.get(f"{NAMESPACE}/layer_{plan.stage}_shuffle_bytes", 0)) for plan in models[0].engine.plans if plan.calls
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
            "shuffle_bytes": {str(k): v for k, v in shuffle.items()},
            "shuffle_bytes_per_edge": {str(k): round(v / max(layer_edges[k], 1), 1) for k, v in shuffle.items() if k >= firsts[""]},
            "nodes": num_nodes,
            "edges": {"-".join(k): v for k, v in edges.items()},
            "spill_bytes": 0,
            "budget_bytes": 0,
        }
        job.metrics = {**metrics, "layerwise/layers": layers - 1, "layerwise/chunks": sum(blocks.count(t) for t in num_nodes)}
        return job

    def after_commit(self, run: LayerwiseRun, result: InferenceJobResult) -> None:
        """Published: the layers' states are spent."""
        storage.delete_tree(storage.join(run.job.layout.inference_run_dir(result.run_id), "layerwise_states"))
