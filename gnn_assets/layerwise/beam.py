"""Layer-wise inference as a Beam job (gnnAssetsConfig.layerwise.engine: BEAM), for graphs that
outgrow one machine: FnApiRunner locally, Dataflow from resources/gcp.yaml.

The same split program and block functions (blocks.py) as everywhere else; one Beam stage group
per message-passing layer:

    row groups of the edge files ─ Gather (reads its edges and, run by run of sources, their
        states from the layer before's files; that layer's completion is a side input) ─ partial
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
"""

from __future__ import annotations

import io
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
from gnn_assets.graph.enumerated_layout import edge_type_name, edges_uri, nodes_uri
from gnn_assets.inference.model_handler import metrics_namespace
from gnn_assets.inference.protocol import load_inferencer, move_to_device, resolve_device
from gnn_assets.inference.task_specs import graph_types
from gnn_assets.graph.csr import load_in_edges
from gnn_assets.incremental.base import resolve_base
from gnn_assets.incremental.kept import KeptRun, keep_graph, read_state
from gnn_assets.incremental.plan import IncrementalPlan
from gnn_assets.outputs.champion import CHAMPION
from gnn_assets.outputs.published import EMBEDDINGS_SCHEMA, PREDICTIONS_SCHEMA, InferenceJobResult, NodeTypeOutput, new_run_id, output_kinds, parquet_rows
from gnn_assets.beam.runners import beam_counters, pipeline_options, run_to_completion, torch_threads_per_worker
from gnn_assets.layerwise.blocks import BlockEngine, Blocks, Partial, count_degrees, runs
from gnn_assets.layerwise.frame import LayerwiseRun
from gnn_assets.layerwise.messages import Outbox, read_messages, write_messages
from gnn_assets.layerwise.job import layerwise_model_of, read_features, split_and_probe
from gnn_assets.layerwise.split import GraphSignature, split_model

NAMESPACE = "gnn_assets.layerwise"


def layer_namespace(role: str) -> str:
    """Beam metrics of the job's own model's layers, or of its champion's (role "champion")."""
    return NAMESPACE + (f".{role}" if role else "")
PROGRESS_POLL_SECONDS = 2.0


# ---- state files -----------------------------------------------------------------------------


def state_uri(states_dir: str, stage: int, node_type: str, block: int) -> str:
    return storage.join(states_dir, f"stage-{stage}", node_type, f"block-{block:06d}.parquet")


def degrees_uri(states_dir: str, key, block: int) -> str:
    return storage.join(states_dir, "degrees", edge_type_name(tuple(key)), f"block-{block:06d}.parquet")


def messages_dir(states_dir: str, stage: int | str) -> str:
    return storage.join(states_dir, "messages", f"stage-{stage}")


def done_uri(states_dir: str, stage: int) -> str:
    return storage.join(states_dir, f"stage-{stage}.done")


def write_states(uri: str, start: int, states: dict[str, np.ndarray]) -> None:
    """A piece's states as Parquet (`node_id` and one column per state)."""
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
    if not pa.types.is_fixed_size_list(column.type):  # a scalar column (degree files)
        return column.to_numpy(zero_copy_only=False)
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return values.reshape(len(column), -1)


def read_rows(uri: str, start: int, stop: int, names: list[str]) -> dict[str, np.ndarray]:
    """Rows start..stop-1 (counted in the file) of matrix columns of a Parquet file, reading only
    the row groups they lie in."""
    with storage.open_read(uri) as stream:
        parquet = pq.ParquetFile(stream, pre_buffer=False)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
        offset = 0
        for group in range(parquet.num_row_groups):
            rows = parquet.metadata.row_group(group).num_rows
            if offset < stop and offset + rows > start:
                table = parquet.read_row_group(group, columns=names)
                for name in names:
                    parts[name].append(_matrix(table[name])[max(start - offset, 0) : stop - offset])
            offset += rows
    return {name: np.concatenate(p) if p else np.zeros((0, 0), np.float32) for name, p in parts.items()}


def read_node_rows(uri: str, start: int, stop: int) -> np.ndarray:
    """Feature rows start..stop-1 of an enumeration's node file, reading only the row groups they lie in."""
    return read_rows(uri, start, stop, ["features"])["features"]


# ---- the model on a worker ---------------------------------------------------------------------


class _ModelSpec:
    """What a worker needs to rebuild the block engine: plain values, so that it pickles."""

    def __init__(
        self, config: TaskConfig, model_config: TaskConfig, model_sha256: str, policy: ModelPolicy, widths: dict[str, int], device: str, torch_threads: int | None
    ):
        self.graph_yaml, self.graph_uri = config.to_yaml(), config.uri
        self.model_yaml, self.model_uri = model_config.to_yaml(), model_config.uri
        self.model_sha256, self.policy, self.widths, self.device = model_sha256, policy, widths, device
        self.torch_threads = torch_threads  # torch_threads_per_worker: local workers share the cores

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
        if self._spec.torch_threads and torch.get_num_threads() != self._spec.torch_threads:
            torch.set_num_threads(self._spec.torch_threads)
        key = self._spec.key()
        with _LOADING:
            if key not in _LOADED:
                _LOADED[key] = self._spec.load()
            self.engine, self.head = _LOADED[key]


# ---- transforms ------------------------------------------------------------------------------


def _rows_across_blocks(uri_of, blocks: Blocks, node_type: str, start: int, stop: int, names: list[str]) -> dict[str, list[np.ndarray]]:
    """Rows start..stop-1 of per-block files (uri_of(block)), from the blocks they lie in."""
    found: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for block in range(start // blocks.block_nodes, (max(stop, start + 1) - 1) // blocks.block_nodes + 1):
        lo, hi = blocks.range(node_type, block)
        for name, values in read_rows(uri_of(block), max(start, lo) - lo, min(stop, hi) - lo, names).items():
            found[name].append(values)
    return found


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def read_state_rows(graph_dir, states_dir, blocks: Blocks, node_type, start: int, stop: int, names: dict[str, int], inputs: dict[str, str]):
    """Rows start..stop-1 of a node type's states (by name: the stage that computed each) and
    input features, from the files of the blocks they lie in."""
    found: dict[str, np.ndarray] = {}
    by_stage: dict[int, list[str]] = {}
    for name, stage in names.items():
        if name in inputs:
            found[name] = read_node_rows(nodes_uri(graph_dir, node_type), start, stop)
        else:
            by_stage.setdefault(stage, []).append(name)
    for stage, stage_names in by_stage.items():
        rows = _rows_across_blocks(lambda b, stage=stage: state_uri(states_dir, stage, node_type, b), blocks, node_type, start, stop, stage_names)
        found.update({name: _joined(parts) for name, parts in rows.items()})
    return found


def read_degree_rows(states_dir, blocks: Blocks, keys, start: int, stop: int) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """Rows start..stop-1 of the degree pass's (other in-edges, has a self loop), by edge type."""
    found = {}
    for key in keys:
        rows = _rows_across_blocks(lambda b, key=key: degrees_uri(states_dir, key, b), blocks, key[2], start, stop, ["other", "looped"])
        found[tuple(key)] = (_joined(rows["other"]), _joined(rows["looped"]))
    return found


def read_edge_group(graph_dir: str, key, group: int) -> tuple[np.ndarray, np.ndarray]:
    """(src, dst) of one row group of an edge type's enumerated edges."""
    with storage.open_read(edges_uri(graph_dir, key)) as stream:
        table = pq.ParquetFile(stream, pre_buffer=False).read_row_group(group, columns=["src", "dst"])
    return table["src"].to_numpy(), table["dst"].to_numpy()


def _in_global_window(elements):
    """What a finish_bundle emits: each element as a value of the global window."""
    for element in elements:
        yield beam.utils.windowed_value.WindowedValue(element, 0, [beam.transforms.window.GlobalWindow()])


class Increment:
    """What the workers of an incremental job read (files the driver wrote from its
    IncrementalPlan): per stage and node type the sorted ids to recompute, per node type the
    base's id of each node (-1: added), and the base's kept states. Loaded once per process."""

    def __init__(self, directory: str, kept: KeptRun):
        self.directory, self.kept = directory, kept

    def recomputed_uri(self, stage: int, node_type: str) -> str:
        return storage.join(self.directory, f"recompute-stage-{stage}-{node_type}.npy")

    def old_of_new_uri(self, node_type: str) -> str:
        return storage.join(self.directory, f"old_of_new-{node_type}.npy")

    def write(self, plan: dict[int, dict[str, np.ndarray]], old_of_new: dict[str, np.ndarray]) -> None:
        for stage, by_type in plan.items():
            for node_type, ids in by_type.items():
                _save_npy(self.recomputed_uri(stage, node_type), np.asarray(ids, dtype=np.int64))
        for node_type, old in old_of_new.items():
            _save_npy(self.old_of_new_uri(node_type), np.asarray(old, dtype=np.int64))

    def recomputed(self, stage: int, node_type: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The ids the stage recomputes, those in start..stop-1 where given."""
        uri = self.recomputed_uri(stage, node_type)
        ids = _cached_npy(uri) if storage.exists(uri) else np.zeros(0, np.int64)
        if stop is None:
            return ids
        return ids[np.searchsorted(ids, start) : np.searchsorted(ids, stop)]

    def base_rows(self, name: str, node_type: str, start: int, stop: int) -> np.ndarray:
        """A kept state of the base at this graph's ids start..stop-1 (zeros for added nodes)."""
        key = self.kept.state_uri(name)
        if key not in _NPY:
            _NPY[key] = read_state(self.kept, name)
        values = _NPY[key]
        old = _cached_npy(self.old_of_new_uri(node_type))[start:stop]
        rows = np.zeros((stop - start, *values.shape[1:]), dtype=np.float32)
        present = old >= 0
        rows[present] = values[old[present]]
        return rows


_NPY: dict[str, np.ndarray] = {}  # per worker process


def _save_npy(uri: str, array: np.ndarray) -> None:
    with storage.open_write(uri) as stream:
        np.save(stream, array, allow_pickle=False)


def _cached_npy(uri: str) -> np.ndarray:
    if uri not in _NPY:
        _NPY[uri] = np.load(io.BytesIO(storage.read_bytes(uri)), allow_pickle=False)
    return _NPY[uri]


class _Gather(_WithEngine):
    """One row group of an edge type's enumerated edges (sorted by source), in runs of sources
    small enough for the worker: each run's states (read from the layer before's files: states
    travel through storage, not the shuffle) travel along its edges -> partial messages per
    destination block, combined in the outbox and sent in bounded pieces. Runs once the layer
    before is complete (its completion is a side input)."""

    def __init__(
        self, spec, blocks, stage: int, graph_dir: str, states_dir: str, names: dict[str, int], inputs: dict[str, str], role: str,
        limits: dict[str, int], degree_types: list, increment: "Increment | None",
    ):
        """degree_types: edge types of the GCN calls from this source type (their sources' degrees
        travel too); increment: an incremental job's inputs (only the in-edges of the nodes the
        stage recomputes are gathered)."""
        super().__init__(spec, blocks)
        self._stage, self._graph_dir, self._states_dir, self._names, self._inputs = stage, graph_dir, states_dir, names, inputs
        self._limits, self._degree_types, self._increment = limits, degree_types, increment
        namespace = layer_namespace(role)
        self._bytes = Metrics.counter(namespace, f"layer_{stage}_message_bytes")
        self._edges = Metrics.counter(namespace, f"layer_{stage}_edges")
        self._largest = Metrics.distribution(namespace, f"layer_{stage}_message_piece_bytes")

    def start_bundle(self):
        self._outbox = Outbox(self._limits["combine_bytes"])

    def _posted(self, sent):
        """The partials written to one message file; a reference to each, by destination piece."""
        if not sent:
            return []
        for _, part in sent:
            self._bytes.inc(part.nbytes)
            self._largest.update(part.nbytes)
        return write_messages(messages_dir(self._states_dir, self._stage), sent)

    def process(self, task):
        key, group = task
        key = tuple(key)
        src, dst = read_edge_group(self._graph_dir, key, group)
        if self._increment is not None:
            recomputed = self._increment.recomputed(self._stage, key[2])
            position = np.minimum(np.searchsorted(recomputed, dst), max(len(recomputed) - 1, 0))
            wanted = recomputed[position] == dst if len(recomputed) else np.zeros(len(dst), bool)
            src, dst = src[wanted], dst[wanted]
        self._edges.inc(len(src))
        run = self._limits["run_edges"]
        for lo in range(0, len(src), run):
            s, d = src[lo : lo + run], dst[lo : lo + run]
            first, last = int(s[0]), int(s[-1]) + 1
            states = read_state_rows(self._graph_dir, self._states_dir, self._blocks, key[0], first, last, self._names, self._inputs)
            degrees = read_degree_rows(self._states_dir, self._blocks, [k for k in self._degree_types if k == key], first, last)
            sent = []
            for target, part in self.engine.gather(self._stage, self._blocks, key[0], first, states, {key: (s, d)}, degrees):
                sent += self._outbox.add(target, part)
            yield from self._posted(sent)

    def finish_bundle(self):
        yield from _in_global_window(self._posted(self._outbox.flush()))


class _Apply(_WithEngine):
    """A destination block's layer: own states + its messages (pieces, merged here) -> its new
    states, written."""

    def __init__(
        self, spec, pieces, stage: int, graph_dir: str, states_dir: str, own: dict[str, dict[str, int]], inputs: dict[str, str], role: str,
        degree_types: dict[str, list], kept: dict[str, list[str]], increment: "Increment | None",
    ):
        """degree_types: by destination type, the edge types of the GCN calls into it; kept: the
        states the stage writes per type; increment: an incremental job's inputs (rows the stage
        does not recompute are the base's)."""
        super().__init__(spec, pieces)
        self._stage, self._graph_dir, self._states_dir, self._own, self._inputs = stage, graph_dir, states_dir, own, inputs
        self._degree_types, self._kept, self._increment = degree_types, kept, increment
        self._nodes = Metrics.counter(layer_namespace(role), f"layer_{stage}_nodes")

    def process(self, element):
        (node_type, block), grouped = element
        start, stop = self._blocks.range(node_type, block)
        recomputed = None if self._increment is None else self._increment.recomputed(self._stage, node_type, start, stop)
        if recomputed is not None and not len(recomputed):
            states = {name: self._increment.base_rows(name, node_type, start, stop) for name in self._kept[node_type]}
        else:
            merged = read_messages(list(grouped["parts"]))
            own = read_state_rows(self._graph_dir, self._states_dir, self._blocks, node_type, start, stop, self._own[node_type], self._inputs)
            degrees = read_degree_rows(self._states_dir, self._blocks, self._degree_types[node_type], start, stop)
            with torch.inference_mode():
                states = self.engine.apply(self._stage, self._blocks, node_type, block, own, merged, degrees)
            if recomputed is not None:  # the recomputed rows had every in-edge; the others are the base's
                keep = np.ones(stop - start, bool)
                keep[recomputed - start] = False
                for name, values in states.items():
                    values[keep] = self._increment.base_rows(name, node_type, start, stop)[keep]
        if states:
            write_states(state_uri(self._states_dir, self._stage, node_type, block), start, states)
        self._nodes.inc(stop - start)
        yield stop - start


class _CountDegrees(beam.DoFn):
    """One row group of an edge type's edges -> per destination block, each destination's
    in-edges other than self loops (counts) and self loops (values), combined in the outbox."""

    def __init__(self, graph_dir: str, states_dir: str, blocks: Blocks, limits: dict[str, int]):
        self._graph_dir, self._states_dir, self._blocks, self._limits = graph_dir, states_dir, blocks, limits

    def start_bundle(self):
        self._outbox = Outbox(self._limits["combine_bytes"])

    def _posted(self, sent):
        return write_messages(messages_dir(self._states_dir, "degrees"), sent) if sent else []

    def process(self, task):
        key, group = task
        key = tuple(key)
        src, dst = read_edge_group(self._graph_dir, key, group)
        order = np.argsort(dst // self._blocks.block_nodes, kind="stable")
        src, dst = src[order], dst[order]
        sent = []
        for target, lo, hi in runs(dst // self._blocks.block_nodes):
            first, last = self._blocks.range(key[2], target)
            other, looped = count_degrees(src[lo:hi] - first, dst[lo:hi] - first, last - first)
            rows = np.flatnonzero((other > 0) | looped)
            loops = looped[rows].astype(np.float32).reshape(-1, 1)
            sent += self._outbox.add((key[2], target), Partial(edge_type_name(key), "sum", rows, loops, other[rows]))
        yield from self._posted(sent)

    def finish_bundle(self):
        yield from _in_global_window(self._posted(self._outbox.flush()))


class _WriteDegrees(beam.DoFn):
    """A destination block's degrees (other in-edges, has a self loop) per edge type, written."""

    def __init__(self, states_dir: str, blocks: Blocks, keys: list):
        self._states_dir, self._blocks, self._keys = states_dir, blocks, keys

    def process(self, element):
        (node_type, block), grouped = element
        counted = read_messages(list(grouped["parts"]))
        start, stop = self._blocks.range(node_type, block)
        for key in (k for k in self._keys if k[2] == node_type):
            other, looped = np.zeros(stop - start, np.int64), np.zeros(stop - start, bool)
            if edge_type_name(key) in counted:
                merged = counted[edge_type_name(key)]
                other[merged.rows], looped[merged.rows] = merged.counts, merged.values[:, 0] > 0
            with storage.open_write(degrees_uri(self._states_dir, key, block)) as stream:
                pq.write_table(pa.table({"other": other, "looped": looped}), stream, compression="none")
        yield stop - start


class _DeleteMessages(beam.DoFn):
    """Once every piece has read them: a pass's message files are spent."""

    def __init__(self, directory: str):
        self._directory = directory

    def process(self, count):
        storage.delete_tree(self._directory)
        yield count


class _MarkDone(beam.DoFn):
    def __init__(self, states_dir: str, stage: int, fingerprint: dict):
        self._states_dir, self._stage, self._fingerprint = states_dir, stage, fingerprint

    def process(self, nodes: int):
        now = time.time()
        record = {**self._fingerprint, "stage": self._stage, "nodes": int(nodes), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "at_unix": now}
        # A resumed run reads these pieces as they are: their content hashes decide whether it may.
        record["piece_sha256"] = {uri: storage.sha256(uri) for uri in _stage_pieces(self._states_dir, self._stage)}
        storage.replace_atomically(done_uri(self._states_dir, self._stage), json.dumps(record, sort_keys=True).encode())
        storage.delete_tree(messages_dir(self._states_dir, self._stage))  # read by every apply of the layer: spent
        yield nodes


class _WriteOutputs(_WithEngine):
    """A root block's final states (and the head's predictions) in the raw output layout, read
    from its pieces' files."""

    def __init__(self, spec, blocks, pieces, graph_dir: str, states_dir: str, final: dict[str, tuple[str, int]], output_dirs: dict[str, str], kinds: list[str], role: str):
        super().__init__(spec, blocks)
        self._pieces, self._graph_dir, self._states_dir, self._final = pieces, graph_dir, states_dir, final
        self._output_dirs, self._kinds, self._role = output_dirs, kinds, role

    def process(self, element):
        node_type, block = element
        name, stage = self._final[node_type]
        start, stop = self._blocks.range(node_type, block)
        values = read_state_rows(self._graph_dir, self._states_dir, self._pieces, node_type, start, stop, {name: stage}, {})[name]
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


def _stage_pieces(states_dir: str, stage: int) -> list[str]:
    return storage.glob(storage.join(states_dir, f"stage-{stage}", "*", "*.parquet"))


def completed_stages(states_dir: str, fingerprint: dict, progress=lambda _: None) -> int:
    """How many stages from the first are marked complete for this fingerprint, with every piece
    file as it was when the stage completed (a piece gone, cut or changed since makes its stage
    run again, as does an unreadable mark)."""
    stage = 0
    while storage.exists(done_uri(states_dir, stage)):
        try:
            record = json.loads(storage.read_text(done_uri(states_dir, stage)))
            recorded = dict(record["piece_sha256"])
        except (ValueError, KeyError, TypeError) as error:
            progress(f"{done_uri(states_dir, stage)} is not a mark this version reads ({error}): computing from layer {stage} again")
            break
        if any(record.get(k) != v for k, v in fingerprint.items()):
            break
        changed = next((uri for uri in sorted(recorded) if not storage.exists(uri) or storage.sha256(uri) != recorded[uri]), None)
        if changed is not None:
            progress(f"{changed} is gone or changed since layer {stage} completed (content hash): computing from layer {stage} again")
            break
        stage += 1
    return stage


def _row_groups(uri: str) -> int:
    with storage.open_read(uri) as stream:
        return pq.ParquetFile(stream).num_row_groups


def _degree_pass(pipeline, graph_dir, states_dir, blocks: Blocks, keys: list, limits: dict[str, int], label: str):
    """Before the first layer with a GCN call: every node's in-degree per edge type of one,
    written per destination block (degrees_uri). Returns the pass's completion, as a tick."""
    tasks = [(list(key), g) for key in keys for g in range(_row_groups(edges_uri(graph_dir, key)))]
    types = sorted({key[2] for key in keys})
    grouped = {
        "block": pipeline
        | f"{label}[degrees] Destination pieces" >> beam.Create([((t, b), None) for t in types for b in range(blocks.count(t))]),
        "parts": pipeline
        | f"{label}[degrees] Edges" >> beam.Create(tasks)
        | f"{label}[degrees] Spread edges" >> beam.Reshuffle()
        | f"{label}[degrees] Count in-edges" >> beam.ParDo(_CountDegrees(graph_dir, states_dir, blocks, limits)),
    }
    return (
        grouped
        | f"{label}[degrees] Group by destination piece" >> beam.CoGroupByKey()
        | f"{label}[degrees] Write" >> beam.ParDo(_WriteDegrees(states_dir, blocks, keys))
        | f"{label}[degrees] Count nodes" >> beam.CombineGlobally(sum)
        | f"{label}[degrees] Delete their messages" >> beam.ParDo(_DeleteMessages(messages_dir(states_dir, "degrees")))
    )


def worker_limits(config: TaskConfig, engine: BlockEngine) -> dict[str, int]:
    """What one worker holds at once, from the config, never from the graph: partial aggregates
    waiting to be sent (combineMb), the sources gathered in one run (a quarter of combineMb of
    their messages) and the nodes of a piece, the unit a layer is applied to and its states are
    written in (about pieceKb of the widest state; the messages to a piece are what each worker
    sent it)."""
    piece, combine = config.layerwise_piece_bytes, config.layerwise_combine_bytes
    row = 4 * max(engine.widths.values(), default=1) + 16
    return {
        "combine_bytes": combine,
        "run_edges": max(1024, combine // 4 // row),
        "piece_nodes": min(config.layerwise_block_nodes, max(16, piece // row)),
    }


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
    increment: Increment | None = None,
) -> None:
    """Every stage from first_stage, then the outputs, onto the pipeline. Layers run over pieces
    of blocks (worker_limits); the outputs are written per block."""
    program = engine.program
    stage_of = {n.name: program.stage[n] for n in program.node_type}
    inputs = engine.inputs
    limits = worker_limits(config, engine)
    pieces = Blocks(limits["piece_nodes"], blocks.num_nodes)
    edge_types = sorted({c.edge_type for plan in engine.plans[first_stage:] for calls in plan.calls.values() for c in calls})
    # One task per row group of the edge files; every layer's gather reads its edges from
    # storage again, so edges never travel through the shuffle.
    tasks_by_source = {
        key: tuple((list(edge_key), g) for edge_key in edge_types if edge_key[0] == key for g in range(_row_groups(edges_uri(graph_dir, edge_key))))
        for key in sorted({k[0] for k in edge_types})
    }
    degree_types = engine.degree_edge_types(first_stage)
    if degree_types:  # the first layer waits for the degrees as each layer waits for the one before
        tick = _degree_pass(pipeline, graph_dir, states_dir, pieces, degree_types, limits, label)
    else:
        tick = pipeline | f"{label}Start at layer {first_stage}" >> beam.Create([0])
    for plan in engine.plans[first_stage:]:
        k = plan.stage
        name = f"{label}[layer {k}] "
        grouped = {
            "block": tick
            | f"{name}Destination pieces"
            >> beam.FlatMap(lambda _, types=tuple(plan.node_types): [((t, b), None) for t in types for b in range(pieces.count(t))])
        }
        partials = []
        for src_type in plan.calls:
            needed = {s: stage_of[s] for s in engine.source_states(k, src_type)}
            gcn_types = sorted({c.edge_type for c in plan.calls[src_type] if c.gcn is not None})
            gather = _Gather(spec, pieces, k, graph_dir, states_dir, needed, inputs, role, limits, gcn_types, increment)
            # The layer before's completion emits this layer's tasks (a main input, not a side
            # input: one edge-task collection read by every layer's gather with the ticks as side
            # inputs was fused into one stage waiting on its own output, from 3 layers on).
            partials.append(
                tick
                | f"{name}Edges from {src_type}" >> beam.FlatMap(lambda _, tasks=tasks_by_source[src_type]: tasks)
                | f"{name}Spread edges from {src_type}" >> beam.Reshuffle()
                | f"{name}Gather from {src_type}" >> beam.ParDo(gather)
            )
        if partials:
            grouped["parts"] = partials | f"{name}Messages" >> beam.Flatten()
        own = {t: {s: stage_of[s] for s in plan.own_states[t]} for t in plan.node_types}
        gcn_into = {t: sorted({c.edge_type for c in plan.calls_into(t) if c.gcn is not None}) for t in plan.node_types}
        applied = (
            grouped
            | f"{name}Group by destination piece" >> beam.CoGroupByKey()
            | f"{name}Apply"
            >> beam.ParDo(_Apply(spec, pieces, k, graph_dir, states_dir, own, inputs, role, gcn_into, plan.kept, increment))
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
        | f"{label}Write outputs" >> beam.ParDo(_WriteOutputs(spec, blocks, pieces, graph_dir, states_dir, final, output_dirs, kinds, role))
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


def _stage_seconds(states_dir: str, stages: range, started: float, finished: float) -> dict[str, float]:
    """Wall seconds of each stage this run computed (from its completion marks; the first
    includes the job's start and the degree pass) and of writing the outputs."""
    seconds, before = {}, started
    for stage in stages:
        at = json.loads(storage.read_text(done_uri(states_dir, stage))).get("at_unix", before)
        seconds[str(stage)], before = round(at - before, 1), at
    seconds["outputs"] = round(finished - before, 1)
    return seconds


@dataclass
class BeamModel:
    """One model the job runs: the job's own (role "") or its champion's."""

    role: str
    config: TaskConfig  # the config whose inferencer and model file it is
    model_sha256: str
    engine: BlockEngine
    piece_nodes: int  # worker_limits: the unit its layers are applied to

    def spec(self, config: TaskConfig, resources: Resources) -> _ModelSpec:
        return _ModelSpec(
            config, self.config, self.model_sha256, resources.model_policy, self.engine.widths, resources.device, torch_threads_per_worker(resources)
        )

    def fingerprint(self, blocks: Blocks, graph: dict[str, str]) -> dict:
        """What a layer's states depend on: a run resumes only when all of it is unchanged."""
        return {
            "config_sha256": self.config.sha256,
            "model_sha256": self.model_sha256,
            "block_nodes": blocks.block_nodes,
            "piece_nodes": self.piece_nodes,
            "graph": graph,
        }


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
        engine = BlockEngine(program, widths, device)
        models.append(BeamModel(role, model_config, sha256, engine, worker_limits(config, engine)["piece_nodes"]))
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
    increment: Increment | None = None,
    progress=lambda _: None,
) -> dict[str, int]:
    """Every model's remaining layers and outputs onto the pipeline; the first layer each starts
    at. graph: the version of the graph's files (graph_version), part of each layer's mark;
    increment: an incremental job's inputs, for the job's own model (a champion runs whole)."""
    job_layout = job_layout_of(resources.layout, config.task_name, config.job_name)
    graph_dir = resources.layout.enumerated_graph_dir(config.graph_name)
    firsts = {}
    for model in models:
        states_dir = states_dir_of(job_layout, run_id, model.role)
        fingerprint = model.fingerprint(blocks, graph)
        firsts[model.role] = first = completed_stages(states_dir, fingerprint, progress)
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
            increment=None if model.role else increment,
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


def _graph_in_memory(config: TaskConfig, graph_dir: str, num_nodes: dict[str, int]):
    """Every node type's features and every edge type's in-edge CSR."""
    types = graph_types(config)
    dims = dict(zip(types.node_types, types.feature_dims))
    features = {t: read_features(nodes_uri(graph_dir, t), torch.empty((num_nodes[t], dims[t]))) for t in types.node_types}
    in_edges = {key: load_in_edges(graph_dir, key, num_nodes[key[0]], num_nodes[key[2]]) for key in types.edge_types}
    return features, in_edges


def keep_piece_states(states_dir: str, model: BeamModel, num_nodes: dict[str, int], kept: KeptRun) -> KeptRun:
    """The run's layer states in the kept layout every engine reads (incremental/kept.py): one
    .npy per state over all nodes, streamed piece by piece (one piece in memory at a time)."""
    pieces = Blocks(model.piece_nodes, num_nodes)
    for plan in model.engine.plans:
        for node_type, names in plan.kept.items():
            for name in names:
                uri = kept.state_uri(name)
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

    def compute(self, run: LayerwiseRun) -> InferenceJobResult:
        config, resources, job_layout = run.job.config, run.job.resources, run.job.layout
        loaded, champion, progress, num_nodes = run.loaded, run.champion, run.progress, run.num_nodes
        graph_dir = run.job.graph_dir
        blocks = Blocks(config.layerwise_block_nodes, num_nodes)
        models = prepare_models(config, resources, loaded, champion, progress)
        graph = graph_version(config, resources)
        base = resolve_base(config, resources, loaded.weights.sha256) if config.incremental_base_job else None
        if config.incremental_base_job and base is None:
            progress(f"incremental.baseJob {config.incremental_base_job}: no committed run to start from yet; computing every node")
        features = in_edges = incremental = None
        if base is not None or config.keep_states:
            # The diff, the affected sets and the record of the graph are made here, on the driver:
            # it holds the graph's features and CSR for them (the layers run on the workers).
            features, in_edges = _graph_in_memory(config, graph_dir, num_nodes)
        if base is not None:
            incremental = IncrementalPlan(base, models[0].engine.program, graph_dir, graph_types(config), features, in_edges, num_nodes, config, progress)
            if incremental.plan is not None:
                graph = {**graph, "incremental_base": base.kept.states_dir}  # a resumed layer must have had the same base
        run_id = resumable_run(job_layout, models, blocks, graph) or new_run_id()
        increment = None
        if incremental is not None and incremental.plan is not None:
            increment = Increment(storage.join(job_layout.inference_run_dir(run_id), "incremental"), base.kept)
            increment.write(incremental.plan, incremental.change.old_of_new)
        options = pipeline_options(resources, config.task_name, config.job_name, dagster_run_id=self.dagster_run_id)
        pipeline = beam.Pipeline(options=options)
        firsts = build_job(pipeline, config, resources, models, blocks, run_id, graph, increment, progress)
        layers = len(models[0].engine.plans)
        if firsts[""]:
            progress(f"resuming run {run_id} at layer {firsts['']}: layers 0..{firsts[''] - 1} are complete")
        progress(
            f"layer-wise on Beam ({resources.runner_kind}): {sum(num_nodes.values()):,} nodes in {sum(blocks.count(t) for t in num_nodes)} "
            f"blocks of up to {blocks.block_nodes:,} (layers applied to pieces of {models[0].piece_nodes:,}), {layers - 1} message-passing "
            f"layers (run {run_id})"
        )
        threads, started = torch.get_num_threads(), time.time()
        try:
            with _StageWatcher(states_dir_of(job_layout, run_id, ""), range(firsts[""], layers), progress):
                result, job_id, console_url = run_to_completion(pipeline, resources, progress, "layer-wise Beam job")
        finally:
            torch.set_num_threads(threads)  # workers in this process (in_memory, multi_threading) may have set it
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
                namespace = metrics_namespace(node_type, model.role)
                outputs[node_type] = NodeTypeOutput(
                    output_dir_of(job_layout, run_id, node_type, model.role),
                    samples=num_nodes[node_type],
                    dead_letters=0,
                    rows_by_kind={kind: int(metrics.get(f"{namespace}/{kind}_rows_written", 0)) for kind in kinds},
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
            run_dir = job_layout.inference_run_dir(run_id)
            record = keep_graph(graph_dir, run_dir, features, list(config.edge_types), loaded.weights.sha256)
            job.details["kept"] = keep_piece_states(states_dir_of(job_layout, run_id, ""), models[0], num_nodes, record).to_dict()
        job.metrics = {**metrics, "layerwise/layers": layers - 1, "layerwise/chunks": sum(blocks.count(t) for t in num_nodes)}
        return job

    def after_commit(self, run: LayerwiseRun, result: InferenceJobResult) -> None:
        """Published: the layers' states are spent."""
        storage.delete_tree(storage.join(run.job.layout.inference_run_dir(result.run_id), "layerwise_states"))
