"""What changed between the graph a base job read (its kept record) and the graph enumerated
now, by original node id (enumeration ids shift when nodes are added or removed): nodes added
and removed, features changed (by a hash per row the record keeps, 8 bytes a node, instead of
the features), and per edge type the destinations whose in-edges changed."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.graph.csr import InEdges
from gnn_assets.graph.enumerated_layout import EdgeTypeKey, edge_type_name, edges_uri, mapping_uri, read_column
from gnn_assets.incremental.errors import IncrementalRefused

_ROWS = 65_536  # features compared this many rows at a time


@dataclass
class GraphChange:
    old_of_new: dict[str, np.ndarray] = field(default_factory=dict)  # per node type: the base's int id of each node now, -1 if added
    added: dict[str, np.ndarray] = field(default_factory=dict)  # ids now
    removed: dict[str, int] = field(default_factory=dict)
    changed_features: dict[str, np.ndarray] = field(default_factory=dict)  # ids now
    touched: dict[EdgeTypeKey, np.ndarray] = field(default_factory=dict)  # ids now of destinations whose in-edges changed
    edges_added: dict[str, int] = field(default_factory=dict)
    edges_removed: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "nodes_added": {t: len(v) for t, v in self.added.items()},
            "nodes_removed": dict(self.removed),
            "features_changed": {t: len(v) for t, v in self.changed_features.items()},
            "edges_added": dict(self.edges_added),
            "edges_removed": dict(self.edges_removed),
        }


@functools.lru_cache(maxsize=8)
def _multipliers(dim: int) -> np.ndarray:
    """An odd multiplier per column, the same prefix for any width (a graph's hashes do not change
    when another graph is wider)."""
    return np.random.default_rng(0x5EED).integers(1, 2**63, size=dim, dtype=np.uint64) | np.uint64(1)


def feature_hashes(features: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's float32 bits: the sum of each value's bits times an odd
    multiplier of its column, mixed (splitmix64's finalizer). One changed value always changes
    the hash (its bits differ by less than 2^32 and the multiplier is odd, so the product is not
    0 mod 2^64); several could cancel with a chance of about 2^-64."""
    rows, dim = features.shape
    out = np.empty(rows, dtype=np.uint64)
    weights = _multipliers(dim)
    with np.errstate(over="ignore"):
        for start in range(0, rows, _ROWS):
            bits = np.ascontiguousarray(features[start : start + _ROWS], dtype=np.float32).view(np.uint32).astype(np.uint64)
            h = (bits * weights).sum(axis=1, dtype=np.uint64)
            h ^= h >> np.uint64(30)
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(27)
            h *= np.uint64(0x94D049BB133111EB)
            out[start : start + len(h)] = h ^ (h >> np.uint64(31))
    return out


def hashes_uri(directory: str, node_type: str) -> str:
    """Where a graph record keeps its node type's feature_hashes."""
    return storage.join(directory, f"feature_hashes_{node_type}.npy")


def _read_hashes(uri: str) -> np.ndarray:
    if not storage.exists(uri):
        raise IncrementalRefused(f"{uri}: the base's record of its graph has no feature hashes; run the base job again with layerwise.keepStates")
    return np.load(io.BytesIO(storage.read_bytes(uri)), allow_pickle=False)


def _changed_rows(now: np.ndarray, before: np.ndarray, old_of_new: np.ndarray) -> np.ndarray:
    kept = np.flatnonzero(old_of_new >= 0)
    return kept[now[kept] != before[old_of_new[kept]]]


def _contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which of values are in sorted_values (sorted, unique)."""
    if not len(sorted_values):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[at] == values


def diff_graphs(
    base_dir: str, graph_dir: str, node_types: list[str], edge_types: list[EdgeTypeKey], features_now: dict, in_edges_now: dict[EdgeTypeKey, InEdges]
) -> GraphChange:
    """The change from the base's graph record (base_dir) to the graph now (graph_dir, its
    features and in-edges as the job holds them)."""
    change = GraphChange()
    new_of_old: dict[str, np.ndarray] = {}
    for node_type in node_types:
        before, now = read_column(mapping_uri(base_dir, node_type), "node_id"), read_column(mapping_uri(graph_dir, node_type), "node_id")
        old_of_new = pc.fill_null(pc.index_in(now, value_set=before), -1).to_numpy().astype(np.int64)
        inverse = np.full(len(before), -1, dtype=np.int64)
        exists = np.flatnonzero(old_of_new >= 0)
        inverse[old_of_new[exists]] = exists
        change.old_of_new[node_type], new_of_old[node_type] = old_of_new, inverse
        change.added[node_type] = np.flatnonzero(old_of_new < 0)
        change.removed[node_type] = int(np.sum(inverse < 0))
        now_features = features_now[node_type].numpy() if hasattr(features_now[node_type], "numpy") else features_now[node_type]
        change.changed_features[node_type] = _changed_rows(feature_hashes(now_features), _read_hashes(hashes_uri(base_dir, node_type)), old_of_new)
    for key in edge_types:
        src_type, _, dst_type = key
        in_edges = in_edges_now[key]
        num_src = max(len(change.old_of_new[src_type]), 1)  # nodes of the source type now
        # An edge as dst * num_src + src: the CSR's order (by destination, sources ascending), so
        # the edges now are sorted already and membership is a binary search, not a hash set.
        now = np.repeat(np.arange(in_edges.num_dst, dtype=np.int64), np.diff(in_edges.indptr)) * num_src + in_edges.sources
        with storage.open_read(edges_uri(base_dir, key)) as stream:
            old = pq.read_table(stream)
        src, dst = new_of_old[src_type][old["src"].to_numpy()], new_of_old[dst_type][old["dst"].to_numpy()]
        both = (src >= 0) & (dst >= 0)
        before = np.sort(dst[both] * num_src + src[both])
        added = now[~_contains(before, now)]
        removed = before[~_contains(now, before)]
        lost_source = dst[(src < 0) & (dst >= 0)]  # a removed source's edges into nodes that remain
        change.touched[key] = np.unique(np.concatenate([added // num_src, removed // num_src, lost_source]))
        name = edge_type_name(key)
        change.edges_added[name] = len(added)
        change.edges_removed[name] = len(removed) + int(np.sum(~both))
    return change
