"""Subgraph sampler: every root's k-hop in-neighbourhood, vectorized over a chunk of roots.

Messages flow src -> dst, so a root's hop-1 neighbours are the sources of its in-edges, per
incoming edge type. Each hop samples up to fanout[h] in-edges of every node first reached at
the previous hop, by the sampling rule (sampling_rule.py: a node's in-edges of smallest seeded
hash, the same for every root, chunk and engine); -1 takes all of them. Training asks for a
random draw instead (an rng), so that epochs see other neighbours. With -1 on every hop a sample
holds every edge a k-layer message-passing model needs to compute the root exactly.

The work is numpy over (root, node) pairs of a whole chunk of roots at once; the only Python
loop that remains runs once per root, to cut the chunk's arrays into records.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from gnn_assets import storage
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig, TaskKind
from gnn_assets.graph.codec import encode_gigl
from gnn_assets.graph.packed import encode_packed
from gnn_assets.graph.sample_manifest import delete_sample_manifest, write_sample_manifest
from gnn_assets.graph.samples import Neighborhood, edge_endpoint_types
from gnn_assets.graph.sampling_rule import edge_priorities, priority_order
from gnn_assets.graph.enumerated_layout import EdgeTypeKey, check_enumeration, enumeration_id
from gnn_assets.graph.enumeration import EnumeratedGraph, check_same_graph, read_enumerated_graph
from gnn_assets.graph.labels import class_labels, labelled
from gnn_assets.graph.tfrecord import write_record
from gnn_assets.proto.gbml_config_pb2 import SampleEncoding

# Shards are the unit that the inference job spreads over its workers: small enough that a
# job of a few hundred thousand roots keeps several workers busy (about 40 MB each at fanout
# [10, 10]), and more than one come in multiples of 8, which split evenly over 2, 4 or 8 workers.
ROOTS_PER_SHARD = 8_192
SHARD_MULTIPLE = 8
CHUNK_SIZE = 2048


@dataclass(frozen=True)
class InEdgeIndex:
    """CSC adjacency of one edge type: the sources of dst's in-edges are indices[indptr[dst]:indptr[dst+1]],
    in the sampling rule's order for the seed (sampling_rule.py): a node's first k in-edges are
    its sample at fanout k."""

    indptr: np.ndarray
    indices: np.ndarray

    @classmethod
    def build(cls, num_dst: int, src: np.ndarray, dst: np.ndarray, seed: int, edge_type: EdgeTypeKey) -> "InEdgeIndex":
        order = priority_order(edge_priorities(seed, edge_type, src, dst), src, dst)
        indptr = np.zeros(num_dst + 1, dtype=np.int64)
        np.cumsum(np.bincount(dst, minlength=num_dst), out=indptr[1:])
        return cls(indptr, src[order].astype(np.int64))


@dataclass
class SampledChunk:
    """Sampled neighbourhoods of a chunk of roots; 'owner' is the root's position in the chunk."""

    roots: np.ndarray
    nodes: dict[str, tuple[np.ndarray, np.ndarray]]  # node type -> (owner, node id), sorted by owner
    edges: dict[EdgeTypeKey, tuple[np.ndarray, np.ndarray, np.ndarray]]  # -> (owner, src, dst), sorted by owner


def _sample_without_replacement(degree: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct positions in [0, degree) per row (Floyd's algorithm, vectorized over rows)."""
    chosen = np.empty((len(degree), k), dtype=np.int64)
    for j in range(k):
        upper = degree - k + j  # Floyd step j draws from [0, upper]
        draw = np.floor(rng.random(len(degree)) * (upper + 1)).astype(np.int64)
        taken = (chosen[:, :j] == draw[:, None]).any(axis=1)
        chosen[:, j] = np.where(taken, upper, draw)
    return chosen


def _in_edge_positions(
    start: np.ndarray, degree: np.ndarray, fanout: int, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """(row, position in indices) of the in-edges sampled for each frontier row: without rng,
    each row's first `fanout` in-edges (the sampling rule's); with rng, a random draw of them."""
    take_all = np.ones(len(degree), bool) if fanout < 0 else degree <= fanout
    if rng is None:
        take_all = np.ones(len(degree), bool)
        degree = degree if fanout < 0 else np.minimum(degree, fanout)
    rows = np.flatnonzero(take_all)
    counts = degree[rows]
    row_all = np.repeat(rows, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    positions_all = start[row_all] + offsets
    rows = np.flatnonzero(~take_all)
    if len(rows) == 0:
        return row_all, positions_all
    chosen = _sample_without_replacement(degree[rows], fanout, rng)
    row_some = np.repeat(rows, fanout)
    return np.concatenate([row_all, row_some]), np.concatenate([positions_all, start[row_some] + chosen.reshape(-1)])


class NeighborSampler:
    """seed: the sampling rule's (sampler.seed of the task): what sample() picks without an rng."""

    def __init__(self, graph: EnumeratedGraph, fanout: list[int], seed: int = 0):
        self.graph = graph
        self.fanout = list(fanout)
        self.seed = seed
        self.in_edges = {
            key: InEdgeIndex.build(graph.num_nodes(key[2]), src, dst, seed, key) for key, (src, dst) in graph.edges.items()
        }

    def sample(self, root_type: str, roots: np.ndarray, rng: np.random.Generator | None = None) -> SampledChunk:
        """Every root's neighbourhood by the sampling rule (batch inference, the server), or with
        rng a fresh random draw per call (training: other neighbours every epoch)."""
        owner0 = np.arange(len(roots), dtype=np.int64)
        visited = {t: np.zeros(0, np.int64) for t in self.graph.node_types}
        nodes = {t: [] for t in self.graph.node_types}
        edges = {key: [] for key in self.graph.edge_types}
        frontier = {t: (np.zeros(0, np.int64), np.zeros(0, np.int64)) for t in self.graph.node_types}
        frontier[root_type] = (owner0, roots.astype(np.int64))
        visited[root_type] = self._keys(root_type, owner0, roots)
        nodes[root_type].append(frontier[root_type])
        for fanout in self.fanout:
            discovered = {t: [] for t in self.graph.node_types}
            for key, index in self.in_edges.items():
                owner, dst = frontier[key[2]]
                if len(dst) == 0:
                    continue
                start = index.indptr[dst]
                row, position = _in_edge_positions(start, index.indptr[dst + 1] - start, fanout, rng)
                src = index.indices[position]
                edges[key].append((owner[row], src, dst[row]))
                discovered[key[0]].append((owner[row], src))
            frontier = {}
            for t in self.graph.node_types:
                if not discovered[t]:
                    frontier[t] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
                    continue
                owner = np.concatenate([o for o, _ in discovered[t]])
                node = np.concatenate([n for _, n in discovered[t]])
                keys = np.unique(self._keys(t, owner, node))
                new = keys[~np.isin(keys, visited[t], assume_unique=True)]
                visited[t] = np.union1d(visited[t], new)
                frontier[t] = self._split_keys(t, new)
                nodes[t].append(frontier[t])
        return SampledChunk(
            roots=roots,
            nodes={t: self._sorted_by_owner(parts, within_owner=True) for t, parts in nodes.items()},
            edges={key: self._sorted_by_owner(parts) for key, parts in edges.items()},
        )

    def _keys(self, node_type: str, owner: np.ndarray, node: np.ndarray) -> np.ndarray:
        return owner * self.graph.num_nodes(node_type) + node

    def _split_keys(self, node_type: str, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.graph.num_nodes(node_type)
        return keys // n, keys % n

    @staticmethod
    def _sorted_by_owner(parts: list[tuple[np.ndarray, ...]], within_owner: bool = False) -> tuple[np.ndarray, ...]:
        """Concatenated and grouped by owner; within_owner also sorts each owner's rows by the
        last column, so every sample's node ids come out sorted (cheap to validate on decode)."""
        if not parts:
            return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        columns = [np.concatenate(c) for c in zip(*parts)]
        order = np.lexsort((columns[-1], columns[0])) if within_owner else np.argsort(columns[0], kind="stable")
        return tuple(c[order] for c in columns)


def neighborhoods(graph: EnumeratedGraph, root_type: str, chunk: SampledChunk) -> Iterator[Neighborhood]:
    """Cut a sampled chunk into one Neighborhood per root (slices, no per-node work)."""
    node_types = graph.node_types
    edge_types = graph.edge_types
    n = len(chunk.roots)
    bounds = np.arange(n + 1)
    node_cuts = {t: np.searchsorted(chunk.nodes[t][0], bounds) for t in node_types}
    edge_cuts = {key: np.searchsorted(chunk.edges[key][0], bounds) for key in edge_types}
    # Nodes are sorted by (owner, id), so an endpoint's position in its sample is its rank among
    # the chunk's (owner, id) keys minus where its owner's nodes start.
    node_keys = {t: chunk.nodes[t][0] * graph.num_nodes(t) + chunk.nodes[t][1] for t in node_types}
    positions = {}
    for key in edge_types:
        owner, src, dst = chunk.edges[key]
        positions[key] = tuple(
            (np.searchsorted(node_keys[t], owner * graph.num_nodes(t) + ends) - node_cuts[t][owner]).astype(np.int32)
            for t, ends in ((key[0], src), (key[2], dst))
        )
    # Gather every node's features once for the chunk, then slice per root.
    gathered = {t: graph.features[t][chunk.nodes[t][1]] for t in node_types}
    labels = class_labels(graph.labels[root_type][chunk.roots])
    root_condensed = node_types.index(root_type)
    for i in range(n):
        node_ids, features, edges = {}, {}, {}
        for c, t in enumerate(node_types):
            a, b = node_cuts[t][i], node_cuts[t][i + 1]
            if b > a:
                node_ids[c] = chunk.nodes[t][1][a:b]
                features[c] = gathered[t][a:b]
        for c, key in enumerate(edge_types):
            a, b = edge_cuts[key][i], edge_cuts[key][i + 1]
            if b > a:
                edges[c] = (positions[key][0][a:b], positions[key][1][a:b])
        label = int(labels[i]) if labels[i] >= 0 else None
        yield Neighborhood(int(chunk.roots[i]), root_condensed, node_ids, features, edges, label)


@dataclass
class SamplingReport:
    roots: int
    shards: list[str]
    seconds: float


def default_shard_count(num_roots: int) -> int:
    """One shard per ROOTS_PER_SHARD roots, rounded up to a multiple of SHARD_MULTIPLE if more than one."""
    shards = math.ceil(num_roots / ROOTS_PER_SHARD)
    return 1 if shards <= 1 else math.ceil(shards / SHARD_MULTIPLE) * SHARD_MULTIPLE


def write_samples(
    sampler: NeighborSampler,
    root_type: str,
    roots: np.ndarray,
    prefix: str,
    encode: Callable[[Neighborhood], bytes],
    *,
    enumeration: str,
    num_shards: int = 0,
    progress: Callable[[str], None] = print,
) -> SamplingReport:
    """Sample every root and write '<prefix>NNNNN-of-MMMMM.tfrecord' shards, replacing old ones;
    enumeration: the id of the enumerated graph sampled (enumerated_layout.enumeration_id, read
    before the graph), recorded with them: the inference job refuses samples of another."""
    started = time.monotonic()
    num_shards = num_shards or default_shard_count(len(roots))
    delete_sample_manifest(prefix)
    for old in storage.glob(prefix + "*.tfrecord"):
        storage.delete_tree(old)
    shards = []
    samples_per_shard = {}
    done = 0
    for shard, shard_roots in enumerate(np.array_split(roots, num_shards)):
        uri = f"{prefix}{shard:05d}-of-{num_shards:05d}.tfrecord"
        written = 0
        with storage.open_write(uri) as stream:
            for chunk_start in range(0, len(shard_roots), CHUNK_SIZE):
                chunk = sampler.sample(root_type, shard_roots[chunk_start : chunk_start + CHUNK_SIZE])
                for sample in neighborhoods(sampler.graph, root_type, chunk):
                    write_record(stream, encode(sample))
                    written += 1
                done += len(chunk.roots)
                rate = done / max(time.monotonic() - started, 1e-9)
                progress(f"sampled {done:,}/{len(roots):,} {root_type} roots ({rate:,.0f} roots/s)")
        shards.append(uri)
        samples_per_shard[storage.basename(uri)] = written
    write_sample_manifest(prefix, samples_per_shard, enumeration)
    return SamplingReport(len(roots), shards, time.monotonic() - started)


def sample_job(config: TaskConfig, resources: Resources, progress: Callable[[str], None] = print) -> dict[str, SamplingReport]:
    """Write the samples a frozen config's inference reads, for every root node type."""
    if config.is_layerwise:
        raise ConfigError(f"{config.uri}: gnnAssetsConfig.inferenceMode is LAYERWISE, which reads the graph itself: there is nothing to sample")
    graph_dir = resources.layout.enumerated_graph_dir(config.graph_name)
    enumeration = enumeration_id(graph_dir)
    graph = read_enumerated_graph(graph_dir)
    check_enumeration(graph_dir, enumeration, f"the graph read to sample job {config.job_name!r}")  # not replaced while read
    check_same_graph(config.proto.graph_metadata, graph.metadata, config.uri)
    sampler = NeighborSampler(graph, config.fanout, config.sampler_seed)
    classification = config.task_kind is TaskKind.NODE_CLASSIFICATION  # samples carry classes
    if config.sample_encoding == SampleEncoding.GIGL_PROTO:
        endpoints = edge_endpoint_types(graph.node_types, graph.edge_types)
        encode = functools.partial(encode_gigl, endpoints=endpoints, labeled=classification)
    else:
        encode = encode_packed
    reports = {}
    for node_type in config.root_node_types:
        all_roots = np.arange(graph.num_nodes(node_type), dtype=np.int64)
        if config.task_kind.is_node_based:
            labeled = labelled(graph.labels[node_type])
            root_sets = [all_roots[labeled], all_roots[~labeled]]
        else:
            root_sets = [all_roots]
        for prefix, roots in zip(config.sample_prefixes(node_type), root_sets):
            report = write_samples(
                sampler, node_type, roots, prefix, encode, num_shards=config.num_shards, progress=progress, enumeration=enumeration
            )
            reports[prefix] = report
    return reports
