"""The graph source format: what a user hands in, with original string node ids.

A graph source is a folder with three files:
  nodes.parquet        node_id string, node_type string, features list<float32>, label int64 (nullable)
  edges.parquet        src string, dst string, edge_type string (the relation name)
  graph_metadata.yaml  GraphMetadata: node types and edge types (src type, relation, dst type)
Messages flow along edges from src to dst.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from gnn_assets import storage
from gnn_assets.config.yaml_proto import load_yaml, to_yaml
from gnn_assets.proto.graph_schema_pb2 import GraphMetadata

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
    nodes = storage.read_parquet(storage.join(directory, "nodes.parquet"))
    edges = storage.read_parquet(storage.join(directory, "edges.parquet"))
    for table, schema, name in ((nodes, NODES_SCHEMA, "nodes.parquet"), (edges, EDGES_SCHEMA, "edges.parquet")):
        missing = [f.name for f in schema if f.name not in table.column_names and f.name != "label"]
        if missing:
            raise GraphSourceError(f"{storage.join(directory, name)}: missing columns {missing}")
    if "label" not in nodes.column_names:
        nodes = nodes.append_column("label", pa.nulls(nodes.num_rows, pa.int64()))
    try:
        nodes = nodes.select(NODES_SCHEMA.names).cast(NODES_SCHEMA)
        edges = edges.select(EDGES_SCHEMA.names).cast(EDGES_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise GraphSourceError(f"{directory}: columns do not have the graph source types: {error}") from error
    return GraphSource(metadata, nodes, edges)
