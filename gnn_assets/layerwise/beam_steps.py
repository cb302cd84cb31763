"""The steps of an engine BEAM job (gather, apply, the degree pass, marks, outputs), the model each
worker process loads once, and what the workers of an incremental job read (Increment)."""

from __future__ import annotations

import io
import json
import threading
import time

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from apache_beam.metrics.metric import Metrics

from gnn_assets import storage
from gnn_assets.config.resource_config import ModelPolicy
from gnn_assets.config.task_config import TaskConfig, parse_task_config
from gnn_assets.graph.enumerated_layout import edge_type_name
from gnn_assets.inference.model_handler import metrics_namespace
from gnn_assets.inference.protocol import LayerwiseModel, load_inferencer, move_to_device, resolve_device
from gnn_assets.inference.task_specs import graph_types
from gnn_assets.graph.id_shift import IdShift
from gnn_assets.incremental.kept import KeptReader, KeptRun
from gnn_assets.outputs.published import embeddings_table, predictions_table
from gnn_assets.layerwise.beam_states import (
    degrees_uri,
    done_uri,
    messages_dir,
    read_degree_rows,
    read_edge_group,
    read_state_rows,
    stage_pieces,
    state_uri,
    write_states,
)
from gnn_assets.layerwise.blocks import BlockEngine, Blocks, Partial, count_degrees, runs
from gnn_assets.layerwise.messages import Outbox, read_messages, write_messages
from gnn_assets.layerwise.probe import layerwise_model_of
from gnn_assets.layerwise.split import GraphSignature, split_model


NAMESPACE = "gnn_assets.layerwise"


def layer_namespace(role: str) -> str:
    """Beam metrics of the job's own model's layers, or of its champion's (role "champion")."""
    return NAMESPACE + (f".{role}" if role else "")


# ---- the model on a worker ---------------------------------------------------------------------


class ModelSpec:
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

    def load(self) -> tuple[BlockEngine, LayerwiseModel]:
        model_config = parse_task_config(self.model_yaml, self.model_uri)
        device = resolve_device(self.device)
        loaded = load_inferencer(model_config, self.policy, self.model_sha256)
        move_to_device(loaded.inferencer, device)
        model = layerwise_model_of(loaded.inferencer, model_config)
        types = graph_types(parse_task_config(self.graph_yaml, self.graph_uri))
        signature = GraphSignature(tuple(types.node_types), tuple(types.edge_types), types.is_heterogeneous)
        return BlockEngine(split_model(model.module, signature), self.widths, device), model


_LOADED: dict[tuple, tuple[BlockEngine, LayerwiseModel]] = {}
_LOADING = threading.Lock()


class WithEngine(beam.DoFn):
    """A step that needs the model: loaded and split once per worker process, whichever of the
    job's steps (gather, apply, write, for every layer) sets up first."""

    def __init__(self, spec: ModelSpec, blocks: Blocks):
        self._spec, self._blocks = spec, blocks

    def setup(self):
        if self._spec.torch_threads and torch.get_num_threads() != self._spec.torch_threads:
            torch.set_num_threads(self._spec.torch_threads)
        key = self._spec.key()
        with _LOADING:
            if key not in _LOADED:
                _LOADED[key] = self._spec.load()
            self.engine, self.model = _LOADED[key]




def _in_global_window(elements):
    """What a finish_bundle emits: each element as a value of the global window."""
    for element in elements:
        yield beam.utils.windowed_value.WindowedValue(element, 0, [beam.transforms.window.GlobalWindow()])


class Increment:
    """What the workers of an incremental job read (files the driver wrote from its
    IncrementalPlan): per stage and node type the sorted ids to recompute, per node type how ids
    moved since the base's enumeration, and the base's kept states. Loaded once per process."""

    def __init__(self, directory: str, kept: KeptRun):
        self.directory, self.kept = directory, kept

    def recomputed_uri(self, stage: int, node_type: str) -> str:
        return storage.join(self.directory, f"recompute-stage-{stage}-{node_type}.npy")

    def shift_uri(self, node_type: str) -> str:
        return storage.join(self.directory, f"shift-{node_type}.npz")

    def write(self, plan: dict[int, dict[str, np.ndarray]], shifts: dict[str, IdShift]) -> None:
        for stage, by_type in plan.items():
            for node_type, ids in by_type.items():
                _save_npy(self.recomputed_uri(stage, node_type), np.asarray(ids, dtype=np.int64))
        for node_type, shift in shifts.items():
            storage.write_bytes(self.shift_uri(node_type), shift.to_bytes())

    def recomputed(self, stage: int, node_type: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The ids the stage recomputes, those in start..stop-1 where given."""
        uri = self.recomputed_uri(stage, node_type)
        ids = _cached_npy(uri) if storage.exists(uri) else np.zeros(0, np.int64)
        if stop is None:
            return ids
        return ids[np.searchsorted(ids, start) : np.searchsorted(ids, stop)]

    def base_rows(self, name: str, node_type: str, start: int, stop: int) -> np.ndarray:
        """A kept state of the base at this graph's ids start..stop-1 (zeros for added nodes)."""
        if self.directory not in _READERS:
            shifts = {t: IdShift.from_bytes(storage.read_bytes(self.shift_uri(t))) for t in {s["node_type"] for s in self.kept.states.values()}}
            _READERS[self.directory] = KeptReader(self.kept, shifts)
        return _READERS[self.directory].rows(name, np.arange(start, stop, dtype=np.int64)).astype(np.float32, copy=False)


_READERS: dict[str, KeptReader] = {}  # per worker process
_NPY: dict[str, np.ndarray] = {}  # per worker process


def _save_npy(uri: str, array: np.ndarray) -> None:
    with storage.open_write(uri) as stream:
        np.save(stream, array, allow_pickle=False)


def _cached_npy(uri: str) -> np.ndarray:
    if uri not in _NPY:
        _NPY[uri] = np.load(io.BytesIO(storage.read_bytes(uri)), allow_pickle=False)
    return _NPY[uri]


class Gather(WithEngine):
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


class Apply(WithEngine):
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


class CountDegrees(beam.DoFn):
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


class WriteDegrees(beam.DoFn):
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


class DeleteMessages(beam.DoFn):
    """Once every piece has read them: a pass's message files are spent."""

    def __init__(self, directory: str):
        self._directory = directory

    def process(self, count):
        storage.delete_tree(self._directory)
        yield count


class MarkDone(beam.DoFn):
    def __init__(self, states_dir: str, stage: int, fingerprint: dict):
        self._states_dir, self._stage, self._fingerprint = states_dir, stage, fingerprint

    def process(self, nodes: int):
        now = time.time()
        record = {**self._fingerprint, "stage": self._stage, "nodes": int(nodes), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "at_unix": now}
        # A resumed run reads these pieces as they are: their content hashes decide whether it may.
        record["piece_sha256"] = {uri: storage.sha256(uri) for uri in stage_pieces(self._states_dir, self._stage)}
        storage.replace_atomically(done_uri(self._states_dir, self._stage), json.dumps(record, sort_keys=True).encode())
        storage.delete_tree(messages_dir(self._states_dir, self._stage))  # read by every apply of the layer: spent
        yield nodes


class WriteOutputs(WithEngine):
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
        ids = np.arange(start, stop, dtype=np.int64)
        tables = {"embeddings": embeddings_table(ids, values)}
        if "predictions" in self._kinds:
            with torch.inference_mode():
                predictions = self.model.predict(torch.from_numpy(np.array(values)).to(self.engine.device)).cpu().numpy()
            tables["predictions"] = predictions_table(ids, predictions)
        for kind, table in tables.items():
            uri = storage.join(self._output_dirs[node_type], kind, f"part-{block:06d}.parquet")
            with storage.open_write(uri) as stream:
                pq.write_table(table, stream, compression="none", use_dictionary=False, write_statistics=["node_id"])
            Metrics.counter(metrics_namespace(node_type, self._role), f"{kind}_rows_written").inc(table.num_rows)
        yield stop - start
