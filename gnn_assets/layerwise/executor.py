"""Run a split model layer by layer over a whole graph, in chunks of destination nodes.

For each stage (one message-passing hop) and node type, the nodes are processed in chunks
sized from a memory budget: a message-passing call reads the in-edges of the chunk's nodes
(CSR) and the previous stage's states of their sources, for all nodes, and the node-wise
operations after it run on the chunk's rows. States that later stages read are kept for all
nodes, in memory or, when they do not fit the budget, in memory-mapped files (spill.py).
An incremental job (incremental/plan.py) runs each stage over the sorted ids it must recompute
instead, its states those rows over the base job's kept ones (run(recompute=..., base=...)).

How a call sees a chunk:
- the whole node set in one chunk: the call as the model makes it, on the whole graph;
- a call given (x_src, x_dst) (bipartite, as HeteroConv makes them), or a single x to a
  convolution whose bipartite form is the same computation (SAGEConv, GraphConv, GINConv):
  (all sources, the chunk's rows) and the chunk's in-edges;
- any other convolution (GATConv, GCNConv, a user's): the subgraph of the chunk's nodes and
  their in-neighbours, whose first rows are the chunk. Everything such a layer computes for a
  node from its in-edges is then exact: attention softmax, self loops. GCNConv's normalization
  needs the degrees of the sources too, so it is computed once on the whole graph and passed
  as edge weights (normalization off for the call).
- when the states are spilled to files larger than the page cache can hold (stream_sources)
  and the call aggregates in parts (a sum, mean, max or min of its sources' states:
  aggregation.py), a whole job streams its sources instead (ATLAS's destination blocks, sources
  streamed): a pass over as many destinations as their aggregates fit in two thirds of the
  working memory (less a slab and its messages) reads the source state once, in ascending slabs
  of rows (only the slabs its edges reach), adding each message to its destination's aggregate;
  then the pass's chunks run the stage, the call seeing one virtual source row per destination
  holding its aggregate (one in-edge each: aggregating one message gives the message). A layer
  reads its source file a few times in order instead of a page per gathered row at random,
  which is what it costs once the files outgrow the page cache.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.fx as fx
from torch_geometric.nn import GINConv, GraphConv, SAGEConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from gnn_assets.graph.csr import InEdges, build_in_edges
from gnn_assets.graph.distinct import distinct_with_inverse
from gnn_assets.layerwise.aggregation import aggregate_streamed, partial_aggregation
from gnn_assets.layerwise.spill import SpillArea
from gnn_assets.layerwise.stats import LayerwiseStats, StageProgress, StageStats
from gnn_assets.graph.enumerated_layout import EdgeTypeKey
from gnn_assets.layerwise.split import LayerProgram, UnsplittableModel
from gnn_assets.models.normalization import is_normalized_gcn

# Convolutions whose output for (x_src, x_dst) equals their output for x on the same edges.
BIPARTITE_EXACT = (SAGEConv, GraphConv, GINConv)
_PAGE = 4096
_SLAB_BYTES = 64 << 20  # a streamed source state is read this many bytes at a time, at most


@dataclass
class LayerwiseGraph:
    """A graph in integer ids: features per node type (CPU tensors, possibly file-backed) and
    the in-edges of each edge type."""

    features: dict[str, torch.Tensor]
    in_edges: dict[EdgeTypeKey, InEdges]

    def num_nodes(self, node_type: str) -> int:
        return self.features[node_type].shape[0]

    def release_pages(self) -> None:
        """Drop the pages of memory-mapped in-edges read so far (the files keep them)."""
        for in_edges in self.in_edges.values():
            in_edges.release_pages()

    @classmethod
    def from_edge_index(cls, x: dict[str, torch.Tensor], edge_index: dict[EdgeTypeKey, torch.Tensor]) -> "LayerwiseGraph":
        return cls(
            dict(x),
            {
                key: build_in_edges(e[0].numpy(), e[1].numpy(), x[key[2]].shape[0])
                for key, e in edge_index.items()
            },
        )


@dataclass(frozen=True)
class Chunk:
    """The destinations a step computes: the contiguous ids start..stop-1, or the sorted ids
    `ids` (an incremental job recomputes only the nodes whose states can differ)."""

    start: int
    stop: int
    ids: np.ndarray | None = None

    @property
    def count(self) -> int:
        return self.stop - self.start if self.ids is None else len(self.ids)

    @property
    def index(self):
        """Rows of a state: a slice, or the ids."""
        return slice(self.start, self.stop) if self.ids is None else torch.from_numpy(self.ids)

    def node_ids(self) -> np.ndarray:
        return np.arange(self.start, self.stop, dtype=np.int64) if self.ids is None else self.ids

    def in_edges(self, in_edges: InEdges):
        """(the positions of the chunk's in-edges in in_edges: a slice or an array, destinations
        counted within the chunk, the chunk's CSR offsets from 0)."""
        if self.ids is None:
            lo, hi = in_edges.indptr[self.start], in_edges.indptr[self.stop]
            degrees = np.diff(in_edges.indptr[self.start : self.stop + 1])
            local_dst = np.repeat(np.arange(self.count, dtype=np.int64), degrees)
            return slice(lo, hi), local_dst, in_edges.indptr[self.start : self.stop + 1] - lo
        return in_edges.positions(self.ids)


def _row_bytes(value, rows: int) -> int:
    """Bytes per node of a value computed for `rows` nodes (a stack over edge types is larger)."""
    if not isinstance(value, torch.Tensor) or rows == 0:
        return 0
    return value.numel() * value.element_size() // rows


@contextlib.contextmanager
def _normalization_off(module):
    saved = module.normalize
    module.normalize = False
    try:
        yield
    finally:
        module.normalize = saved


def peak_state_bytes(program: LayerProgram, row_bytes: dict[fx.Node, int], num_nodes: dict[str, int]) -> int:
    """Bytes of the kept states alive at once, at the largest (input features included)."""
    peak = 0
    for stage in range(len(program.stages)):
        alive = [n for n, last in program.last_read.items() if program.stage[n] <= stage <= last]
        peak = max(peak, sum(row_bytes.get(n, 0) * num_nodes[program.node_type[n]] for n in alive))
    return peak


def must_spill(states_bytes: int, graph_bytes: int, budget_bytes: int) -> bool:
    """States go to files when, with the graph's in-edges, they would take most of the budget."""
    return states_bytes + graph_bytes > 0.8 * budget_bytes


class LayerwiseExecutor:
    def __init__(
        self,
        program: LayerProgram,
        graph: LayerwiseGraph,
        device: torch.device,
        *,
        budget_bytes: int,
        spill: SpillArea | None = None,
        progress: Callable[[str], None] = print,
        chunk_nodes: int | None = None,
        row_bytes: dict[fx.Node, int] | None = None,
        normalized_edges: dict[tuple, tuple[InEdges, torch.Tensor]] | None = None,
        stream_sources: bool = True,
    ):
        """row_bytes: bytes per node of each state (from the probe), for planning; spill: where
        states go when they do not fit the budget (None: they must fit). chunk_nodes fixes the
        chunk size (the probe uses it to force many chunks). normalized_edges: GCN's normalized
        in-edges and weights by (edge type, improved, add_self_loops), for a graph that is part
        of a larger one whose degrees it does not hold (engine BEAM's blocks). stream_sources:
        whether spilled states are streamed to the calls that aggregate in parts (see the
        module's docstring) or gathered, as they are while the files fit in the page cache."""
        self.program = program
        self.graph = graph
        self.device = device
        self.budget_bytes = budget_bytes
        self.progress = progress
        self.fixed_chunk = chunk_nodes
        self.row_bytes: dict[fx.Node, int] = dict(row_bytes or {})
        self.states: dict[fx.Node, torch.Tensor] = {}
        self.recompute: dict[int, dict[str, np.ndarray]] | None = None  # see run()
        self.base = None
        self.keep = None  # see run()
        self.constants: dict[fx.Node, object] = {}
        self._streamed: dict[fx.Node, tuple[fx.Node, object]] = {}  # the stage's streamed calls: their _streamed_states
        self._slab_bytes = _SLAB_BYTES
        self.stream_sources = stream_sources
        self._pass_first = 0  # the first destination of the current pass
        self._aggregates: dict[fx.Node, tuple[torch.Tensor, np.ndarray]] = {}  # the pass's aggregates and in-degrees, by streamed call
        self._gcn_edges: dict[tuple, tuple[InEdges, torch.Tensor]] = dict(normalized_edges or {})
        for node, node_type in program.inputs.items():
            self.row_bytes[node] = _row_bytes(graph.features[node_type], graph.num_nodes(node_type))
        num_nodes = {t: graph.num_nodes(t) for t in graph.features}
        states_bytes = peak_state_bytes(program, self.row_bytes, num_nodes)
        self.spill = spill if spill is not None and must_spill(states_bytes, self._graph_bytes(), budget_bytes) else None
        self.stats = LayerwiseStats(str(device), budget_bytes, states_bytes, self.spill is not None)
        # States stay where the computation runs when they are in memory and, on a GPU, take at
        # most half of its free memory; otherwise on the host, their rows sent with each chunk.
        self.state_device = device if self.spill is None else torch.device("cpu")
        if self.state_device.type == "cuda" and states_bytes > 0.5 * torch.cuda.mem_get_info(device)[0]:
            self.state_device = torch.device("cpu")

    # ---- planning -------------------------------------------------------------------------

    def _graph_bytes(self) -> int:
        return sum(c.held_bytes for c in self.graph.in_edges.values())

    def _working_bytes(self) -> int:
        working = self.budget_bytes - self._graph_bytes() - (0 if self.spill else self.stats.states_bytes)
        return max(working, self.budget_bytes // 5)

    def _chunk_nodes(self, stage: int, node_type: str, nodes: list[fx.Node], working: int) -> int:
        """Destinations per chunk: what the stage's operations hold per node, within `working`
        bytes (calls whose sources a pass streamed read their aggregates, held by the pass)."""
        if self.fixed_chunk:
            return self.fixed_chunk
        per_node = sum(2 * self.row_bytes.get(n, 0) for n in nodes)
        for node in nodes:
            call = self.program.calls.get(node)
            if call is None:
                continue
            in_edges = self.graph.in_edges[call.edge_type]
            degree = 1 + in_edges.num_edges / max(in_edges.num_dst, 1)
            width = max([self.row_bytes.get(node, 0)] + [self.row_bytes.get(n, 0) for n in node.all_input_nodes])
            if node in self._streamed:
                per_node += 2 * width
            else:
                per_node += degree * (3 * width + 48 + (_PAGE if self.spill else 0))
        return int(max(1, min(self.graph.num_nodes(node_type), working // max(per_node, 1))))

    def _pass_nodes(self, node_type: str, streamed: list[fx.Node], working: int) -> int:
        """Destinations per streamed pass: each streamed call's aggregate and in-degree, and its
        in-edges while the pass orders them (about 22 bytes each), within `working` bytes."""
        if self.fixed_chunk:
            return self.fixed_chunk
        per_node = 0.0
        for node in streamed:
            in_edges = self.graph.in_edges[self.program.calls[node].edge_type]
            source = self.states[self._streamed[node][0]]
            per_node += source[:1].numel() * source.element_size() + 8 + 22 * in_edges.num_edges / max(in_edges.num_dst, 1)
        return int(max(1, min(self.graph.num_nodes(node_type), working // max(per_node, 1))))

    # ---- running --------------------------------------------------------------------------

    def run(self, recompute: dict[int, dict[str, np.ndarray]] | None = None, base=None, keep=None) -> dict[str, torch.Tensor]:
        """Every stage over every node; the final states per node type (host tensors).

        Incremental: recompute[stage][node type] are the sorted ids to compute at that stage, and
        base(state, ids) gives that state for the stage (incremental/overlay_state.py: the rows
        `ids` to compute over the base's kept rows, read by id where a chunk gathers them).
        keep: what keeps the states for a later job (incremental/kept.py's StateKeeper):
        keep.complete(state, value) once the stage that computes a state is done (the outputs
        too), keep.release(state) before a state is freed (the outputs are not: they are
        returned)."""
        self.recompute, self.base, self.keep = recompute, base, keep
        program = self.program
        for node, node_type in program.inputs.items():
            if node in program.last_read:
                self.states[node] = self.graph.features[node_type]
                if self.spill is None:
                    self.states[node] = self.states[node].to(self.state_device)
        self.evaluate_constants()
        for stage, by_type in enumerate(program.stages):
            for node_type, nodes in by_type.items():
                self._run_stage(stage, node_type, nodes)
            if self.keep is not None:
                for node in (n for nodes in by_type.values() for n in nodes if n in program.last_read):
                    self.keep.complete(node, self.states[node])
            self._free_after(stage)
        return {t: self.states[n].cpu() if self.spill is None else self.states[n] for t, n in program.outputs.items()}

    def evaluate_constants(self) -> None:
        """The program's constants (parameters and buffers it reads), once, before any chunk."""
        module = self.program.graph_module
        for node in self.program.constants:
            if node.op == "get_attr":
                value = module
                for part in node.target.split("."):
                    value = getattr(value, part)
                self.constants[node] = value
            else:
                self.constants[node] = self._call(node, self.constants)

    def _run_stage(self, stage: int, node_type: str, nodes: list[fx.Node]) -> None:
        ids = None if self.recompute is None else self.recompute[stage][node_type]
        if ids is not None:
            for node in nodes:
                if node in self.program.last_read and node not in self.states:
                    self.states[node] = self.base(node, ids)
        total = self.graph.num_nodes(node_type) if ids is None else len(ids)
        self._streamed = {n: states for n in nodes if n in self.program.calls and (states := self._streamed_states(n)) is not None}
        streamed = list(self._streamed)
        working = self._working_bytes()
        if streamed:
            # Passes of many destinations hold the streamed calls' aggregates (two thirds of the
            # working memory, less a slab read and its messages); chunks within a pass compute
            # the rest from them.
            self._slab_bytes = min(_SLAB_BYTES, working // 12)
            passes = self._pass_nodes(node_type, streamed, working * 2 // 3 - 2 * self._slab_bytes)
            working //= 3
        else:
            passes = max(total, 1)
        progress = StageProgress(self.progress, self.program.num_layers, stage, node_type, total, len(range(0, total, passes)) if streamed else 0)
        chunk = self._chunk_nodes(stage, node_type, nodes, working)
        try:
            for first in range(0, total, passes):
                last = min(total, first + passes)
                if streamed:
                    self._aggregates, self._pass_first = {}, first  # the last pass's, before this pass's are computed
                    for node in streamed:
                        self._aggregates[node] = self._aggregate(node, Chunk(first, last))
                chunk = self._run_chunks(stage, node_type, nodes, ids, first, last, chunk, progress)
        finally:
            self._aggregates, self._streamed = {}, {}
        self.stats.stages.append(
            StageStats(stage, node_type, total, progress.chunks, chunk, round(time.monotonic() - progress.started, 3), progress.passes)
        )

    def _run_chunks(self, stage, node_type, nodes, ids, start: int, stop: int, chunk: int, progress: StageProgress) -> int:
        """The stage over destinations start..stop-1 (of ids, if given), `chunk` at a time,
        halving the chunk on running out of memory; the chunk size it ended with."""
        while start < stop:
            end = min(stop, start + chunk)
            try:
                self.run_chunk(stage, node_type, nodes, Chunk(start, end) if ids is None else Chunk(start, end, ids[start:end]))
            except torch.OutOfMemoryError:
                if chunk == 1:
                    raise
                chunk = max(1, chunk // 2)  # DGL's AutoInferenceHelper: shrink and retry the chunk
                self.stats.oom_retries += 1
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            start = end
            self.graph.release_pages()
            if self.spill is not None:
                self.spill.release_pages()
            progress.done(end, chunk)
        return chunk

    def run_chunk(self, stage: int, node_type: str, nodes: list[fx.Node], chunk: Chunk) -> None:
        """One stage's operations for one chunk of destinations, its states written into place
        (the block engine runs a piece of a layer this way)."""
        local: dict[fx.Node, object] = {}
        for node in nodes:
            if node in self.program.calls:
                value = self._message_passing(node, chunk)
            else:
                value = self._call(node, local, chunk)
            local[node] = value
            if node not in self.row_bytes:
                self.row_bytes[node] = _row_bytes(value, chunk.count)
            if node in self.program.last_read:
                self._keep(node, value, chunk)

    def _allocate(self, node: fx.Node, row_shape, dtype) -> torch.Tensor:
        shape = (self.graph.num_nodes(self.program.node_type[node]), *row_shape)
        if self.spill is not None:
            return self.spill.allocate(node.name, shape, dtype)
        return torch.empty(shape, dtype=dtype, device=self.state_device)

    def _keep(self, node: fx.Node, value, chunk: Chunk) -> None:
        start, stop = chunk.start, chunk.stop
        if not isinstance(value, torch.Tensor) or value.dim() == 0 or value.shape[0] != chunk.count:
            raise UnsplittableModel(
                f"{self.program.model_name}: `{node.format_node()}` is read by a later layer but is not one row per node "
                f"({type(value).__name__} {tuple(getattr(value, 'shape', ()))})"
            )
        kept = self.states.get(node)
        whole = chunk.ids is None and start == 0 and stop == self.graph.num_nodes(self.program.node_type[node])
        if kept is None and self.spill is None and whole:
            self.states[node] = value.to(self.state_device)  # all nodes in one chunk: keep it as it is
            return
        if kept is None:
            kept = self.states[node] = self._allocate(node, value.shape[1:], value.dtype)
        kept[chunk.index] = value.to(kept.device)

    def _free_after(self, stage: int) -> None:
        for node, last in self.program.last_read.items():
            if last == stage and node in self.states and node not in self.program.inputs:
                if self.keep is not None:
                    self.keep.release(node)
                del self.states[node]
                if self.spill is not None:
                    self.spill.free(node.name)
        if self.spill is not None:
            self.stats.spill_bytes = self.spill.bytes_written

    def _value(self, node: fx.Node, local: dict, chunk: Chunk | None):
        if node in local:
            return local[node]
        if node in self.constants:
            return self.constants[node]
        state = self.states.get(node)
        if state is None:
            raise UnsplittableModel(f"{self.program.model_name}: `{node.format_node()}` is read where it is not computed")
        return state[chunk.index].to(self.device)

    def _call(self, node: fx.Node, local: dict, chunk: Chunk | None = None):
        args = fx.node.map_arg(node.args, lambda n: self._value(n, local, chunk))
        kwargs = fx.node.map_arg(node.kwargs, lambda n: self._value(n, local, chunk))
        if node.op == "call_function":
            return node.target(*args, **kwargs)
        if node.op == "call_method":
            return getattr(args[0], node.target)(*args[1:], **kwargs)
        if node.op == "call_module":
            return self.program.module(node)(*args, **kwargs)
        raise UnsplittableModel(f"{self.program.model_name}: cannot run `{node.format_node()}`")

    # ---- message passing ------------------------------------------------------------------

    def _streamed_states(self, node: fx.Node) -> tuple[fx.Node, object] | None:
        """(its source state, its destination state or a constant) where a call's sources are
        streamed (see the module's docstring); None where the chunk gathers them."""
        call = self.program.calls[node]
        if self.spill is None or not self.stream_sources or self.recompute is not None or partial_aggregation(call.module) is None:
            return None
        x_arg = node.args[0] if node.args else node.kwargs.get("x")
        x_src, x_dst = x_arg if isinstance(x_arg, (tuple, list)) else (x_arg, x_arg)
        if not isinstance(x_src, fx.Node) or x_src not in self.states or (isinstance(x_dst, fx.Node) and x_dst not in self.states):
            return None
        return x_src, x_dst

    def _aggregate(self, node: fx.Node, chunk: Chunk) -> tuple[torch.Tensor, np.ndarray]:
        """A streamed call's aggregates and in-degrees for a pass's destinations."""
        call = self.program.calls[node]
        in_edges = self.graph.in_edges[call.edge_type]
        lo, hi = in_edges.indptr[chunk.start], in_edges.indptr[chunk.stop]
        local_dst = np.repeat(np.arange(chunk.count, dtype=np.int32), np.diff(in_edges.indptr[chunk.start : chunk.stop + 1]))
        state = self.states[self._streamed[node][0]]
        slab_rows = max(1, self._slab_bytes // max(state[:1].numel() * state.element_size(), 1))
        kind = partial_aggregation(call.module)
        return aggregate_streamed(state, in_edges.sources[lo:hi], local_dst, chunk.count, kind, slab_rows, self.spill.slab_reader(state))

    def _from_aggregates(self, node: fx.Node, chunk: Chunk) -> torch.Tensor:
        """A streamed call for a chunk within its pass: one virtual source row per destination,
        its aggregate, and one in-edge to each destination that has in-edges."""
        call = self.program.calls[node]
        aggregates, degrees = self._aggregates[node]
        rows = slice(chunk.start - self._pass_first, chunk.stop - self._pass_first)
        reached = torch.from_numpy(np.flatnonzero(degrees[rows]))
        edge_index = torch.stack([reached, reached]).to(self.device)
        x_dst = self._streamed[node][1]
        own = self.states[x_dst][chunk.index].to(self.device) if isinstance(x_dst, fx.Node) else x_dst
        return self._invoke(node, call, (aggregates[rows].to(self.device), own), edge_index, None, size=(chunk.count, chunk.count))

    def _message_passing(self, node: fx.Node, chunk: Chunk) -> torch.Tensor:
        if node in self._aggregates:
            return self._from_aggregates(node, chunk)
        call = self.program.calls[node]
        module = call.module
        src_type, _, dst_type = call.edge_type
        start, stop, count = chunk.start, chunk.stop, chunk.count
        whole = chunk.ids is None and start == 0 and stop == self.graph.num_nodes(dst_type)
        gcn = is_normalized_gcn(module)
        in_edges, weights = self._gcn_in_edges(call) if gcn else (self.graph.in_edges[call.edge_type], None)
        positions, local_dst, local_indptr = chunk.in_edges(in_edges)
        sources = in_edges.sources[positions]
        if weights is not None:
            weights = weights[positions if isinstance(positions, slice) else torch.from_numpy(positions)].to(self.device)
        # An incremental job's states are its rows over the base's: always gathered by row.
        on_device = self.state_device == self.device and self.recompute is None

        def x_of(n, rows):  # a kept state, all its rows or some of them, on the compute device
            return self.states[n] if rows is None else self.states[n][rows].to(self.device)

        x_arg = node.args[0] if node.args else node.kwargs.get("x")
        bipartite = isinstance(x_arg, (tuple, list))
        # A convolution with a fused sparse kernel (message_and_aggregate) gets the chunk's rows of
        # the CSR as a sparse adjacency: the same sums, several times faster than gather-scatter.
        fused = weights is None and getattr(module, "fuse", False)
        if whole and on_device:
            # The whole node set at once: the call as the model makes it.
            if fused:
                edge_index = self._adjacency(in_edges.indptr, in_edges.sources, self.graph.num_nodes(src_type))
            else:
                edge_index = torch.stack([torch.from_numpy(sources), torch.from_numpy(local_dst)]).to(self.device)
            replace = lambda n: x_of(n, None)  # noqa: E731
        elif bipartite or isinstance(module, BIPARTITE_EXACT):
            if on_device:
                src_rows, src_index = None, sources
            else:
                unique, inverse = distinct_with_inverse(sources, self.graph.num_nodes(src_type))
                src_rows, src_index = torch.from_numpy(unique), inverse
            num_src = self.graph.num_nodes(src_type) if src_rows is None else len(src_rows)
            if fused:
                edge_index = self._adjacency(local_indptr, src_index, num_src)
            else:
                edge_index = torch.stack([torch.from_numpy(src_index), torch.from_numpy(local_dst)]).to(self.device)
            dst_rows = chunk.index
            if bipartite:
                x_src, x_dst = x_arg
                pair = (
                    x_of(x_src, src_rows) if isinstance(x_src, fx.Node) else x_src,
                    self.states[x_dst][dst_rows].to(self.device) if isinstance(x_dst, fx.Node) else x_dst,
                )
            else:
                pair = (x_of(x_arg, src_rows), self.states[x_arg][dst_rows].to(self.device))
            return self._invoke(node, call, pair, edge_index, weights, size=None if fused else (num_src, count))
        else:
            # The chunk's nodes and their in-neighbours; the chunk's rows come first.
            chunk_ids = chunk.node_ids()
            others = np.setdiff1d(sources, chunk_ids, assume_unique=False)
            rows = np.concatenate([chunk_ids, others])
            order = np.argsort(rows, kind="stable")
            src_local = order[np.searchsorted(rows[order], sources)]
            edge_index = torch.stack([torch.from_numpy(src_local), torch.from_numpy(local_dst)]).to(self.device)
            index = torch.from_numpy(rows)
            replace = lambda n: x_of(n, index)  # noqa: E731
            out = self._invoke(node, call, fx.node.map_arg(x_arg, replace), edge_index, weights)
            return out[:count]
        return self._invoke(node, call, fx.node.map_arg(x_arg, replace), edge_index, weights)

    def _adjacency(self, indptr: np.ndarray, columns: np.ndarray, num_src: int) -> torch.Tensor:
        """The transposed adjacency (destinations x sources) as a torch sparse CSR tensor."""
        with warnings.catch_warnings():  # torch calls its sparse CSR support beta
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(
                torch.from_numpy(indptr),
                torch.from_numpy(columns),
                torch.ones(len(columns)),
                size=(len(indptr) - 1, num_src),
            ).to(self.device)

    def _invoke(self, node, call, x, edge_index, weights, size=None):
        args = list(fx.node.map_arg(node.args, lambda n: self._value(n, {}, None) if n in self.constants else n))
        kwargs = dict(fx.node.map_arg(node.kwargs, lambda n: self._value(n, {}, None) if n in self.constants else n))
        if node.args:
            args[0] = x
        else:
            kwargs["x"] = x
        kind, key = call.edge_arg
        if kind == "arg":
            args[key] = edge_index
        else:
            kwargs[key] = edge_index
        if size is not None:
            kwargs["size"] = size
        module = call.module
        if weights is not None:
            kwargs["edge_weight"] = weights
            with _normalization_off(module):
                return module(*args, **kwargs)
        return module(*args, **kwargs)

    def _gcn_in_edges(self, call) -> tuple[InEdges, torch.Tensor]:
        """GCN's normalized edges (self loops included) over the whole graph, grouped by destination."""
        module = call.module
        key = (call.edge_type, module.improved, module.add_self_loops)
        if key not in self._gcn_edges:
            in_edges = self.graph.in_edges[call.edge_type]
            num = in_edges.num_dst
            dst = np.repeat(np.arange(num, dtype=np.int64), np.diff(in_edges.indptr))
            edge_index = torch.stack([torch.from_numpy(in_edges.sources), torch.from_numpy(dst)])
            edge_index, weight = gcn_norm(edge_index, None, num, module.improved, module.add_self_loops, "source_to_target", torch.float32)
            src, dst = edge_index[0].numpy(), edge_index[1].numpy()
            order = np.lexsort((src, dst))
            normalized = build_in_edges(src, dst, num)
            self._gcn_edges[key] = (normalized, weight[torch.from_numpy(order)])
        return self._gcn_edges[key]
