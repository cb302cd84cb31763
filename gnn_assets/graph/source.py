"""The graph source format: what a user hands in, with original string node ids.

A graph source is a folder with three files:
  nodes.parquet        node_id string, node_type string, features list<float32>, label int64 (nullable)
  edges.parquet        src string, dst string, edge_type string (the relation name)
  graph_metadata.yaml  GraphMetadata: node types and edge types (src type, relation, dst type)
Messages flow along edges from src to dst.

read_graph_source is where a graph enters the project, so everything about it is checked there,
each problem in one line with counts and example ids: type and relation names (they become
file and table names), NULL ids and types, missing or empty feature vectors, NaN or infinite
features, an empty graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gnn_assets import storage
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.names import validate_name
from gnn_assets.config.yaml_proto import load_yaml, to_yaml
from gnn_assets.proto.graph_schema_pb2 import GraphMetadata

_EXAMPLES = 5
NODES_SCHEMA = pa.schema(
    [
        pa.field("node_id", pa.string(), nullable=False),
        pa.field("node_type", pa.string(), nullable=False),
        pa.field("features", pa.list_(pa.float32()), nullable=False),
        pa.field("label", pa.int64()),
    ]
)
EDGES_SCHEMA = pa.schema(
    [
        pa.field("src", pa.string(), nullable=False),
        pa.field("dst", pa.string(), nullable=False),
        pa.field("edge_type", pa.string(), nullable=False),
    ]
)


class GraphSourceError(ValueError):
    pass


@dataclass(frozen=True)
class GraphSource:
    metadata: GraphMetadata
    nodes: pa.Table
    edges: pa.Table

    def edge_type_of(self, relation: str) -> tuple[str, str, str]:
        for e in self.metadata.edge_types:
            if e.relation == relation:
                return (e.src_node_type, e.relation, e.dst_node_type)
        raise GraphSourceError(f"edge_type {relation!r} is not in graph_metadata.yaml")


def write_graph_source(directory: str, source: GraphSource) -> None:
    storage.write_parquet(storage.join(directory, "nodes.parquet"), source.nodes.cast(NODES_SCHEMA))
    storage.write_parquet(storage.join(directory, "edges.parquet"), source.edges.cast(EDGES_SCHEMA))
    storage.write_text(storage.join(directory, "graph_metadata.yaml"), to_yaml(source.metadata))


def read_graph_source(directory: str) -> GraphSource:
    metadata_uri = storage.join(directory, "graph_metadata.yaml")
    if not storage.exists(metadata_uri):
        raise GraphSourceError(f"{directory}: no graph source here (graph_metadata.yaml is missing)")
    metadata = load_yaml(metadata_uri, GraphMetadata())
    _check_metadata(metadata, metadata_uri)
    nodes_uri, edges_uri = storage.join(directory, "nodes.parquet"), storage.join(directory, "edges.parquet")
    nodes, edges = _read_table(nodes_uri), _read_table(edges_uri)
    for table, schema, uri in ((nodes, NODES_SCHEMA, nodes_uri), (edges, EDGES_SCHEMA, edges_uri)):
        missing = [f.name for f in schema if f.name not in table.column_names and f.name != "label"]
        if missing:
            raise GraphSourceError(f"{uri}: missing columns {missing}")
    if "label" not in nodes.column_names:
        nodes = nodes.append_column("label", pa.nulls(nodes.num_rows, pa.int64()))
    nodes, edges = nodes.select(NODES_SCHEMA.names), edges.select(EDGES_SCHEMA.names)
    _check_not_null(nodes, nodes_uri, ("node_id", "node_type", "features"))
    _check_not_null(edges, edges_uri, ("src", "dst", "edge_type"))
    try:
        nodes = nodes.cast(NODES_SCHEMA)
        edges = edges.cast(EDGES_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        raise GraphSourceError(f"{directory}: columns do not have the graph source types: {error}") from error
    if nodes.num_rows == 0:
        raise GraphSourceError(f"{nodes_uri}: the graph has no nodes")
    _check_features(nodes, nodes_uri)
    return GraphSource(metadata, nodes, edges)


def _read_table(uri: str) -> pa.Table:
    try:
        return storage.read_parquet(uri)
    except (OSError, pa.ArrowInvalid) as error:
        raise GraphSourceError(f"{uri}: cannot be read as Parquet: {error}") from error


def _check_metadata(metadata: GraphMetadata, uri: str) -> None:
    try:
        for node_type in metadata.node_types:
            validate_name(node_type, "node type")
        for edge in metadata.edge_types:
            validate_name(edge.relation, "relation")
    except ConfigError as error:
        raise GraphSourceError(f"{uri}: {error}") from None
    if not metadata.node_types:
        raise GraphSourceError(f"{uri}: nodeTypes is empty")


def _examples(ids: pa.Array | pa.ChunkedArray) -> list:
    return ids.slice(0, _EXAMPLES).to_pylist()


def _check_not_null(table: pa.Table, uri: str, columns: tuple[str, ...]) -> None:
    for column in columns:
        nulls = table[column].null_count
        if nulls:
            rows = pc.indices_nonzero(pc.is_null(table[column])).slice(0, _EXAMPLES).to_pylist()
            raise GraphSourceError(f"{uri}: {nulls:,} rows have a NULL {column}, e.g. rows {rows}")


def _check_features(nodes: pa.Table, uri: str) -> None:
    features = nodes["features"].combine_chunks()
    lengths = pc.list_value_length(features)
    empty = pc.equal(lengths, 0)
    if pc.any(empty).as_py():
        raise GraphSourceError(
            f"{uri}: {pc.sum(empty).as_py():,} nodes have an empty feature vector, e.g. {_examples(nodes['node_id'].filter(empty))}"
        )
    _refuse_bad_values(nodes, features, lengths, uri)


def _refuse_bad_values(nodes: pa.Table, features: pa.ListArray, lengths: pa.Array, uri: str) -> None:
    """NULL or non-finite feature values, counted per node, with example node ids."""
    values = features.flatten()
    bad_value = pc.or_kleene(pc.is_null(values), pc.invert(pc.is_finite(values.fill_null(0.0))))
    if not pc.any(bad_value).as_py():
        return
    owner = np.repeat(np.arange(len(features)), lengths.to_numpy(zero_copy_only=False))
    bad_nodes = np.unique(owner[bad_value.to_numpy(zero_copy_only=False)])
    ids = nodes["node_id"].take(pa.array(bad_nodes[:_EXAMPLES])).to_pylist()
    raise GraphSourceError(
        f"{uri}: {len(bad_nodes):,} nodes have NULL, NaN or infinite feature values, e.g. {ids}; "
        "fix them in the source (features must be finite numbers)"
    )
