"""Sample codec: a rooted k-hop neighbourhood <-> one serialized proto (one TFRecord record).

Two encodings carry the same content:
  PACKED      PackedNeighborhood: ids, features and edges as little-endian byte arrays, decoded
              as zero-copy numpy views. The default, and the fast path.
  GIGL_PROTO  GiGL's RootedNodeNeighborhood / SupervisedNodeClassificationSample: one Node
              message per node, so it costs one Python object per node to read and write.
Decoding checks that a record really is the expected message and is self-consistent; a record
that is not raises SampleDecodeError, and the pipeline sends it to the dead-letter output.
"""

from __future__ import annotations

from dataclasses import dataclass

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
_EMPTY_IDS = np.zeros(0, np.int64)


class SampleDecodeError(ValueError):
    pass


@dataclass
class Neighborhood:
    """A rooted neighbourhood in enumerated ids, arrays keyed by condensed node / edge type."""

    root_node_id: int
    root_node_type: int
    node_ids: dict[int, np.ndarray]
    features: dict[int, np.ndarray]
    edges: dict[int, tuple[np.ndarray, np.ndarray]]
    label: int | None = None


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
        parts += [sample.edges[t][0].astype("<i8", copy=False).tobytes(), sample.edges[t][1].astype("<i8", copy=False).tobytes()]
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


def encode_gigl(sample: Neighborhood, *, labeled: bool) -> bytes:
    """GiGL's layout; labeled=True writes a SupervisedNodeClassificationSample."""
    root_type = sample.root_node_type
    root_row = int(np.flatnonzero(sample.node_ids[root_type] == sample.root_node_id)[0])
    nodes = [
        Node(node_id=int(i), condensed_node_type=t, feature_values=row)
        for t, ids in sample.node_ids.items()
        for i, row in zip(ids.tolist(), sample.features[t].tolist())
    ]
    edges = [
        Edge(src_node_id=s, dst_node_id=d, condensed_edge_type=t)
        for t, (src, dst) in sample.edges.items()
        for s, d in zip(src.tolist(), dst.tolist())
    ]
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


def decode_packed(record: bytes) -> Neighborhood:
    message = PackedNeighborhood()
    try:
        message.ParseFromString(record)
    except DecodeError as error:
        raise SampleDecodeError(f"not a PackedNeighborhood: {error}") from error
    # Another message read as this one leaves magic unset (0) or wrongly typed (an unknown field).
    if message.magic != PACKED_NEIGHBORHOOD_MAGIC:
        raise SampleDecodeError(f"not a PackedNeighborhood: magic is {message.magic:#x}")
    buffer = message.arrays
    try:
        node_groups, edge_groups = np.frombuffer(buffer, "<i8", count=2).tolist()
        meta = np.frombuffer(buffer, "<i8", count=3 * node_groups + 2 * edge_groups, offset=16).tolist()
        offset = 16 + 8 * len(meta)
        nodes = [meta[3 * i : 3 * i + 3] for i in range(node_groups)]
        edge_meta = [meta[3 * node_groups + 2 * i : 3 * node_groups + 2 * i + 2] for i in range(edge_groups)]
        node_ids, features, edges = {}, {}, {}
        for t, n, _ in nodes:
            node_ids[t] = np.frombuffer(buffer, "<i8", count=n, offset=offset)
            offset += 8 * n
        for t, m in edge_meta:
            src = np.frombuffer(buffer, "<i8", count=m, offset=offset)
            dst = np.frombuffer(buffer, "<i8", count=m, offset=offset + 8 * m)
            edges[t] = (src, dst)
            offset += 16 * m
        for t, n, dim in nodes:
            features[t] = np.frombuffer(buffer, "<f4", count=n * dim, offset=offset).reshape(n, dim)
            offset += 4 * n * dim
    except ValueError as error:  # counts that do not fit the buffer, negative counts
        raise SampleDecodeError(f"PackedNeighborhood arrays do not match their header: {error}") from error
    if offset != len(buffer):
        raise SampleDecodeError(f"PackedNeighborhood arrays hold {len(buffer)} bytes, the header describes {offset}")
    label = message.root_label if message.HasField("root_label") else None
    return Neighborhood(message.root_node_id, message.root_condensed_node_type, node_ids, features, edges, label)


def decode_gigl(record: bytes, *, labeled: bool) -> Neighborhood:
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
    edges = {t: (src[edge_types == t], dst[edge_types == t]) for t in np.unique(edge_types).tolist()}
    label = message.root_node_labels[0].label if labeled and len(message.root_node_labels) else None
    root = message.root_node
    return Neighborhood(root.node_id, root.condensed_node_type, node_ids, features, edges, label)


@dataclass(frozen=True)
class SampleDecoder:
    """Decodes one record and checks it against the graph's types.

    edge_endpoint_types maps a condensed edge type to its (src, dst) condensed node types.
    """

    encoding: int
    labeled: bool
    root_node_type: int
    edge_endpoint_types: dict[int, tuple[int, int]]

    def __call__(self, record: bytes) -> Neighborhood:
        if self.encoding == SampleEncoding.GIGL_PROTO:
            sample = decode_gigl(record, labeled=self.labeled)
        else:
            sample = decode_packed(record)
        if sample.root_node_type != self.root_node_type:
            raise SampleDecodeError(f"root node type is {sample.root_node_type}, expected {self.root_node_type}")
        # Every id an edge or the root refers to, per node type: one membership test per type.
        referenced: dict[int, list[np.ndarray]] = {sample.root_node_type: [np.array([sample.root_node_id])]}
        for t, (src, dst) in sample.edges.items():
            if t not in self.edge_endpoint_types:
                raise SampleDecodeError(f"unknown condensed edge type {t}")
            src_type, dst_type = self.edge_endpoint_types[t]
            referenced.setdefault(src_type, []).append(src)
            referenced.setdefault(dst_type, []).append(dst)
        for node_type, arrays in referenced.items():
            if not _contains_all(sample.node_ids.get(node_type, _EMPTY_IDS), np.concatenate(arrays)):
                raise SampleDecodeError(
                    f"node type {node_type}: the root or an edge endpoint is not among the sample's nodes"
                )
        return sample


def _contains_all(ids: np.ndarray, values: np.ndarray) -> bool:
    """Every value is one of ids. The sampler writes ids sorted, which allows a binary search
    (a few microseconds); other writers' samples take the slower set test."""
    if len(ids) == 0:
        return len(values) == 0
    if len(ids) > 1 and not (ids[1:] > ids[:-1]).all():
        return bool(np.isin(values, ids).all())
    positions = np.minimum(np.searchsorted(ids, values), len(ids) - 1)
    return bool((ids[positions] == values).all())
