"""Samples in memory: one rooted neighbourhood (Neighborhood), and a batch of them with each
array concatenated per type (SampleBatch), which is what decoding yields and collation takes.

An edge names its endpoints by position in its sample's node arrays, as PyG's mini-batches
do: collation then needs no id lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

# condensed edge type -> (condensed src node type, condensed dst node type)
EdgeEndpointTypes = dict[int, tuple[int, int]]


class SampleDecodeError(ValueError):
    """A record that is not a well-formed sample; record is its index in its batch, where known."""

    def __init__(self, reason: str, record: int | None = None):
        super().__init__(reason if record is None else f"record {record}: {reason}")
        self.reason = reason
        self.record = record


def edge_endpoint_types(node_types: list[str], edge_types: list[tuple[str, str, str]]) -> EdgeEndpointTypes:
    return {i: (node_types.index(src), node_types.index(dst)) for i, (src, _, dst) in enumerate(edge_types)}


@dataclass
class Neighborhood:
    """A rooted neighbourhood, arrays keyed by condensed node / edge type.

    node_ids[t] are enumerated ids; edges[e] = (src, dst) are positions into node_ids of the
    edge type's source and destination node types.
    """

    root_node_id: int
    root_node_type: int
    node_ids: dict[int, np.ndarray]
    features: dict[int, np.ndarray]
    edges: dict[int, tuple[np.ndarray, np.ndarray]]
    label: int | None = None


@dataclass
class SampleBatch:
    """Decoded samples of one batch: per type, the samples' arrays concatenated in sample order.

    node_counts[t][i] / edge_counts[e][i] say how many rows sample i holds (0 where it has none
    of that type); edge positions stay positions into their own sample's nodes. This is what
    collation consumes, so a batch costs numpy calls per type, not per sample.
    """

    root_node_ids: np.ndarray  # int64, one per sample
    root_node_types: np.ndarray  # int64, one per sample
    labels: np.ndarray  # int64, -1 where a root has no label
    node_ids: dict[int, np.ndarray]
    node_counts: dict[int, np.ndarray]
    features: dict[int, np.ndarray]
    edges: dict[int, tuple[np.ndarray, np.ndarray]]
    edge_counts: dict[int, np.ndarray]

    def __len__(self) -> int:
        return len(self.root_node_ids)

    def owners(self, node_type: int) -> np.ndarray:
        """The sample each node of node_type belongs to."""
        counts = self.node_counts.get(node_type, np.zeros(len(self), np.int64))
        return np.repeat(np.arange(len(self)), counts)

    def neighborhoods(self) -> Iterator[Neighborhood]:
        """The batch's samples one by one (views into the batch's arrays)."""
        node_bounds = {t: np.concatenate([[0], np.cumsum(c)]).tolist() for t, c in self.node_counts.items()}
        edge_bounds = {t: np.concatenate([[0], np.cumsum(c)]).tolist() for t, c in self.edge_counts.items()}
        for i in range(len(self)):
            node_ids, features, edges = {}, {}, {}
            for t, bounds in node_bounds.items():
                if bounds[i + 1] > bounds[i]:
                    node_ids[t] = self.node_ids[t][bounds[i] : bounds[i + 1]]
                    features[t] = self.features[t][bounds[i] : bounds[i + 1]]
            for t, bounds in edge_bounds.items():
                if bounds[i + 1] > bounds[i]:
                    edges[t] = tuple(side[bounds[i] : bounds[i + 1]] for side in self.edges[t])
            label = int(self.labels[i])
            yield Neighborhood(int(self.root_node_ids[i]), int(self.root_node_types[i]), node_ids, features, edges, None if label < 0 else label)

    @classmethod
    def from_neighborhoods(cls, samples: Sequence[Neighborhood]) -> SampleBatch:
        def counts(arrays_of) -> np.ndarray:
            return np.fromiter((len(a) if a is not None else 0 for a in arrays_of), np.int64, len(samples))

        node_types = sorted({t for s in samples for t in s.node_ids})
        edge_types = sorted({t for s in samples for t in s.edges})
        return cls(
            root_node_ids=np.fromiter((s.root_node_id for s in samples), np.int64, len(samples)),
            root_node_types=np.fromiter((s.root_node_type for s in samples), np.int64, len(samples)),
            labels=np.fromiter((-1 if s.label is None else s.label for s in samples), np.int64, len(samples)),
            node_ids={t: np.concatenate([s.node_ids[t] for s in samples if t in s.node_ids]) for t in node_types},
            node_counts={t: counts(s.node_ids.get(t) for s in samples) for t in node_types},
            features={t: np.concatenate([s.features[t] for s in samples if t in s.features]) for t in node_types},
            edges={
                t: tuple(np.concatenate([s.edges[t][side] for s in samples if t in s.edges]) for side in (0, 1))
                for t in edge_types
            },
            edge_counts={t: counts(s.edges[t][0] if t in s.edges else None for s in samples) for t in edge_types},
        )


def feature_size_error(node_type: int, dim: int, feature_dims: Sequence[int]) -> str:
    if not 0 <= node_type < len(feature_dims):
        return f"unknown condensed node type {node_type}"
    return f"node type {node_type} has {dim} features, the graph has {feature_dims[node_type]}"
