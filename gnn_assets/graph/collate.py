"""Collation: a batch of decoded neighbourhoods -> one PyG Data or HeteroData.

Overlapping neighbourhoods are merged: nodes and edges that several samples share appear
once. Everything is numpy set algebra over the concatenated arrays of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch_geometric.data import Data, HeteroData

from gnn_assets.graph.codec import Neighborhood


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


def _unique_with_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted unique values, index of each value's first occurrence, inverse), by one sort.

    np.unique does the same but, for int64, several times slower (numpy 2.4).
    """
    order = np.argsort(values, kind="stable")
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


def collate(samples: Sequence[Neighborhood], types: GraphTypes) -> CollatedBatch:
    if not samples:
        raise ValueError("cannot collate an empty batch")
    root_type = samples[0].root_node_type
    node_ids: dict[int, np.ndarray] = {}
    features: dict[int, np.ndarray] = {}
    inverse: dict[int, np.ndarray] = {}  # position in the concatenation -> position in the batch
    offsets: dict[int, np.ndarray] = {}  # where each sample's nodes start in the concatenation
    for t in range(len(types.node_types)):
        present = [s for s in samples if t in s.node_ids]
        if not present:
            continue
        counts = np.fromiter((len(s.node_ids[t]) if t in s.node_ids else 0 for s in samples), np.int64, len(samples))
        offsets[t] = np.cumsum(counts) - counts
        node_ids[t], first, inverse[t] = _unique_with_inverse(np.concatenate([s.node_ids[t] for s in present]))
        features[t] = np.concatenate([s.features[t] for s in present])[first]

    edge_index: dict[int, np.ndarray] = {}
    for e, (src_name, _, dst_name) in enumerate(types.edge_types):
        rows = [i for i, s in enumerate(samples) if e in s.edges and len(s.edges[e][0])]
        if not rows:
            continue
        counts = np.fromiter((len(samples[i].edges[e][0]) for i in rows), np.int64, len(rows))
        ends = []
        for side, name in ((0, src_name), (1, dst_name)):
            t = types.node_types.index(name)
            local = np.concatenate([samples[i].edges[e][side] for i in rows]).astype(np.int64)
            ends.append(inverse[t][local + np.repeat(offsets[t][rows], counts)])
        # Batch positions are below 2**32, so one int64 key identifies an edge; duplicates from
        # overlapping neighbourhoods collapse to one.
        keys = _unique_sorted(ends[0] << 32 | ends[1])
        edge_index[e] = np.stack([keys >> 32, keys & 0xFFFFFFFF])

    roots = np.fromiter((s.root_node_id for s in samples), np.int64, len(samples))
    labels = np.fromiter((-1 if s.label is None else s.label for s in samples), np.int64, len(samples))
    root_index = torch.from_numpy(np.searchsorted(node_ids[root_type], roots))
    return CollatedBatch(
        data=_to_pyg(node_ids, features, edge_index, types),
        root_node_type=types.node_types[root_type],
        root_node_ids=roots,
        root_index=root_index,
        labels=labels,
    )


def _to_pyg(node_ids, features, edge_index, types: GraphTypes) -> Data | HeteroData:
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
