"""Collation: a decoded batch of neighbourhoods -> one PyG Data or HeteroData.

For inference each neighbourhood stays its own subgraph (collate); training batches may merge
the nodes their samples share (collate_merged). Everything is numpy over the batch's
concatenated arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Data, HeteroData

from gnn_assets.graph.samples import SampleBatch


@dataclass
class CollatedBatch:
    """One model input; root_index[i] is the position of root_node_ids[i] among its type's nodes."""

    data: Data | HeteroData
    root_node_type: str
    root_node_ids: np.ndarray
    root_index: torch.Tensor
    labels: np.ndarray  # -1 where a root has no label


@dataclass(frozen=True)
class GraphTypes:
    """Names for the condensed types that samples carry."""

    node_types: list[str]
    edge_types: list[tuple[str, str, str]]
    feature_dims: list[int]

    @property
    def is_heterogeneous(self) -> bool:
        return len(self.node_types) > 1 or len(self.edge_types) > 1


def collate(batch: SampleBatch, types: GraphTypes) -> CollatedBatch:
    """The batch's neighbourhoods side by side, each its own subgraph (PyG's Batch of disjoint
    graphs, without the Python loop): a root's answer is computed from its own sample alone, so
    it is the same in any batch, of any size, by the batch job or the server. Merging nodes that
    several samples share would give a node the union of the in-edges their samples drew for it,
    and a root's answer would depend on which roots shared its batch."""
    if not len(batch):
        raise ValueError("cannot collate an empty batch")
    root_type = int(batch.root_node_types[0])
    starts = {t: np.cumsum(counts) - counts for t, counts in batch.node_counts.items()}
    edge_index: dict[int, np.ndarray] = {}
    for e, (src_name, _, dst_name) in enumerate(types.edge_types):
        if e not in batch.edges or not len(batch.edges[e][0]):
            continue
        ends = [
            positions + np.repeat(starts[types.node_types.index(name)], batch.edge_counts[e])
            for positions, name in zip(batch.edges[e], (src_name, dst_name))
        ]
        edge_index[e] = np.stack(ends).astype(np.int64, copy=False)
    # Each sample holds its root once: its position among the sample's nodes of the root type.
    owned = np.repeat(batch.root_node_ids, batch.node_counts[root_type])
    root_index = np.flatnonzero(batch.node_ids[root_type] == owned)
    if len(root_index) != len(batch):
        raise ValueError(f"{len(batch) - len(root_index)} samples do not hold their root among their nodes")
    return CollatedBatch(
        data=to_pyg(batch.node_ids, batch.features, edge_index, types),
        root_node_type=types.node_types[root_type],
        root_node_ids=batch.root_node_ids,
        root_index=torch.from_numpy(root_index),
        labels=batch.labels,
    )


def _unique_with_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted unique values, index of one occurrence of each, inverse), by one sort.

    Any occurrence serves: a node's features are the same in every sample that holds it. That
    allows numpy's default (SIMD) sort, several times faster than a stable one for int64, and
    np.unique, which cannot return first indices and an inverse without sorting twice.
    """
    order = np.argsort(values)
    ordered = values[order]
    first = np.ones(len(values), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], order[first], inverse


def _unique_sorted(values: np.ndarray) -> np.ndarray:
    ordered = np.sort(values)
    keep = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def collate_merged(batch: SampleBatch, types: GraphTypes) -> CollatedBatch:
    """The batch's neighbourhoods as one subgraph, nodes and edges that several samples share
    appearing once (PyG NeighborLoader's mini-batches): for training, where a batch is a
    stochastic sample anyway and merging keeps it small; never for inference (see collate)."""
    if not len(batch):
        raise ValueError("cannot collate an empty batch")
    root_type = int(batch.root_node_types[0])
    node_ids: dict[int, np.ndarray] = {}
    features: dict[int, np.ndarray] = {}
    inverse: dict[int, np.ndarray] = {}  # position in the concatenation -> position in the batch
    starts: dict[int, np.ndarray] = {}  # where each sample's nodes start in the concatenation
    for t, ids in batch.node_ids.items():
        counts = batch.node_counts[t]
        starts[t] = np.cumsum(counts) - counts
        node_ids[t], first, inverse[t] = _unique_with_inverse(ids)
        features[t] = batch.features[t][first]

    edge_index: dict[int, np.ndarray] = {}
    for e, (src_name, _, dst_name) in enumerate(types.edge_types):
        if e not in batch.edges or not len(batch.edges[e][0]):
            continue
        ends = []
        for positions, name in zip(batch.edges[e], (src_name, dst_name)):
            t = types.node_types.index(name)
            ends.append(inverse[t][positions + np.repeat(starts[t], batch.edge_counts[e])])
        # Batch positions are below 2**32, so one int64 key identifies an edge; duplicates from
        # overlapping neighbourhoods collapse to one.
        keys = _unique_sorted(ends[0] << 32 | ends[1])
        edge_index[e] = np.stack([keys >> 32, keys & 0xFFFFFFFF])

    root_index = torch.from_numpy(np.searchsorted(node_ids[root_type], batch.root_node_ids))
    return CollatedBatch(
        data=to_pyg(node_ids, features, edge_index, types),
        root_node_type=types.node_types[root_type],
        root_node_ids=batch.root_node_ids,
        root_index=root_index,
        labels=batch.labels,
    )


def to_pyg(node_ids, features, edge_index, types: GraphTypes) -> Data | HeteroData:
    """Every node and edge type is present (possibly empty), so models need no special cases."""
    empty_edges = np.zeros((2, 0), np.int64)
    xs = [torch.from_numpy(features.get(t, np.zeros((0, dim), np.float32))) for t, dim in enumerate(types.feature_dims)]
    n_ids = [torch.from_numpy(node_ids.get(t, np.zeros(0, np.int64))) for t in range(len(types.node_types))]
    edges = [torch.from_numpy(edge_index.get(t, empty_edges)) for t in range(len(types.edge_types))]
    if not types.is_heterogeneous:
        return Data(x=xs[0], edge_index=edges[0], num_nodes=len(n_ids[0]), n_id=n_ids[0])
    data = HeteroData()
    for t, name in enumerate(types.node_types):
        data[name].x, data[name].n_id = xs[t], n_ids[t]
    for t, key in enumerate(types.edge_types):
        data[key].edge_index = edges[t]
    return data
