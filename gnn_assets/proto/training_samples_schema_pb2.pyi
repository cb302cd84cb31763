from gnn_assets.proto import graph_schema_pb2 as _graph_schema_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Label(_message.Message):
    __slots__ = ("label_type", "label")
    LABEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    label_type: str
    label: int
    def __init__(self, label_type: _Optional[str] = ..., label: _Optional[int] = ...) -> None: ...

class RootedNodeNeighborhood(_message.Message):
    __slots__ = ("root_node", "neighborhood")
    ROOT_NODE_FIELD_NUMBER: _ClassVar[int]
    NEIGHBORHOOD_FIELD_NUMBER: _ClassVar[int]
    root_node: _graph_schema_pb2.Node
    neighborhood: _graph_schema_pb2.Graph
    def __init__(self, root_node: _Optional[_Union[_graph_schema_pb2.Node, _Mapping]] = ..., neighborhood: _Optional[_Union[_graph_schema_pb2.Graph, _Mapping]] = ...) -> None: ...

class SupervisedNodeClassificationSample(_message.Message):
    __slots__ = ("root_node", "neighborhood", "root_node_labels")
    ROOT_NODE_FIELD_NUMBER: _ClassVar[int]
    NEIGHBORHOOD_FIELD_NUMBER: _ClassVar[int]
    ROOT_NODE_LABELS_FIELD_NUMBER: _ClassVar[int]
    root_node: _graph_schema_pb2.Node
    neighborhood: _graph_schema_pb2.Graph
    root_node_labels: _containers.RepeatedCompositeFieldContainer[Label]
    def __init__(self, root_node: _Optional[_Union[_graph_schema_pb2.Node, _Mapping]] = ..., neighborhood: _Optional[_Union[_graph_schema_pb2.Graph, _Mapping]] = ..., root_node_labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ...) -> None: ...

class PackedNodes(_message.Message):
    __slots__ = ("condensed_node_type", "node_ids", "features", "feature_dim")
    CONDENSED_NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_DIM_FIELD_NUMBER: _ClassVar[int]
    condensed_node_type: int
    node_ids: bytes
    features: bytes
    feature_dim: int
    def __init__(self, condensed_node_type: _Optional[int] = ..., node_ids: _Optional[bytes] = ..., features: _Optional[bytes] = ..., feature_dim: _Optional[int] = ...) -> None: ...

class PackedEdges(_message.Message):
    __slots__ = ("condensed_edge_type", "src_node_ids", "dst_node_ids")
    CONDENSED_EDGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SRC_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    DST_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    condensed_edge_type: int
    src_node_ids: bytes
    dst_node_ids: bytes
    def __init__(self, condensed_edge_type: _Optional[int] = ..., src_node_ids: _Optional[bytes] = ..., dst_node_ids: _Optional[bytes] = ...) -> None: ...

class PackedNeighborhood(_message.Message):
    __slots__ = ("magic", "root_node_id", "root_condensed_node_type", "nodes", "edges", "root_label")
    MAGIC_FIELD_NUMBER: _ClassVar[int]
    ROOT_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_CONDENSED_NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    ROOT_LABEL_FIELD_NUMBER: _ClassVar[int]
    magic: int
    root_node_id: int
    root_condensed_node_type: int
    nodes: _containers.RepeatedCompositeFieldContainer[PackedNodes]
    edges: _containers.RepeatedCompositeFieldContainer[PackedEdges]
    root_label: int
    def __init__(self, magic: _Optional[int] = ..., root_node_id: _Optional[int] = ..., root_condensed_node_type: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[PackedNodes, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[PackedEdges, _Mapping]]] = ..., root_label: _Optional[int] = ...) -> None: ...
