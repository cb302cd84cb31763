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

    @property
    def num_roots(self) -> int:
        return len(self.root_node_ids)


@dataclass(frozen=True)
class GraphTypes:
    """Names for the condensed types that samples carry."""

    node_types: list[str]
    edge_types: list[tuple[str, str, str]]
    feature_dims: list[int]

    @property
    def is_heterogeneous(self) -> bool:
        return len(self.node_types) > 1 or len(self.edge_types) > 1


def _concat(arrays: list[np.ndarray], dtype, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros((0, *shape_tail), dtype)


def collate(samples: Sequence[Neighborhood], types: GraphTypes) -> CollatedBatch:
    if not samples:
        raise ValueError("cannot collate an empty batch")
    root_type = samples[0].root_node_type
    node_ids: dict[int, np.ndarray] = {}
    features: dict[int, np.ndarray] = {}
    for t in range(len(types.node_types)):
        ids = [s.node_ids[t] for s in samples if t in s.node_ids]
        if not ids:
            continue
        all_ids = np.concatenate(ids)
        unique, first = np.unique(all_ids, return_index=True)
        x = np.concatenate([s.features[t] for s in samples if t in s.node_ids])
        node_ids[t], features[t] = unique, x[first]

    edge_index: dict[int, np.ndarray] = {}
    for t, (src_name, _, dst_name) in enumerate(types.edge_types):
        src = _concat([s.edges[t][0] for s in samples if t in s.edges], np.int64)
        dst = _concat([s.edges[t][1] for s in samples if t in s.edges], np.int64)
        if len(src) == 0:
            continue
        src_type, dst_type = types.node_types.index(src_name), types.node_types.index(dst_name)
        local = np.stack([np.searchsorted(node_ids[src_type], src), np.searchsorted(node_ids[dst_type], dst)])
        # Ids are below 2**32 (GiGL's uint32 node ids), so one int64 key identifies a local pair.
        keys = np.unique(local[0] << 32 | local[1])
        edge_index[t] = np.stack([keys >> 32, keys & 0xFFFFFFFF])

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
