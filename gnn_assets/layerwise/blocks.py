"""Layer-wise inference over blocks of nodes, as a batch engine computes it (InferTurbo's shape).

Nodes of each type are cut into blocks of `block_nodes` consecutive ids. One message-passing
stage is three steps, each a function of plain arrays so that Beam workers (beam.py) and the
in-process probe below run the same code:

1. gather, per source block: for every message-passing call of the stage whose edges start at
   that block's node type, the sources' states travel along the block's out-edges to their
   destination blocks. A call whose messages are its sources' states and whose aggregation is
   mean, sum, max or min (SAGEConv without projection, GraphConv, GINConv) sends one partial
   aggregate per destination row it reaches (partial gather: a hub's in-edges are combined on
   each worker before the shuffle); any other call (GATConv's attention, a user's message
   function) sends the edges and the sources' rows themselves (full gather), so that the call
   sees every in-edge of a destination, as on one machine.
2. merge, per destination block: partial aggregates combine exactly (sums and counts add, maxima
   take the larger); gathered edges concatenate. Beam's combiner lifting runs this on each
   worker before the shuffle and again after it.
3. apply, per destination block: the stage's part of the split program runs with the local
   executor's own code on a small graph: the block's rows first, then for each partial call one
   virtual source row per destination holding its aggregate (one in-edge each: aggregating one
   message gives the message, so the call computes its exact output), or for each gathered call
   the gathered sources and their edges.

GCNConv's normalization needs every source's degree, which a block does not see: a degree pass
before the first layer counts each node's in-edges (count_degrees, per edge type of a GCN call);
a GCN call gathers in full, its sources' degrees travel with their rows, and apply weights each
edge as gcn_norm does (gcn_weights), the call running with its normalization off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.fx as fx

from gnn_assets.graph.csr import InEdges
from gnn_assets.layerwise.aggregation import add_messages, empty_aggregate, partial_aggregation
from gnn_assets.layerwise.executor import Chunk, LayerwiseExecutor, LayerwiseGraph
from gnn_assets.graph.enumerated_layout import EdgeTypeKey
from gnn_assets.layerwise.split import LayerProgram, UnsplittableModel
from gnn_assets.models.normalization import is_normalized_gcn


@dataclass(frozen=True)
class Blocks:
    block_nodes: int
    num_nodes: dict[str, int]

    def count(self, node_type: str) -> int:
        return max(1, math.ceil(self.num_nodes[node_type] / self.block_nodes))

    def range(self, node_type: str, block: int) -> tuple[int, int]:
        start = block * self.block_nodes
        return start, min(start + self.block_nodes, self.num_nodes[node_type])


@dataclass
class Partial:
    """One call's messages to one destination block. rows: destination ids counted from the
    block's start. Partial calls: values[i] combines the messages to rows[i] (a sum for sum and
    mean), counts[i] how many. Gathered calls: sources[i] -> rows[i] with the source's state values[i]."""

    call: str
    kind: str  # "sum", "mean", "max", "min" or "gather"
    rows: np.ndarray
    values: np.ndarray
    counts: np.ndarray | None = None
    sources: np.ndarray | None = None
    degrees: np.ndarray | None = None  # gathered GCN calls: each source's degree (gcn_degree)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.rows, self.values, self.counts, self.sources, self.degrees) if a is not None)


def combine(rows: np.ndarray, values: np.ndarray, counts: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Messages to repeated rows reduced to one per row (sorted by row). torch's index_add_ and
    scatter_reduce_ do the reduction: numpy's reduceat along rows is an order of magnitude slower."""
    unique, inverse = np.unique(rows, return_inverse=True)
    if len(unique) == len(rows):
        order = np.argsort(rows, kind="stable")
        return rows[order], values[order], counts[order]
    index = torch.from_numpy(inverse.reshape(-1))
    source = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    reduced = add_messages(empty_aggregate((len(unique), source.shape[1]), kind), index, source, kind)
    return unique, reduced.numpy(), np.bincount(inverse.reshape(-1), weights=counts, minlength=len(unique)).astype(np.int64)


def merge(parts: list[Partial]) -> Partial:
    """Several partials of one call and destination block as one, in a single pass."""
    first = parts[0]
    if len(parts) == 1:
        return first
    rows = np.concatenate([p.rows for p in parts])
    values = np.concatenate([p.values for p in parts])
    if first.kind == "gather":
        degrees = None if first.degrees is None else np.concatenate([p.degrees for p in parts])
        return Partial(first.call, first.kind, rows, values, sources=np.concatenate([p.sources for p in parts]), degrees=degrees)
    return Partial(first.call, first.kind, *combine(rows, values, np.concatenate([p.counts for p in parts]), first.kind))


def count_degrees(src: np.ndarray, dst: np.ndarray, num_dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Per destination: its in-edges other than self loops (int64) and whether it has a self loop."""
    loop = src == dst
    other = np.bincount(dst[~loop], minlength=num_dst).astype(np.int64)
    looped = np.zeros(num_dst, dtype=bool)
    looped[dst[loop]] = True
    return other, looped


def gcn_degree(module, other: np.ndarray, looped: np.ndarray) -> np.ndarray:
    """A node's degree as gcn_norm without edge weights computes it: its in-edges; with
    add_self_loops, the graph's self loops replaced by one per node, of weight 1 (gcn_norm adds
    them before it has weights, so `improved`'s fill value does not apply)."""
    return other + (1.0 if module.add_self_loops else looped.astype(np.float64))


def _inverse_sqrt(degree: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        inverse = np.power(degree, -0.5)
    inverse[np.isinf(inverse)] = 0.0
    return inverse


def runs(keys: np.ndarray):
    """(key, start, stop) of each run of equal values in sorted keys."""
    if not len(keys):
        return
    starts = np.flatnonzero(np.diff(keys)) + 1
    bounds = np.concatenate([[0], starts, [len(keys)]])
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        yield int(keys[lo]), lo, hi


@dataclass
class CallPlan:
    name: str
    edge_type: EdgeTypeKey
    source_state: str  # the state the call reads at its sources
    kind: str
    gcn: object = None  # a normalized GCNConv: its module (degrees travel with its messages)


@dataclass
class StagePlan:
    stage: int
    node_types: list[str]  # destination types computed in this stage
    calls: dict[str, list[CallPlan]] = field(default_factory=dict)  # source type -> calls from it
    own_states: dict[str, list[str]] = field(default_factory=dict)  # type -> states it reads of its own rows
    kept: dict[str, list[str]] = field(default_factory=dict)  # type -> states computed here and read later

    def calls_into(self, node_type: str) -> list[CallPlan]:
        return [c for calls in self.calls.values() for c in calls if c.edge_type[2] == node_type]


class BlockEngine:
    """The stages of a split program as gather / merge / apply over blocks of nodes."""

    def __init__(self, program: LayerProgram, widths: dict[str, int], device: torch.device = torch.device("cpu")):
        """widths: each state's values per node (from the probe), by fx node name."""
        self.program, self.widths, self.device = program, widths, device
        self.nodes = {n.name: n for n in program.graph_module.graph.nodes}
        self.inputs = {n.name: t for n, t in program.inputs.items()}
        self.plans = [self._plan(stage) for stage in range(len(program.stages))]
        self.outputs = {t: n.name for t, n in program.outputs.items()}
        self._executor: LayerwiseExecutor | None = None

    def degree_edge_types(self, first_stage: int = 0) -> list[EdgeTypeKey]:
        """Edge types whose in-degrees the stages from first_stage need (GCN calls)."""
        return sorted({c.edge_type for plan in self.plans[first_stage:] for calls in plan.calls.values() for c in calls if c.gcn is not None})

    def _plan(self, stage: int) -> StagePlan:
        program = self.program
        plan = StagePlan(stage, list(program.stages[stage]))
        for node_type, nodes in program.stages[stage].items():
            seen_edges = set()
            for node in nodes:
                call = program.calls.get(node)
                if call is None:
                    continue
                if call.edge_type in seen_edges:
                    raise UnsplittableModel(
                        f"{program.model_name}: two message-passing calls of layer {stage} read edge type {call.edge_type}; "
                        "engine BEAM runs one per edge type and layer (use layerwise.engine LOCAL)"
                    )
                seen_edges.add(call.edge_type)
                source = self._source_state(node)
                kind = partial_aggregation(call.module) or "gather"
                gcn = call.module if is_normalized_gcn(call.module) else None
                plan.calls.setdefault(call.edge_type[0], []).append(CallPlan(node.name, call.edge_type, source.name, kind, gcn))
            alive = [
                n.name
                for n, last in program.last_read.items()
                if program.node_type[n] == node_type and (program.stage[n] < stage or n in program.inputs) and stage <= last
            ]
            plan.own_states[node_type] = alive
            plan.kept[node_type] = [n.name for n in nodes if n in program.last_read]
        return plan

    def _source_state(self, node: fx.Node) -> fx.Node:
        program = self.program
        x = node.args[0] if node.args else node.kwargs.get("x")
        source = x[0] if isinstance(x, (tuple, list)) else x
        extra = [n for n in node.all_input_nodes if n in program.node_type and n is not source and not (isinstance(x, (tuple, list)) and n in x)]
        if not isinstance(source, fx.Node) or source not in program.node_type or extra:
            raise UnsplittableModel(
                f"{program.model_name}: {node.target} must read its sources' states as its first argument x (or x[0]) and no "
                "other node states, for engine BEAM (use layerwise.engine LOCAL)"
            )
        return source

    # ---- gather ---------------------------------------------------------------------------

    def source_states(self, stage: int, node_type: str) -> list[str]:
        return sorted({c.source_state for c in self.plans[stage].calls.get(node_type, [])})

    def gather(
        self,
        stage: int,
        blocks: Blocks,
        src_type: str,
        start: int,
        states: dict[str, np.ndarray],
        edges: dict[EdgeTypeKey, tuple[np.ndarray, np.ndarray]],
        degrees: dict[EdgeTypeKey, tuple[np.ndarray, np.ndarray]] | None = None,
    ):
        """(destination type, destination block), Partial for each call and destination block
        the edges reach. edges: out-edges of sources start.. of src_type; states: those sources'
        rows of each source state, from row `start` on; degrees: their count_degrees, from row
        `start` on, for the edge types of GCN calls."""
        for call in self.plans[stage].calls.get(src_type, []):
            src, dst = edges.get(call.edge_type, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
            if not len(src):
                continue
            x = states[call.source_state]
            dst_type = call.edge_type[2]
            if call.kind != "gather":
                # One reduction over all the edges, then cut by destination block (rows come sorted).
                rows, values, counts = combine(dst, x[src - start], np.ones(len(dst), np.int64), call.kind)
                for target, lo, hi in runs(rows // blocks.block_nodes):
                    yield (dst_type, target), Partial(call.name, call.kind, rows[lo:hi] - target * blocks.block_nodes, values[lo:hi], counts[lo:hi])
                continue
            order = np.argsort(dst // blocks.block_nodes, kind="stable")
            src, dst = src[order], dst[order]
            for target, lo, hi in runs(dst // blocks.block_nodes):
                rows = dst[lo:hi] - target * blocks.block_nodes
                values = x[src[lo:hi] - start]
                if call.gcn is not None:
                    other, looped = degrees[call.edge_type]
                    local = src[lo:hi] - start
                    part = Partial(call.name, "gather", rows, values, sources=src[lo:hi], degrees=gcn_degree(call.gcn, other[local], looped[local]))
                else:
                    part = Partial(call.name, "gather", rows, values, sources=src[lo:hi])
                yield (dst_type, target), part

    # ---- apply ----------------------------------------------------------------------------

    def apply(
        self,
        stage: int,
        blocks: Blocks,
        node_type: str,
        block: int,
        own: dict[str, np.ndarray],
        partials: dict[str, Partial],
        degrees: dict[EdgeTypeKey, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> dict[str, np.ndarray]:
        """The stage's kept states for the block's rows. own: the block's rows of the states it
        reads (plan.own_states, input features included); partials: merged, by call; degrees:
        the block's rows' count_degrees for the edge types of GCN calls."""
        start, stop = blocks.range(node_type, block)
        size = stop - start
        plan = self.plans[stage]
        calls = plan.calls_into(node_type)
        # Local rows per node type: the block's own rows first (for its own type), then a part per call.
        counts = {node_type: size}
        offsets: dict[str, int] = {}
        local_sources: dict[str, np.ndarray] = {}
        for call in calls:
            src_type = call.edge_type[0]
            offsets[call.name] = counts.get(src_type, 0)
            part = partials.get(call.name)
            if call.kind == "gather":
                sources = part.sources if part is not None else np.zeros(0, np.int64)
                if src_type == node_type:  # sources inside the block are its own rows: a self-edge stays a self loop
                    sources = sources[(sources < start) | (sources >= stop)]
                unique = np.unique(sources)
                local_sources[call.name] = unique
                counts[src_type] = offsets[call.name] + len(unique)
            else:
                counts[src_type] = offsets[call.name] + size
        states: dict[str, torch.Tensor] = {}

        def state(name: str) -> torch.Tensor:
            if name not in states:
                node_t = self.program.node_type[self.nodes[name]]
                states[name] = torch.zeros((counts.get(node_t, 0), self.widths[name]))
            return states[name]

        for name, values in own.items():
            state(name)[:size] = torch.from_numpy(np.array(values, dtype=np.float32)).reshape(size, -1)
        in_edges: dict[EdgeTypeKey, InEdges] = {}
        normalized: dict[tuple, tuple[InEdges, torch.Tensor]] = {}
        for call in calls:
            part, offset = partials.get(call.name), offsets[call.name]
            target = state(call.source_state)
            if part is None:
                dst_rows, src_rows = np.zeros(0, np.int64), np.zeros(0, np.int64)
            elif call.kind == "gather":
                unique = local_sources[call.name]
                inside = (part.sources >= start) & (part.sources < stop) if call.edge_type[0] == node_type else np.zeros(len(part.sources), bool)
                position = np.searchsorted(unique, part.sources[~inside])
                first = np.unique(position, return_index=True)[1]  # one row per distinct source
                target[offset + position[first]] = torch.from_numpy(np.ascontiguousarray(part.values[~inside][first], dtype=np.float32))
                src_rows = np.empty(len(part.sources), dtype=np.int64)
                src_rows[inside] = part.sources[inside] - start
                src_rows[~inside] = offset + position
                dst_rows = part.rows
            else:
                values = part.values / part.counts[:, None] if call.kind == "mean" else part.values
                target[offset + part.rows] = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
                dst_rows, src_rows = part.rows, offset + part.rows
            weights = None
            if call.gcn is not None:
                source_degrees = part.degrees if part is not None else np.zeros(0)
                src_rows, dst_rows, weights = gcn_weights(call.gcn, src_rows, dst_rows, source_degrees, *degrees[call.edge_type])
            order = np.lexsort((src_rows, dst_rows))
            indptr = np.zeros(size + 1, dtype=np.int64)
            np.cumsum(np.bincount(dst_rows, minlength=size), out=indptr[1:])
            in_edges[call.edge_type] = InEdges(indptr, np.ascontiguousarray(src_rows[order], dtype=np.int64))
            if weights is not None:
                key = (call.edge_type, call.gcn.improved, call.gcn.add_self_loops)
                normalized[key] = (in_edges[call.edge_type], torch.from_numpy(weights[order].astype(np.float32)))
        # Every type the program reads needs a (possibly empty) feature tensor of its local size.
        features = {t: states.get(name, torch.zeros((counts.get(t, 0), 0))) for name, t in self.inputs.items()}
        for t in counts:
            features.setdefault(t, torch.zeros((counts[t], 0)))
        executor = LayerwiseExecutor(
            self.program,
            LayerwiseGraph(features, in_edges),
            self.device,
            budget_bytes=1 << 40,
            progress=lambda _: None,
            chunk_nodes=max(size, 1),
            normalized_edges=normalized,
        )
        executor.states = {self.nodes[name]: value.to(self.device) for name, value in states.items()}
        executor.evaluate_constants()
        nodes = self.program.stages[stage].get(node_type, [])
        if size:
            executor.run_chunk(stage, node_type, nodes, Chunk(0, size))
        return {
            name: executor.states[self.nodes[name]][:size].detach().cpu().float().numpy() if size else np.zeros((0, self.widths[name]), np.float32)
            for name in plan.kept[node_type]
        }


def gcn_weights(module, src_rows, dst_rows, source_degrees, other, looped):
    """A block's in-edges of a GCN call with gcn_norm's weights: deg(src)^-1/2 * deg(dst)^-1/2 per
    edge; with add_self_loops, the graph's self loops dropped and one added per row, weighted
    1 / deg. src_rows: local source rows (the block's own rows first);
    source_degrees: gcn_degree of each edge's source; other, looped: the block's count_degrees."""
    inverse = _inverse_sqrt(gcn_degree(module, other, looped))
    weights = _inverse_sqrt(source_degrees) * inverse[dst_rows]
    if module.add_self_loops:
        keep = src_rows != dst_rows  # a self loop's source is the block's own row
        rows = np.arange(len(other), dtype=np.int64)
        src_rows = np.concatenate([src_rows[keep], rows])
        dst_rows = np.concatenate([dst_rows[keep], rows])
        weights = np.concatenate([weights[keep], inverse * inverse])
    return src_rows, dst_rows, weights


def run_in_process(
    engine: BlockEngine, blocks: Blocks, features: dict[str, np.ndarray], edges: dict[EdgeTypeKey, tuple[np.ndarray, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Every stage's gather, merge and apply, block by block in this process: what the Beam job
    computes, for the probe. The final states per node type."""
    kept: dict[tuple[str, str], np.ndarray] = {}  # (type, state name) -> all rows
    for name, node_type in engine.inputs.items():
        kept[(node_type, name)] = features[node_type]
    degrees = {key: count_degrees(*edges[key], blocks.num_nodes[key[2]]) for key in engine.degree_edge_types()}

    def rows_of(lo, hi):
        return {key: (other[lo:hi], looped[lo:hi]) for key, (other, looped) in degrees.items()}

    for plan in engine.plans:
        merged: dict[tuple[str, int], dict[str, Partial]] = {}
        for src_type in plan.calls:
            for block in range(blocks.count(src_type)):
                lo, hi = blocks.range(src_type, block)
                states = {name: kept[(src_type, name)][lo:hi] for name in engine.source_states(plan.stage, src_type)}
                block_edges = {}
                for key, (src, dst) in edges.items():
                    inside = (src >= lo) & (src < hi)
                    block_edges[key] = (src[inside], dst[inside])
                for key, part in engine.gather(plan.stage, blocks, src_type, lo, states, block_edges, rows_of(lo, hi)):
                    have = merged.setdefault(key, {})
                    have[part.call] = merge([have[part.call], part]) if part.call in have else part
        for node_type in plan.node_types:
            new: dict[str, list[np.ndarray]] = {}
            for block in range(blocks.count(node_type)):
                lo, hi = blocks.range(node_type, block)
                own = {name: kept[(node_type, name)][lo:hi] for name in plan.own_states[node_type]}
                for name, values in engine.apply(plan.stage, blocks, node_type, block, own, merged.get((node_type, block), {}), rows_of(lo, hi)).items():
                    new.setdefault(name, []).append(values)
            for name, parts in new.items():
                kept[(node_type, name)] = np.concatenate(parts)
    return {t: kept[(t, name)] for t, name in engine.outputs.items()}
