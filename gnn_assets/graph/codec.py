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
    PackedEdges,
    PackedNeighborhood,
    PackedNodes,
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
    message = PackedNeighborhood(
        magic=PACKED_NEIGHBORHOOD_MAGIC,
        root_node_id=sample.root_node_id,
        root_condensed_node_type=sample.root_node_type,
        nodes=[
            PackedNodes(
                condensed_node_type=t,
                node_ids=ids.astype("<i8", copy=False).tobytes(),
                features=sample.features[t].astype("<f4", copy=False).tobytes(),
                feature_dim=sample.features[t].shape[1],
            )
            for t, ids in sample.node_ids.items()
        ],
        edges=[
            PackedEdges(
                condensed_edge_type=t,
                src_node_ids=src.astype("<i8", copy=False).tobytes(),
                dst_node_ids=dst.astype("<i8", copy=False).tobytes(),
            )
            for t, (src, dst) in sample.edges.items()
        ],
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


def _array(data: bytes, dtype: str, what: str) -> np.ndarray:
    if len(data) % np.dtype(dtype).itemsize:
        raise SampleDecodeError(f"{what}: {len(data)} bytes is not a whole number of {dtype} values")
    return np.frombuffer(data, dtype=dtype)


def decode_packed(record: bytes) -> Neighborhood:
    message = _parse(record, PackedNeighborhood())
    if message.magic != PACKED_NEIGHBORHOOD_MAGIC:
        raise SampleDecodeError(f"not a PackedNeighborhood: magic is {message.magic:#x}")
    node_ids, features = {}, {}
    for nodes in message.nodes:
        t = nodes.condensed_node_type
        ids = _array(nodes.node_ids, "<i8", "node_ids")
        x = _array(nodes.features, "<f4", "features")
        if x.size != ids.size * nodes.feature_dim:
            raise SampleDecodeError(f"node type {t}: {ids.size} nodes but {x.size} feature values for dimension {nodes.feature_dim}")
        node_ids[t], features[t] = ids, x.reshape(ids.size, nodes.feature_dim)
    edges = {}
    for group in message.edges:
        src = _array(group.src_node_ids, "<i8", "src_node_ids")
        dst = _array(group.dst_node_ids, "<i8", "dst_node_ids")
        if src.size != dst.size:
            raise SampleDecodeError(f"edge type {group.condensed_edge_type}: {src.size} sources but {dst.size} destinations")
        edges[group.condensed_edge_type] = (src, dst)
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
        if not np.isin(sample.root_node_id, sample.node_ids.get(sample.root_node_type, _EMPTY_IDS)):
            raise SampleDecodeError(f"root node {sample.root_node_id} is not among the sample's nodes")
        for t, (src, dst) in sample.edges.items():
            if t not in self.edge_endpoint_types:
                raise SampleDecodeError(f"unknown condensed edge type {t}")
            src_type, dst_type = self.edge_endpoint_types[t]
            for ends, node_type, name in ((src, src_type, "source"), (dst, dst_type, "destination")):
                if not np.isin(ends, sample.node_ids.get(node_type, _EMPTY_IDS)).all():
                    raise SampleDecodeError(f"edge type {t}: an edge {name} is not among the sample's nodes")
        return sample
