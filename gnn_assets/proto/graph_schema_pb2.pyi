from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Node(_message.Message):
    __slots__ = ("node_id", "condensed_node_type", "feature_values")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CONDENSED_NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VALUES_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    condensed_node_type: int
    feature_values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, node_id: _Optional[int] = ..., condensed_node_type: _Optional[int] = ..., feature_values: _Optional[_Iterable[float]] = ...) -> None: ...

class Edge(_message.Message):
    __slots__ = ("src_node_id", "dst_node_id", "condensed_edge_type", "feature_values")
    SRC_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    DST_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CONDENSED_EDGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VALUES_FIELD_NUMBER: _ClassVar[int]
    src_node_id: int
    dst_node_id: int
    condensed_edge_type: int
    feature_values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, src_node_id: _Optional[int] = ..., dst_node_id: _Optional[int] = ..., condensed_edge_type: _Optional[int] = ..., feature_values: _Optional[_Iterable[float]] = ...) -> None: ...

class EdgeType(_message.Message):
    __slots__ = ("relation", "src_node_type", "dst_node_type")
    RELATION_FIELD_NUMBER: _ClassVar[int]
    SRC_NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    DST_NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    relation: str
    src_node_type: str
    dst_node_type: str
    def __init__(self, relation: _Optional[str] = ..., src_node_type: _Optional[str] = ..., dst_node_type: _Optional[str] = ...) -> None: ...

class BigQueryGraphSource(_message.Message):
    __slots__ = ("nodes_table", "edges_table")
    NODES_TABLE_FIELD_NUMBER: _ClassVar[int]
    EDGES_TABLE_FIELD_NUMBER: _ClassVar[int]
    nodes_table: str
    edges_table: str
    def __init__(self, nodes_table: _Optional[str] = ..., edges_table: _Optional[str] = ...) -> None: ...

class GraphMetadata(_message.Message):
    __slots__ = ("node_types", "edge_types", "condensed_edge_type_map", "condensed_node_type_map", "bigquery_source")
    class CondensedEdgeTypeMapEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: EdgeType
        def __init__(self, key: _Optional[int] = ..., value: _Optional[_Union[EdgeType, _Mapping]] = ...) -> None: ...
    class CondensedNodeTypeMapEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: str
        def __init__(self, key: _Optional[int] = ..., value: _Optional[str] = ...) -> None: ...
    NODE_TYPES_FIELD_NUMBER: _ClassVar[int]
    EDGE_TYPES_FIELD_NUMBER: _ClassVar[int]
    CONDENSED_EDGE_TYPE_MAP_FIELD_NUMBER: _ClassVar[int]
    CONDENSED_NODE_TYPE_MAP_FIELD_NUMBER: _ClassVar[int]
    BIGQUERY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    node_types: _containers.RepeatedScalarFieldContainer[str]
    edge_types: _containers.RepeatedCompositeFieldContainer[EdgeType]
    condensed_edge_type_map: _containers.MessageMap[int, EdgeType]
    condensed_node_type_map: _containers.ScalarMap[int, str]
    bigquery_source: BigQueryGraphSource
    def __init__(self, node_types: _Optional[_Iterable[str]] = ..., edge_types: _Optional[_Iterable[_Union[EdgeType, _Mapping]]] = ..., condensed_edge_type_map: _Optional[_Mapping[int, EdgeType]] = ..., condensed_node_type_map: _Optional[_Mapping[int, str]] = ..., bigquery_source: _Optional[_Union[BigQueryGraphSource, _Mapping]] = ...) -> None: ...

class Graph(_message.Message):
    __slots__ = ("nodes", "edges")
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    edges: _containers.RepeatedCompositeFieldContainer[Edge]
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[Edge, _Mapping]]] = ...) -> None: ...
