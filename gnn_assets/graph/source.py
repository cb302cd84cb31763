"""The graph source format: what a user hands in, with original string node ids.

A graph source is a folder with three files:
  nodes.parquet        node_id string, node_type string, features list<float32>, label (nullable:
                       integers are classes, floating numbers values; graph/labels.py)
  edges.parquet        src string, dst string, edge_type string (the relation name), and
                       src_type, dst_type strings (the end types; needed only where one relation
                       name serves several node-type pairs, as in GiGL configs); label
                       (nullable, optional: an edge task's labels, graph/edge_labels.py)
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
from gnn_assets.config.tables import InvalidTableName, parse_bigquery_table
from gnn_assets.config.yaml_proto import camel_case, load_yaml, to_yaml
from gnn_assets.graph import source_refusals as refusals
from gnn_assets.graph.labels import CLASSES, VALUES, label_type
from gnn_assets.graph.source_refusals import GraphSourceError
from gnn_assets.proto.graph_schema_pb2 import GraphMetadata

_EXAMPLES = 5


def nodes_schema(labels: pa.DataType = CLASSES) -> pa.Schema:
    """The nodes table's schema; labels are classes (int64) or values (float64): graph.labels."""
    return pa.schema(
        [
            pa.field("node_id", pa.string(), nullable=False),
            pa.field("node_type", pa.string(), nullable=False),
            pa.field("features", pa.list_(pa.float32()), nullable=False),
            pa.field("label", labels),
        ]
    )


NODES_SCHEMA = nodes_schema()
EDGES_SCHEMA = pa.schema(
    [
        pa.field("src", pa.string(), nullable=False),
        pa.field("dst", pa.string(), nullable=False),
        pa.field("edge_type", pa.string(), nullable=False),
        pa.field("src_type", pa.string(), nullable=False),
        pa.field("dst_type", pa.string(), nullable=False),
    ]
)
_OPTIONAL_EDGE_COLUMNS = ("src_type", "dst_type")
EDGE_TYPE_COLUMNS = ("src_type", "edge_type", "dst_type")  # an edge's (src type, relation, dst type)


def edges_schema(labels: pa.DataType | None = None) -> pa.Schema:
    """The edges table's schema; with labels (edge tasks: classes or values), a label column too."""
    return EDGES_SCHEMA if labels is None else EDGES_SCHEMA.append(pa.field("label", labels))


@dataclass(frozen=True)
class GraphSource:
    metadata: GraphMetadata
    nodes: pa.Table
    edges: pa.Table
    # Held out for measuring models, never read by enumeration, sampling or training: labels the
    # nodes table withholds (node_id, node_type, label) and edges left out of the graph (as edges).
    evaluation_labels: pa.Table | None = None
    evaluation_edges: pa.Table | None = None
    evaluation_edge_labels: pa.Table | None = None  # edges of the graph whose labels the edges table withholds (with them)

    def edge_keys(self) -> list[tuple[str, str, str]]:
        """Each edge's type as (src type, relation, dst type), in row order."""
        columns = [self.edges[c].to_pylist() for c in EDGE_TYPE_COLUMNS]
        return list(zip(*columns))

    def edges_per_type(self) -> dict[tuple[str, str, str], int]:
        """Edge count per (src type, relation, dst type)."""
        counts = self.edges.group_by(list(EDGE_TYPE_COLUMNS)).aggregate([([], "count_all")]).to_pylist()
        return {tuple(row[c] for c in EDGE_TYPE_COLUMNS): row["count_all"] for row in counts}


def write_graph_source(directory: str, source: GraphSource) -> None:
    for shards in ("nodes", "edges"):  # a source written as shard folders before
        storage.delete_tree(storage.join(directory, shards))
    labels = source.nodes.schema.field("label").type if "label" in source.nodes.column_names else CLASSES
    storage.write_parquet(storage.join(directory, "nodes.parquet"), source.nodes.cast(nodes_schema(labels)))
    edge_labels = source.edges.schema.field("label").type if "label" in source.edges.column_names else None
    storage.write_parquet(storage.join(directory, "edges.parquet"), source.edges.cast(edges_schema(edge_labels)))
    storage.write_text(storage.join(directory, "graph_metadata.yaml"), to_yaml(source.metadata))
    held_out = (
        ("evaluation_labels.parquet", source.evaluation_labels),
        ("evaluation_edges.parquet", source.evaluation_edges),
        ("evaluation_edge_labels.parquet", source.evaluation_edge_labels),
    )
    for name, table in held_out:
        if table is not None:
            storage.write_parquet(storage.join(directory, name), table)


def has_graph_source(directory: str) -> bool:
    """Whether a graph source lies in directory (its graph_metadata.yaml does)."""
    return storage.exists(_metadata_uri(directory))


def _metadata_uri(directory: str) -> str:
    return storage.join(directory, "graph_metadata.yaml")


def read_source_metadata(directory: str) -> GraphMetadata:
    """A graph source's graph_metadata.yaml, its names checked (they become files and tables)."""
    metadata_uri = _metadata_uri(directory)
    if not storage.exists(metadata_uri):
        raise GraphSourceError(f"{directory}: no graph source here (graph_metadata.yaml is missing)")
    metadata = load_yaml(metadata_uri, GraphMetadata())
    _check_metadata(metadata, metadata_uri)
    return metadata


def read_graph_source(directory: str) -> GraphSource:
    """The whole source in memory (single files), checked: for tests and demos; enumeration
    reads a source where it lies, in SQL (sql_enumeration.py)."""
    metadata = read_source_metadata(directory)
    nodes_uri, edges_uri = storage.join(directory, "nodes.parquet"), storage.join(directory, "edges.parquet")
    nodes, edges = _read_table(nodes_uri), _read_table(edges_uri)
    for table, schema, uri in ((nodes, NODES_SCHEMA, nodes_uri), (edges, EDGES_SCHEMA, edges_uri)):
        optional = ("label", *_OPTIONAL_EDGE_COLUMNS)
        missing = [f.name for f in schema if f.name not in table.column_names and f.name not in optional]
        if missing:
            raise GraphSourceError(f"{uri}: missing columns {missing}")
    if "label" not in nodes.column_names:
        nodes = nodes.append_column("label", pa.nulls(nodes.num_rows, pa.int64()))
    _check_not_null(nodes, nodes_uri, ("node_id", "node_type", "features"))
    _check_not_null(edges, edges_uri, ("src", "dst", "edge_type"))
    edges = _with_end_types(edges, metadata, edges_uri)
    edge_labels = label_type(edges.schema.field("label").type, edges_uri) if "label" in edges.column_names else None
    nodes, edges = nodes.select(NODES_SCHEMA.names), edges.select(edges_schema(edge_labels).names)
    labels = label_type(nodes.schema.field("label").type, nodes_uri)
    try:
        nodes = nodes.cast(nodes_schema(labels))
        edges = edges.cast(edges_schema(edge_labels))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        raise GraphSourceError(f"{directory}: columns do not have the graph source types: {error}") from error
    if nodes.num_rows == 0:
        raise refusals.no_nodes(nodes_uri)
    _check_features(nodes, nodes_uri)
    if labels == VALUES:
        _check_label_values(nodes, nodes_uri)
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
        if metadata.HasField("bigquery_source"):
            for field in ("nodes_table", "edges_table"):
                if not getattr(metadata.bigquery_source, field):
                    raise ConfigError(f"bigquerySource.{camel_case(field)} is required")
                try:
                    parse_bigquery_table(getattr(metadata.bigquery_source, field))
                except InvalidTableName as error:
                    raise ConfigError(f"bigquerySource.{camel_case(field)}: {error}") from None
    except ConfigError as error:
        raise GraphSourceError(f"{uri}: {error}") from None
    if not metadata.node_types:
        raise GraphSourceError(f"{uri}: nodeTypes is empty")
    keys = [(e.src_node_type, e.relation, e.dst_node_type) for e in metadata.edge_types]
    if len(set(keys)) != len(keys):
        raise GraphSourceError(f"{uri}: an edge type (src type, relation, dst type) is listed twice")
    undeclared = sorted({t for k in keys for t in (k[0], k[2])} - set(metadata.node_types))
    if undeclared:
        raise GraphSourceError(f"{uri}: edge types name node types {undeclared} that nodeTypes does not list")


def _with_end_types(edges: pa.Table, metadata: GraphMetadata, uri: str) -> pa.Table:
    """Edges with src_type and dst_type: as given, or derived from graph_metadata.yaml where each
    relation name belongs to one edge type. Every (src type, relation, dst type) must be declared."""
    declared = {(e.src_node_type, e.relation, e.dst_node_type) for e in metadata.edge_types}
    given = [c for c in _OPTIONAL_EDGE_COLUMNS if c in edges.column_names]
    if len(given) == 1:
        raise GraphSourceError(f"{uri}: has {given[0]} but not {({'src_type', 'dst_type'} - set(given)).pop()}; give both or neither")
    if not given:
        ends: dict[str, list[tuple[str, str]]] = {}
        for src, relation, dst in sorted(declared):
            ends.setdefault(relation, []).append((src, dst))
        present = set(pc.unique(edges["edge_type"]).to_pylist())
        unknown = sorted(present - set(ends))
        if unknown:
            raise GraphSourceError(f"{uri}: edge types {unknown} are not in graph_metadata.yaml")
        ambiguous = sorted(r for r in present if len(ends[r]) > 1)
        if ambiguous:
            raise GraphSourceError(
                f"{uri}: relations {ambiguous} name several edge types in graph_metadata.yaml; give every edge its src_type and dst_type"
            )
        relations = sorted(ends)
        position = pc.index_in(edges["edge_type"], value_set=pa.array(relations, pa.string()))
        for column, end in (("src_type", 0), ("dst_type", 1)):
            types = pa.array([ends[r][0][end] for r in relations], pa.string())
            edges = edges.append_column(column, types.take(position))
        return edges
    _check_not_null(edges, uri, _OPTIONAL_EDGE_COLUMNS)
    found = edges.group_by(list(EDGE_TYPE_COLUMNS)).aggregate([]).to_pylist()
    unknown = sorted({tuple(r[c] for c in EDGE_TYPE_COLUMNS) for r in found} - declared)
    if unknown:
        raise GraphSourceError(f"{uri}: edge types {unknown} are not in graph_metadata.yaml")
    return edges


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
        raise refusals.empty_features(uri, pc.sum(empty).as_py(), _examples(nodes["node_id"].filter(empty)))
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
    raise refusals.non_finite_features(uri, len(bad_nodes), ids)


def _check_label_values(nodes: pa.Table, uri: str) -> None:
    """Values (regression labels) must be finite where given; NULL leaves a node unlabelled."""
    labels = nodes["label"]
    bad = pc.invert(pc.is_finite(labels.fill_null(0.0)))
    count = pc.sum(bad).as_py() or 0
    if count:
        raise refusals.non_finite_labels(uri, count, _examples(nodes["node_id"].filter(bad)))
