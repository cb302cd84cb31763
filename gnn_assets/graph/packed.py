"""The packed sample encoding: one PackedNeighborhood message per sample, its ids, edges and
features as little-endian arrays in one bytes field. The default encoding, and the fast path:
a whole batch of records decodes with numpy, no Python per record or per node.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from google.protobuf.message import DecodeError

from gnn_assets.graph.samples import Neighborhood, SampleBatch, SampleDecodeError, feature_size_error
from gnn_assets.proto.training_samples_schema_pb2 import PackedNeighborhood

PACKED_NEIGHBORHOOD_MAGIC = 0x474E4E31  # "GNN1"


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


MAX_GROUPS = 1024  # node or edge groups in one packed sample: more means a corrupt header
# Zeros after the joined records, so that fixed-width reads near the end stay inside: a varint
# running off the last record ends at the first zero, so the wire reader looks at most 12 bytes past it.
_PADDING = bytes(16)


def decode_packed_batch(records: Sequence[bytes], feature_dims: Sequence[int]) -> SampleBatch:
    """Records in the packed encoding -> one SampleBatch. Raises SampleDecodeError naming a
    record (by index) that is not a well-formed PackedNeighborhood of these feature sizes.

    The records are joined into one buffer and read with numpy over the whole batch: message
    fields, headers, checks and arrays. No Python runs per record unless a record is not in the
    canonical wire layout, which protobuf's parser then reads.
    """
    messages = _wire_fields(records) or _parsed_fields(records)
    roots, root_types, labels, data, payload_starts, payload_lengths = messages
    layout = _PackedLayout(data, payload_starts, payload_lengths, feature_dims)
    return SampleBatch(root_node_ids=roots, root_node_types=root_types, labels=labels, **layout.arrays())


def _windows(data: np.ndarray, width: int) -> np.ndarray:
    """Every run of width consecutive bytes as a row (a view): rows[positions] gathers them."""
    return np.ndarray((max(len(data) - width + 1, 0), width), np.uint8, data, 0, (1, 1))


def _read(data: np.ndarray, positions: np.ndarray, dtype: str) -> np.ndarray:
    """Little-endian values of dtype starting at arbitrary byte positions."""
    size = np.dtype(dtype).itemsize
    return _windows(data, size)[positions].view(dtype).reshape(-1)


def _varints(data: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value as int64, size in bytes, 0 where no varint ends within 10 bytes) at each position."""
    raw = _windows(data, 10)[positions].astype(np.uint64)
    ends = raw < 0x80
    sizes = np.where(ends.any(axis=1), ends.argmax(axis=1) + 1, 0)
    used = np.arange(10) < sizes[:, None]
    shifted = (raw & np.uint64(0x7F)) << (np.uint64(7) * np.arange(10, dtype=np.uint64))
    return np.bitwise_or.reduce(np.where(used, shifted, np.uint64(0)), axis=1).view(np.int64), sizes


def _joined(parts: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the parts end to end with _PADDING after them, where each starts, each one's length)."""
    lengths = np.fromiter(map(len, parts), np.int64, len(parts))
    return np.frombuffer(b"".join([*parts, _PADDING]), np.uint8), np.cumsum(lengths) - lengths, lengths


def _wire_fields(records: Sequence[bytes]):
    """PackedNeighborhood fields read straight from the wire, for records in the layout
    protobuf writes (fields in number order, each once, defaults omitted, nothing unknown).
    None when any record is laid out otherwise: protobuf's parser decides those."""
    data, starts, lengths = _joined(records)
    ends = starts + lengths
    tags = data[np.minimum(starts, len(data) - 1)]
    if not (tags == 0x0D).all() or (lengths < 5).any():  # field 1, fixed32
        return None
    magic = _read(data, starts + 1, "<u4")
    cursor = starts + 5
    values = []
    for tag in (0x10, 0x18, 0x20):  # root_node_id, root_condensed_node_type, root_label: varints
        present = (data[cursor] == tag) & (cursor < ends)
        value, size = _varints(data, cursor + 1)
        if (present & (size == 0)).any():
            return None
        values.append((present, value))
        cursor = cursor + np.where(present, 1 + size, 0)
    length, size = _varints(data, cursor + 1)
    payload_starts = cursor + 1 + size
    canonical = (data[cursor] == 0x2A) & (cursor < ends) & (size > 0) & (length >= 0) & (payload_starts + length == ends)
    if not canonical.all():
        return None
    wrong_magic = magic != PACKED_NEIGHBORHOOD_MAGIC
    if wrong_magic.any():
        i = int(np.flatnonzero(wrong_magic)[0])
        raise SampleDecodeError(f"not a PackedNeighborhood: magic is {int(magic[i]):#x}", record=i)
    (has_root, root), (has_type, root_type), (has_label, label) = values
    # Protobuf's int32 fields are varints of the sign-extended int64: the low 32 bits are the value.
    return (
        np.where(has_root, root, 0),
        np.where(has_type, root_type.astype(np.int32), 0).astype(np.int64),
        np.where(has_label, label.astype(np.int32), -1).astype(np.int64),
        data,
        payload_starts,
        length,
    )


def _parsed_fields(records: Sequence[bytes]):
    """The same fields as _wire_fields, through protobuf's parser, record by record."""
    roots, root_types, labels, payloads = [], [], [], []
    for i, record in enumerate(records):
        try:
            message = PackedNeighborhood.FromString(record)
        except DecodeError as error:
            raise SampleDecodeError(f"not a PackedNeighborhood: {error}", record=i) from error
        # Another message read as this one leaves magic unset (0) or wrongly typed (an unknown field).
        if message.magic != PACKED_NEIGHBORHOOD_MAGIC:
            raise SampleDecodeError(f"not a PackedNeighborhood: magic is {message.magic:#x}", record=i)
        roots.append(message.root_node_id)
        root_types.append(message.root_condensed_node_type)
        labels.append(message.root_label if message.HasField("root_label") else -1)
        payloads.append(message.arrays)
    return (
        np.array(roots, np.uint64).view(np.int64),
        np.array(root_types, np.int64),
        np.array(labels, np.int64),
        *_joined(payloads),
    )


def _ragged(starts: np.ndarray, counts: np.ndarray, stride: int) -> np.ndarray:
    """Positions starts[i], starts[i] + stride, ... (counts[i] of them) for every i, concatenated."""
    before = np.cumsum(counts) - counts
    return np.repeat(starts - stride * before, counts) + stride * np.arange(int(counts.sum()))


def _exclusive_cumsum(values: np.ndarray) -> np.ndarray:
    return np.cumsum(values, axis=1) - values


class _PackedLayout:
    """Where every array of a batch of packed payloads lies, read and checked with numpy.

    A payload is int64 [node groups, edge groups], then (type, count, feature size) per node
    group and (type, count) per edge group, then each node group's ids (int64), each edge
    group's sources then destinations (int32 positions), each node group's features (float32).
    Positions below are byte positions in data, the batch's joined records.
    """

    def __init__(self, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, feature_dims: Sequence[int]):
        self.data = data
        self.batch_size = len(starts)
        self.feature_dims = np.asarray(feature_dims, np.int64)
        _refuse(
            (lengths % 4 != 0) | (lengths < 16),
            lambda i: f"PackedNeighborhood arrays do not match their header: {lengths[i]} bytes is not a header and whole arrays",
        )
        node_groups, edge_groups = _read(data, starts, "<i8"), _read(data, starts + 8, "<i8")
        too_many = (node_groups < 0) | (node_groups >= MAX_GROUPS) | (edge_groups < 0) | (edge_groups >= MAX_GROUPS)
        header_bytes = np.where(too_many, 0, 16 + 8 * (3 * node_groups + 2 * edge_groups))
        _refuse(
            too_many | (header_bytes > lengths),
            lambda i: f"PackedNeighborhood arrays do not match their header: {lengths[i]} bytes cannot hold the header "
            f"of {node_groups[i]} node and {edge_groups[i]} edge groups",
        )
        nodes, edges = [], []  # per (node groups, edge groups) shape: segment tables
        shapes = node_groups * MAX_GROUPS + edge_groups
        for shape in np.unique(shapes).tolist():
            rows = np.flatnonzero(shapes == shape)
            node_segments, edge_segments = self._segments(rows, *divmod(shape, MAX_GROUPS), starts[rows], lengths[rows])
            nodes.append(node_segments)
            edges.append(edge_segments)
        # (record, type, count, where the ids start, where the features start)
        self.nodes = [np.concatenate(column) for column in zip(*nodes)]
        # (record, type, count, where the sources start)
        self.edges = [np.concatenate(column) for column in zip(*edges)]

    def _segments(self, rows, node_groups: int, edge_groups: int, starts, lengths):
        """The node and edge segments of records that share one header shape."""
        fields = 3 * node_groups + 2 * edge_groups
        header_bytes = 16 + 8 * fields
        meta = np.zeros((len(rows), fields), np.int64)
        for j in range(fields):
            meta[:, j] = _read(self.data, starts + 16 + 8 * j, "<i8")
        node_types, counts, dims = meta[:, 0 : 3 * node_groups : 3], meta[:, 1 : 3 * node_groups : 3], meta[:, 2 : 3 * node_groups : 3]
        edge_types, edge_counts = meta[:, 3 * node_groups :: 2], meta[:, 3 * node_groups + 1 :: 2]

        known = (node_types >= 0) & (node_types < len(self.feature_dims))
        expected_dims = self.feature_dims[np.where(known, node_types, 0)]
        for g in range(node_groups):
            wrong = ~known[:, g] | (dims[:, g] != expected_dims[:, g])
            _refuse(wrong, lambda k: feature_size_error(int(node_types[k, g]), int(dims[k, g]), self.feature_dims.tolist()), rows)
        # Counts are bounded by the payload before any arithmetic on them, so nothing overflows.
        limit = (lengths // 8)[:, None]
        for what, types, group_counts in (("node", node_types, counts), ("edge", edge_types, edge_counts)):
            bad = (group_counts < 0) | (group_counts > limit) | _repeats(types)
            for g in range(types.shape[1]):
                _refuse(bad[:, g], lambda k: f"PackedNeighborhood header has a bad {what} group (type {types[k, g]}, count {group_counts[k, g]})", rows)
        id_bytes, edge_bytes, feature_bytes = 8 * counts, 8 * edge_counts, 4 * counts * dims
        ids_at = starts[:, None] + header_bytes + _exclusive_cumsum(id_bytes)
        edges_at = starts[:, None] + header_bytes + id_bytes.sum(1)[:, None] + _exclusive_cumsum(edge_bytes)
        index_bytes = id_bytes.sum(1) + edge_bytes.sum(1)
        features_at = starts[:, None] + header_bytes + index_bytes[:, None] + _exclusive_cumsum(feature_bytes)
        described = header_bytes + index_bytes + feature_bytes.sum(1)
        _refuse(described != lengths, lambda k: f"PackedNeighborhood arrays hold {lengths[k]} bytes, the header describes {described[k]}", rows)
        record = np.broadcast_to(rows[:, None], counts.shape).ravel()
        node_segments = (record, node_types.ravel(), counts.ravel(), ids_at.ravel(), features_at.ravel())
        edge_record = np.broadcast_to(rows[:, None], edge_counts.shape).ravel()
        edge_segments = (edge_record, edge_types.ravel(), edge_counts.ravel(), edges_at.ravel())
        return node_segments, edge_segments

    def _by_type(self, segments: list[np.ndarray]):
        """Per type: its segments in record order, and each record's count (0 where absent)."""
        record, types, counts = segments[:3]
        for t in np.unique(types).tolist():
            chosen = np.flatnonzero(types == t)
            chosen = chosen[np.argsort(record[chosen], kind="stable")]
            per_record = np.zeros(self.batch_size, np.int64)
            per_record[record[chosen]] = counts[chosen]
            yield t, [column[chosen] for column in segments], per_record

    def arrays(self) -> dict:
        node_ids, features, node_counts = {}, {}, {}
        for t, (_, _, counts, ids_at, features_at), per_record in self._by_type(self.nodes):
            node_ids[t] = _read(self.data, _ragged(ids_at, counts, 8), "<i8")
            dim = int(self.feature_dims[t])
            # Each node's features are 4 * dim consecutive bytes: gather them as one row each.
            rows = _windows(self.data, 4 * dim)[_ragged(features_at, counts, 4 * dim)] if dim else np.zeros((int(counts.sum()), 0), np.uint8)
            features[t] = rows.view("<f4")
            node_counts[t] = per_record
        edges, edge_counts = {}, {}
        for t, (_, _, counts, sources_at), per_record in self._by_type(self.edges):
            sources = _ragged(sources_at, counts, 4)
            edges[t] = (_read(self.data, sources, "<i4"), _read(self.data, sources + 4 * np.repeat(counts, counts), "<i4"))
            edge_counts[t] = per_record
        return {"node_ids": node_ids, "node_counts": node_counts, "features": features, "edges": edges, "edge_counts": edge_counts}


def _refuse(bad: np.ndarray, reason, rows: np.ndarray | None = None) -> None:
    """Raise for the first bad one; reason(k) says why. rows maps positions in a subset of the
    batch back to record indices."""
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise SampleDecodeError(reason(k), record=k if rows is None else int(rows[k]))


def _repeats(types: np.ndarray) -> np.ndarray:
    """Per group: does an earlier group of the same record have its type? (One group per type.)"""
    repeated = np.zeros(types.shape, dtype=bool)
    for g in range(1, types.shape[1]):
        repeated[:, g] = (types[:, :g] == types[:, g : g + 1]).any(axis=1)
    return repeated
