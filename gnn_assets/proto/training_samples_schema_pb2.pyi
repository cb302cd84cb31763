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

class PackedNeighborhood(_message.Message):
    __slots__ = ("magic", "root_node_id", "root_condensed_node_type", "root_label", "arrays")
    MAGIC_FIELD_NUMBER: _ClassVar[int]
    ROOT_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_CONDENSED_NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ROOT_LABEL_FIELD_NUMBER: _ClassVar[int]
    ARRAYS_FIELD_NUMBER: _ClassVar[int]
    magic: int
    root_node_id: int
    root_condensed_node_type: int
    root_label: int
    arrays: bytes
    def __init__(self, magic: _Optional[int] = ..., root_node_id: _Optional[int] = ..., root_condensed_node_type: _Optional[int] = ..., root_label: _Optional[int] = ..., arrays: _Optional[bytes] = ...) -> None: ...
