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

import struct
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

# condensed edge type -> (condensed src node type, condensed dst node type)
EdgeEndpointTypes = dict[int, tuple[int, int]]


class SampleDecodeError(ValueError):
    pass


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
        node_groups, edge_groups = struct.unpack_from("<2q", buffer)
        meta = struct.unpack_from(f"<{3 * node_groups + 2 * edge_groups}q", buffer, 16)
        offset = 16 + 8 * len(meta)
        nodes = [meta[3 * i : 3 * i + 3] for i in range(node_groups)]
        edge_meta = [meta[3 * node_groups + 2 * i : 3 * node_groups + 2 * i + 2] for i in range(edge_groups)]
        node_ids, features, edges = {}, {}, {}
        for t, n, _ in nodes:
            node_ids[t] = np.frombuffer(buffer, "<i8", count=n, offset=offset)
            offset += 8 * n
        for t, m in edge_meta:
            edges[t] = (
                np.frombuffer(buffer, "<i4", count=m, offset=offset),
                np.frombuffer(buffer, "<i4", count=m, offset=offset + 4 * m),
            )
            offset += 8 * m
        for t, n, dim in nodes:
            features[t] = np.frombuffer(buffer, "<f4", count=n * dim, offset=offset).reshape(n, dim)
            offset += 4 * n * dim
    except (ValueError, struct.error) as error:  # counts that do not fit the buffer, negative counts
        raise SampleDecodeError(f"PackedNeighborhood arrays do not match their header: {error}") from error
    if offset != len(buffer):
        raise SampleDecodeError(f"PackedNeighborhood arrays hold {len(buffer)} bytes, the header describes {offset}")
    label = message.root_label if message.HasField("root_label") else None
    return Neighborhood(message.root_node_id, message.root_condensed_node_type, node_ids, features, edges, label)


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
    """Decodes one record and checks it against the graph's types."""

    encoding: int
    labeled: bool
    root_node_type: int
    edge_endpoint_types: EdgeEndpointTypes

    def __call__(self, record: bytes) -> Neighborhood:
        if self.encoding == SampleEncoding.GIGL_PROTO:
            sample = decode_gigl(record, self.edge_endpoint_types, labeled=self.labeled)
        else:
            sample = decode_packed(record)
        if sample.root_node_type != self.root_node_type:
            raise SampleDecodeError(f"root node type is {sample.root_node_type}, expected {self.root_node_type}")
        root_ids = sample.node_ids.get(sample.root_node_type)
        if root_ids is None or not _contains(root_ids, sample.root_node_id):
            raise SampleDecodeError(f"root node {sample.root_node_id} is not among the sample's nodes")
        for t, ends in sample.edges.items():
            if t not in self.edge_endpoint_types:
                raise SampleDecodeError(f"unknown condensed edge type {t}")
            for node_type, positions, name in zip(self.edge_endpoint_types[t], ends, ("source", "destination")):
                count = len(sample.node_ids.get(node_type, ()))
                # Viewed unsigned, a negative position is huge: one reduction checks both bounds.
                if len(positions) and positions.view(np.uint32).max() >= count:
                    raise SampleDecodeError(f"edge type {t}: an edge {name} points outside the sample's {count} nodes")
        return sample


def _contains(ids: np.ndarray, value: int) -> bool:
    # The sampler writes ids sorted, which allows a binary search; other writers' may not be.
    position = int(np.searchsorted(ids, value))
    if position < len(ids) and ids[position] == value:
        return True
    return bool((ids == value).any())
