"""Sample codec: a rooted k-hop neighbourhood <-> one serialized proto (one TFRecord record).

Two encodings carry the same content:
  PACKED      PackedNeighborhood: ids, edges and features as little-endian arrays in one bytes
              field, decoded as zero-copy numpy views. The default, and the fast path.
  GIGL_PROTO  GiGL's RootedNodeNeighborhood / SupervisedNodeClassificationSample: one Node
              message per node, so it costs one Python object per node to read and write.
In memory (Neighborhood) and in the packed encoding, an edge names its endpoints by position
in the sample's node arrays, as PyG's mini-batches do: collation then needs no id lookups.
GiGL's layout names them by node id; its encoder and decoder translate.

Decoding checks that a record really is the expected message and is self-consistent; a record
that is not raises SampleDecodeError, and the pipeline sends it to the dead-letter output.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet

from gnn_assets.proto.gbml_config_pb2 import SampleEncoding
from gnn_assets.proto.graph_schema_pb2 import Edge, Graph, Node
from gnn_assets.proto.training_samples_schema_pb2 import (
    Label,
    PackedNeighborhood,
    RootedNodeNeighborhood,
    SupervisedNodeClassificationSample,
)

PACKED_NEIGHBORHOOD_MAGIC = 0x474E4E31  # "GNN1"

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


def encode_packed(sample: Neighborhood) -> bytes:
    node_types = list(sample.node_ids)
    edge_types = list(sample.edges)
    header = [len(node_types), len(edge_types)]
    for t in node_types:
        header += [t, len(sample.node_ids[t]), sample.features[t].shape[1]]
    for t in edge_types:
        header += [t, len(sample.edges[t][0])]
    parts = [np.asarray(header, "<i8").tobytes()]
    parts += [sample.node_ids[t].astype("<i8", copy=False).tobytes() for t in node_types]
    for t in edge_types:
        parts += [np.asarray(ends, "<i4").tobytes() for ends in sample.edges[t]]
    parts += [sample.features[t].astype("<f4", copy=False).tobytes() for t in node_types]
    message = PackedNeighborhood(
        magic=PACKED_NEIGHBORHOOD_MAGIC,
        root_node_id=sample.root_node_id,
        root_condensed_node_type=sample.root_node_type,
        arrays=b"".join(parts),
    )
    if sample.label is not None:
        message.root_label = sample.label
    return message.SerializeToString()


_HEADER = struct.Struct("<2q")  # node groups, edge groups


@functools.lru_cache(maxsize=64)
def _group_struct(node_groups: int, edge_groups: int) -> struct.Struct:
    """(type, count, feature size) per node group, then (type, count) per edge group."""
    if not (0 <= node_groups < 1024 and 0 <= edge_groups < 1024):
        raise struct.error(f"the header names {node_groups} node and {edge_groups} edge groups")
    return struct.Struct(f"<{3 * node_groups + 2 * edge_groups}q")


def decode_packed_batch(records: Sequence[bytes], feature_dims: Sequence[int]) -> SampleBatch:
    """Records in the packed encoding -> one SampleBatch. Raises SampleDecodeError for the first
    record that is not a well-formed PackedNeighborhood of these node feature sizes (naming it
    by its index).

    Python touches each record once: parse, header, and a memoryview slice per array; each
    array is then joined over the batch in one call (no per-record numpy objects).
    """
    batch_size = len(records)
    roots, root_types, labels = [], [], []
    ids: dict[int, list] = {}  # node type -> each record's ids bytes
    features: dict[int, list] = {}
    edges: dict[int, list] = {}  # edge type -> each record's (sources, destinations) bytes
    node_counts: dict[int, list[int]] = {}  # type -> count per record (lists: cheaper per item than numpy)
    edge_counts: dict[int, list[int]] = {}
    for i, record in enumerate(records):
        try:
            # A fresh message per record: upb's FromString is several times cheaper than
            # ParseFromString into a reused one (which clears it first).
            message = PackedNeighborhood.FromString(record)
        except DecodeError as error:
            raise SampleDecodeError(f"not a PackedNeighborhood: {error}", record=i) from error
        # Another message read as this one leaves magic unset (0) or wrongly typed (an unknown field).
        if message.magic != PACKED_NEIGHBORHOOD_MAGIC:
            raise SampleDecodeError(f"not a PackedNeighborhood: magic is {message.magic:#x}", record=i)
        roots.append(message.root_node_id)
        root_types.append(message.root_condensed_node_type)
        labels.append(message.root_label if message.HasField("root_label") else -1)
        buffer = message.arrays
        try:
            node_groups, edge_groups = _HEADER.unpack_from(buffer)
            groups = _group_struct(node_groups, edge_groups)
            meta = groups.unpack_from(buffer, _HEADER.size)
        except struct.error as error:
            raise SampleDecodeError(f"PackedNeighborhood arrays do not match their header: {error}", record=i) from error
        view = memoryview(buffer)
        offset = _HEADER.size + groups.size
        for g in range(0, 3 * node_groups, 3):
            t, n, dim = meta[g : g + 3]
            if not 0 <= t < len(feature_dims) or dim != feature_dims[t]:
                raise SampleDecodeError(_feature_size_error(t, dim, feature_dims), record=i)
            if n < 0 or t in node_counts and node_counts[t][i]:
                raise SampleDecodeError(f"PackedNeighborhood header has a bad node group {meta[g : g + 3]}", record=i)
            if t not in node_counts:
                ids[t], features[t], node_counts[t] = [], [], [0] * batch_size
            ids[t].append(view[offset : offset + 8 * n])
            node_counts[t][i] = n
            offset += 8 * n
        for g in range(3 * node_groups, len(meta), 2):
            t, m = meta[g : g + 2]
            if m < 0 or t in edge_counts and edge_counts[t][i]:
                raise SampleDecodeError(f"PackedNeighborhood header has a bad edge group {meta[g : g + 2]}", record=i)
            if t not in edge_counts:
                edges[t], edge_counts[t] = [], [0] * batch_size
            edges[t].append(view[offset : offset + 8 * m])
            edge_counts[t][i] = m
            offset += 8 * m
        for g in range(0, 3 * node_groups, 3):
            t, n, dim = meta[g : g + 3]
            features[t].append(view[offset : offset + 4 * n * dim])
            offset += 4 * n * dim
        if offset != len(buffer):  # slices stop at the end: a header that claims more is caught here
            raise SampleDecodeError(f"PackedNeighborhood arrays hold {len(buffer)} bytes, the header describes {offset}", record=i)
    return SampleBatch(
        root_node_ids=np.array(roots, np.int64),
        root_node_types=np.array(root_types, np.int64),
        labels=np.array(labels, np.int64),
        node_ids={t: np.frombuffer(b"".join(parts), "<i8") for t, parts in ids.items()},
        node_counts={t: np.array(counts, np.int64) for t, counts in node_counts.items()},
        features={t: np.frombuffer(b"".join(parts), "<f4").reshape(-1, feature_dims[t]) for t, parts in features.items()},
        edges={t: _split_edge_blocks(np.frombuffer(b"".join(parts), "<i4"), np.array(edge_counts[t], np.int64)) for t, parts in edges.items()},
        edge_counts={t: np.array(counts, np.int64) for t, counts in edge_counts.items()},
    )


def _split_edge_blocks(blocks: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each record's edges are a block of m sources then m destinations; edge k of the batch,
    in record i, has its source at k + (edges before record i)."""
    before = np.cumsum(counts) - counts
    sources = np.arange(len(blocks) // 2) + np.repeat(before, counts)
    return blocks[sources], blocks[sources + np.repeat(counts, counts)]


def _feature_size_error(node_type: int, dim: int, feature_dims: Sequence[int]) -> str:
    if not 0 <= node_type < len(feature_dims):
        return f"unknown condensed node type {node_type}"
    return f"node type {node_type} has {dim} features, the graph has {feature_dims[node_type]}"


def encode_gigl(sample: Neighborhood, endpoints: EdgeEndpointTypes, *, labeled: bool) -> bytes:
    """GiGL's layout; labeled=True writes a SupervisedNodeClassificationSample."""
    root_type = sample.root_node_type
    root_row = int(np.flatnonzero(sample.node_ids[root_type] == sample.root_node_id)[0])
    nodes = [
        Node(node_id=int(i), condensed_node_type=t, feature_values=row)
        for t, ids in sample.node_ids.items()
        for i, row in zip(ids.tolist(), sample.features[t].tolist())
    ]
    edges = []
    for t, (src, dst) in sample.edges.items():
        src_type, dst_type = endpoints[t]
        src_ids, dst_ids = sample.node_ids[src_type][src], sample.node_ids[dst_type][dst]
        edges += [Edge(src_node_id=s, dst_node_id=d, condensed_edge_type=t) for s, d in zip(src_ids.tolist(), dst_ids.tolist())]
    root = Node(
        node_id=sample.root_node_id,
        condensed_node_type=root_type,
        feature_values=sample.features[root_type][root_row].tolist(),
    )
    neighborhood = Graph(nodes=nodes, edges=edges)
    if labeled:
        labels = [] if sample.label is None else [Label(label_type="label", label=sample.label)]
        return SupervisedNodeClassificationSample(root_node=root, neighborhood=neighborhood, root_node_labels=labels).SerializeToString()
    return RootedNodeNeighborhood(root_node=root, neighborhood=neighborhood).SerializeToString()


def _parse(record: bytes, message: Message) -> Message:
    try:
        message.ParseFromString(record)
    except DecodeError as error:
        raise SampleDecodeError(f"not a {type(message).__name__}: {error}") from error
    unknown = UnknownFieldSet(message)
    if len(unknown):
        numbers = sorted({field.field_number for field in unknown})
        raise SampleDecodeError(f"not a {type(message).__name__}: it has fields {numbers} that message does not define")
    return message


def decode_gigl(record: bytes, endpoints: EdgeEndpointTypes, *, labeled: bool) -> Neighborhood:
    message = _parse(record, SupervisedNodeClassificationSample() if labeled else RootedNodeNeighborhood())
    if not message.HasField("root_node"):
        raise SampleDecodeError(f"{type(message).__name__} has no root_node")
    all_nodes = [message.root_node, *message.neighborhood.nodes]
    ids = np.fromiter((n.node_id for n in all_nodes), np.int64, len(all_nodes))
    types = np.fromiter((n.condensed_node_type for n in all_nodes), np.int64, len(all_nodes))
    node_ids, features = {}, {}
    for t in np.unique(types).tolist():
        rows = np.flatnonzero(types == t)
        vectors = [all_nodes[i].feature_values for i in rows.tolist()]
        if len({len(v) for v in vectors}) > 1:
            raise SampleDecodeError(f"node type {t}: feature vectors have different lengths")
        type_ids, first = np.unique(ids[rows], return_index=True)  # the root appears twice
        node_ids[t] = type_ids
        features[t] = np.asarray(vectors, dtype=np.float32).reshape(len(rows), -1)[first]
    graph_edges = message.neighborhood.edges
    edge_types = np.fromiter((e.condensed_edge_type for e in graph_edges), np.int64, len(graph_edges))
    src = np.fromiter((e.src_node_id for e in graph_edges), np.int64, len(graph_edges))
    dst = np.fromiter((e.dst_node_id for e in graph_edges), np.int64, len(graph_edges))
    edges = {}
    for t in np.unique(edge_types).tolist():
        if t not in endpoints:
            raise SampleDecodeError(f"unknown condensed edge type {t}")
        chosen = edge_types == t
        edges[t] = tuple(
            _positions(node_ids.get(node_type, np.zeros(0, np.int64)), end_ids[chosen], f"edge type {t} {name}")
            for node_type, end_ids, name in ((endpoints[t][0], src, "source"), (endpoints[t][1], dst, "destination"))
        )
    label = message.root_node_labels[0].label if labeled and len(message.root_node_labels) else None
    root = message.root_node
    return Neighborhood(root.node_id, root.condensed_node_type, node_ids, features, edges, label)


def _positions(sorted_ids: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
    positions = np.searchsorted(sorted_ids, values)
    if len(values) and (positions.max() >= len(sorted_ids) or (sorted_ids[positions] != values).any()):
        raise SampleDecodeError(f"{what}: an endpoint is not among the sample's nodes")
    return positions.astype(np.int32)


@dataclass(frozen=True)
class SampleDecoder:
    """Decodes batches of records and checks them against the graph's types."""

    encoding: int
    labeled: bool
    root_node_type: int
    edge_endpoint_types: EdgeEndpointTypes
    feature_dims: tuple[int, ...]

    def decode_batch(self, records: Sequence[bytes]) -> tuple[SampleBatch | None, list[tuple[int, SampleDecodeError]]]:
        """(the batch of every good record or None, [(index, error)] for every bad one).

        The whole batch is decoded and checked at once; only when that fails is it decoded
        again one record at a time, to tell exactly which records are bad.
        """
        try:
            return self._decode_checked(records), []
        except SampleDecodeError:
            pass
        good, failures = [], []
        for i, record in enumerate(records):
            try:
                self._decode_checked([record])
                good.append(record)
            except SampleDecodeError as error:
                failures.append((i, error))
        return (self._decode_checked(good) if good else None), failures

    def _decode_checked(self, records: Sequence[bytes]) -> SampleBatch:
        if self.encoding == SampleEncoding.GIGL_PROTO:
            neighborhoods = [decode_gigl(r, self.edge_endpoint_types, labeled=self.labeled) for r in records]
            for sample in neighborhoods:
                for t, features in sample.features.items():
                    if not 0 <= t < len(self.feature_dims) or features.shape[1] != self.feature_dims[t]:
                        raise SampleDecodeError(_feature_size_error(t, features.shape[1], self.feature_dims))
            batch = SampleBatch.from_neighborhoods(neighborhoods)
        else:
            batch = decode_packed_batch(records, self.feature_dims)
        self._check(batch)
        return batch

    def _check(self, batch: SampleBatch) -> None:
        """Vectorized over the batch; the messages name the sample when the batch holds one."""
        wrong_type = batch.root_node_types != self.root_node_type
        if wrong_type.any():
            raise SampleDecodeError(f"root node type is {batch.root_node_types[wrong_type][0]}, expected {self.root_node_type}")
        ids = batch.node_ids.get(self.root_node_type, np.zeros(0, np.int64))
        owner = batch.owners(self.root_node_type)
        found = np.zeros(len(batch), dtype=bool)
        found[owner[ids == batch.root_node_ids[owner]]] = True
        if not found.all():
            raise SampleDecodeError(f"root node {batch.root_node_ids[~found][0]} is not among the sample's nodes")
        for t, ends in batch.edges.items():
            if t not in self.edge_endpoint_types:
                raise SampleDecodeError(f"unknown condensed edge type {t}")
            for node_type, positions, name in zip(self.edge_endpoint_types[t], ends, ("source", "destination")):
                counts = batch.node_counts.get(node_type, np.zeros(len(batch), np.int64))
                limits = np.repeat(counts, batch.edge_counts[t])
                # Viewed unsigned, a negative position is huge: one comparison checks both bounds.
                outside = positions.astype(np.int32, copy=False).view(np.uint32) >= limits
                if outside.any():
                    count = limits[outside][0]
                    raise SampleDecodeError(f"edge type {t}: an edge {name} points outside the sample's {count} nodes")
