"""Sample codec: rooted k-hop neighbourhoods <-> serialized protos (one TFRecord record each).

Two encodings carry the same content:
  PACKED      PackedNeighborhood (gnn_assets.graph.packed): ids, edges and features as
              little-endian arrays in one bytes field. The default, and the fast path.
  GIGL_PROTO  GiGL's RootedNodeNeighborhood / SupervisedNodeClassificationSample: one Node
              message per node, so it costs one Python object per node to read and write.
GiGL's layout names edge endpoints by node id; its encoder and decoder translate to and from
positions (see gnn_assets.graph.samples).

SampleDecoder decodes a batch of records and checks it against the graph's types; a record
that is not the expected, self-consistent message is reported with a SampleDecodeError, and
the pipeline sends it to the dead-letter output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet

from gnn_assets.graph.packed import decode_packed_batch
from gnn_assets.graph.samples import EdgeEndpointTypes, Neighborhood, SampleBatch, SampleDecodeError, feature_size_error
from gnn_assets.proto.gbml_config_pb2 import SampleEncoding
from gnn_assets.proto.graph_schema_pb2 import Edge, Graph, Node
from gnn_assets.proto.training_samples_schema_pb2 import (
    Label,
    RootedNodeNeighborhood,
    SupervisedNodeClassificationSample,
)


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
                        raise SampleDecodeError(feature_size_error(t, features.shape[1], self.feature_dims))
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
