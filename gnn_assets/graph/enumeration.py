"""Enumeration: original string node ids -> integer ids 0..n-1 per node type, as GiGL's Data
Preprocessor does (int_id = ROW_NUMBER() OVER (ORDER BY node_id) - 1), plus the enumerated
graph the sampler reads and the mapping tables un-enumeration joins against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import uuid
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gnn_assets import storage
from gnn_assets.config.layout import StorageLayout
from gnn_assets.config.yaml_proto import load_yaml, to_yaml
from gnn_assets.graph import source_refusals as refusals
from gnn_assets.graph.change_log import finish_pending_swap
from gnn_assets.graph.edge_labels import EdgeLabels
from gnn_assets.graph.feature_rows import FeatureRowsWriter
from gnn_assets.graph.labels import is_values, labelled, read_labels
from gnn_assets.graph.out_edges import OutEdgesWriter
from gnn_assets.graph.source import GraphSource, GraphSourceError, read_source_metadata
from gnn_assets.graph.sql_enumeration import SourceSummary, SqlEngineSettings, enumerate_source_sql, sql_settings_of, summarize_source
from gnn_assets.graph.change_record import record_enumeration_change
from gnn_assets.config.resource_config import Resources
from gnn_assets.config import tables
from gnn_assets.graph.enumerated_layout import (
    MAPPING_SCHEMA,
    EdgeTypeKey,
    edge_type_name,
    edges_uri,
    keyed_edges_uri,
    mapping_uri,
    nodes_uri,
    read_graph_metadata,
    write_enumeration_id,
)
from gnn_assets.proto.gbml_config_pb2 import PreprocessedMetadata
from gnn_assets.proto.graph_schema_pb2 import GraphMetadata

if TYPE_CHECKING:
    from gnn_assets.warehouse.bigquery import BigQueryWarehouse

NODE_ROW_GROUP_BYTES = 4 << 20


@dataclass
class EnumeratedGraph:
    """A graph in integer ids: row i of features[t] is node i of type t."""

    metadata: GraphMetadata
    features: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]  # classes (-1 where a node has none) or values (NaN where none): graph.labels
    edges: dict[EdgeTypeKey, tuple[np.ndarray, np.ndarray]]
    # An edge task's labelled supervision edges, attached for training (graph/edge_labels.py).
    edge_labels: dict[EdgeTypeKey, EdgeLabels] = field(default_factory=dict)

    @property
    def node_types(self) -> list[str]:
        return list(self.metadata.node_types)

    @property
    def edge_types(self) -> list[EdgeTypeKey]:
        return [(e.src_node_type, e.relation, e.dst_node_type) for e in self.metadata.edge_types]

    def num_nodes(self, node_type: str) -> int:
        return self.features[node_type].shape[0]

    def feature_dim(self, node_type: str) -> int:
        return self.features[node_type].shape[1]


@dataclass
class EnumerationReport:
    nodes: dict[str, int] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=dict)
    duplicate_edges_dropped: dict[str, int] = field(default_factory=dict)
    engine: str = "memory"  # where it ran: "duckdb" (out of core), "bigquery", "memory" (enumerate_graph, small graphs)
    source_files: dict[str, int] = field(default_factory=dict)  # Parquet files read: nodes, edges
    enumerated_bytes: int = 0  # of the files written


def _fixed_size_features(features: pa.ChunkedArray, what: str) -> np.ndarray:
    lists = features.combine_chunks()
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths.min() != lengths.max()):
        raise GraphSourceError(f"{what}: feature vectors have different lengths ({lengths.min()}..{lengths.max()})")
    dim = int(lengths[0]) if len(lengths) else 0
    return lists.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(lists), dim)


def enumerate_graph(source: GraphSource) -> tuple[EnumeratedGraph, dict[str, pa.Table], EnumerationReport]:
    """Enumerate every node type; returns the graph, the mapping table per node type and counts."""
    report = EnumerationReport()
    sorted_ids: dict[str, pa.Array] = {}
    features: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    mappings: dict[str, pa.Table] = {}
    known_types = set(source.metadata.node_types)
    unknown = set(pc.unique(source.nodes["node_type"]).to_pylist()) - known_types
    if unknown:
        raise GraphSourceError(f"nodes.parquet: node types {sorted(unknown)} are not in graph_metadata.yaml")
    for node_type in source.metadata.node_types:
        nodes = source.nodes.filter(pc.equal(source.nodes["node_type"], node_type))
        # Arrow sorts strings bytewise, as SQL's ORDER BY node_id does in DuckDB and BigQuery.
        order = pc.sort_indices(nodes["node_id"])
        nodes = nodes.take(order)
        ids = nodes["node_id"].combine_chunks()
        if pc.count_distinct(ids).as_py() != len(ids):
            counts = pc.value_counts(ids)
            repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
            raise GraphSourceError(
                f"nodes.parquet: {len(repeated):,} node ids of type {node_type!r} appear more than once, "
                f"e.g. {repeated.slice(0, 5).to_pylist()}"
            )
        sorted_ids[node_type] = ids
        features[node_type] = _fixed_size_features(nodes["features"], f"nodes.parquet type {node_type!r}")
        labels[node_type] = read_labels(nodes["label"])
        mappings[node_type] = pa.table({"node_id": ids, "int_id": pa.array(np.arange(len(ids), dtype=np.int64))}, schema=MAPPING_SCHEMA)
        report.nodes[node_type] = len(ids)

    edges: dict[EdgeTypeKey, tuple[np.ndarray, np.ndarray]] = {}
    table = source.edges
    for edge_meta in source.metadata.edge_types:
        key = (edge_meta.src_node_type, edge_meta.relation, edge_meta.dst_node_type)
        # Keyed by the whole (src type, relation, dst type): GiGL configs reuse relation names.
        mask = pc.and_(
            pc.and_(pc.equal(table["edge_type"], key[1]), pc.equal(table["src_type"], key[0])), pc.equal(table["dst_type"], key[2])
        )
        rows = table.filter(mask)
        ends = []
        for column, node_type in (("src", key[0]), ("dst", key[2])):
            ints = pc.index_in(rows[column], value_set=sorted_ids[node_type])
            if ints.null_count:
                bad = rows[column].filter(pc.is_null(ints)).to_pylist()[:5]
                raise GraphSourceError(
                    f"edges.parquet: {ints.null_count} edges of type {edge_type_name(key)!r} have a {column} that is not a "
                    f"{node_type!r} node, e.g. {bad}"
                )
            ends.append(ints.to_numpy().astype(np.int64))
        # Samples merge edges as sets, so the graph must be simple per edge type.
        pairs = np.unique(np.stack(ends, axis=1), axis=0) if len(ends[0]) else np.zeros((0, 2), np.int64)
        edges[key] = (pairs[:, 0].copy(), pairs[:, 1].copy())
        report.edges[edge_type_name(key)] = len(pairs)
        report.duplicate_edges_dropped[edge_type_name(key)] = rows.num_rows - len(pairs)
    return EnumeratedGraph(source.metadata, features, labels, edges), mappings, report


def write_enumerated_graph(directory: str, graph: EnumeratedGraph, mappings: dict[str, pa.Table]) -> None:
    storage.write_text(storage.join(directory, "graph_metadata.yaml"), to_yaml(graph.metadata))
    write_enumeration_id(directory)
    for node_type in graph.node_types:
        x = graph.features[node_type]
        n, dim = x.shape
        table = pa.table(
            {
                "features": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), dim),
                "label": _label_array(graph.labels[node_type]),
            }
        )
        # Row groups of about 4 MB of features: the layer-wise job streams them one at a time.
        rows_per_group = max(1024, NODE_ROW_GROUP_BYTES // max(4 * dim, 1))
        storage.write_parquet(nodes_uri(directory, node_type), table, row_group_size=rows_per_group)
        with FeatureRowsWriter(directory, node_type) as feature_rows:
            feature_rows.write(x)
        storage.write_parquet(mapping_uri(directory, node_type), mappings[node_type])
    for key, (src, dst) in graph.edges.items():
        storage.write_parquet(keyed_edges_uri(directory, key), pa.table({"src": src, "dst": dst}))
        with OutEdgesWriter(directory, key, graph.num_nodes(key[0])) as out_edges:
            out_edges.write(src, dst)


def _label_array(labels: np.ndarray) -> pa.Array:
    """Classes as they are (-1 where none, as the SQL enumeration writes them); values NULL where none."""
    return pa.array(labels, mask=~labelled(labels)) if is_values(labels) else pa.array(labels)


def read_enumerated_graph(directory: str) -> EnumeratedGraph:
    metadata = read_graph_metadata(directory)
    features, labels, edges = {}, {}, {}
    for node_type in metadata.node_types:
        table = storage.read_parquet(nodes_uri(directory, node_type))
        column = table["features"].combine_chunks()
        features[node_type] = column.flatten().to_numpy().reshape(len(column), column.type.list_size)
        labels[node_type] = read_labels(table["label"])
    for e in metadata.edge_types:
        key = (e.src_node_type, e.relation, e.dst_node_type)
        table = storage.read_parquet(edges_uri(directory, key))
        edges[key] = (table["src"].to_numpy(), table["dst"].to_numpy())
    return EnumeratedGraph(metadata, features, labels, edges)


def preprocessed_metadata(node_types: list[str], feature_dims: dict[str, int], mapping_tables: dict[str, str]) -> PreprocessedMetadata:
    """GiGL's PreprocessedMetadata: per condensed node type, its feature size and mapping table."""
    out = PreprocessedMetadata()
    for condensed, node_type in enumerate(node_types):
        entry = out.condensed_node_type_to_preprocessed_metadata[condensed]
        entry.node_id_key = "node_id"
        entry.feature_keys.append("features")
        entry.enumerated_node_ids_bq_table = mapping_tables[node_type]
        entry.feature_dim = feature_dims[node_type]
    return out


def write_preprocessed_metadata(uri: str, metadata: PreprocessedMetadata) -> None:
    storage.write_text(uri, to_yaml(metadata))


def read_preprocessed_metadata(uri: str) -> PreprocessedMetadata:
    return load_yaml(uri, PreprocessedMetadata())


def check_same_graph(expected: GraphMetadata, actual: GraphMetadata, what: str) -> None:
    """Samples carry condensed type ids, so config and graph must list types in the same order."""
    expected_edges = [(e.src_node_type, e.relation, e.dst_node_type) for e in expected.edge_types]
    actual_edges = [(e.src_node_type, e.relation, e.dst_node_type) for e in actual.edge_types]
    if list(expected.node_types) != list(actual.node_types) or expected_edges != actual_edges:
        raise GraphSourceError(
            f"{what}: graphMetadata of the task config (node types {list(expected.node_types)}, edge types "
            f"{expected_edges}) differs from the graph's (node types {list(actual.node_types)}, edge types {actual_edges})"
        )


def enumerate_graph_source(
    layout: StorageLayout, graph_name: str, settings: SqlEngineSettings | None = None, *, bigquery: BigQueryWarehouse | None = None
) -> EnumerationReport:
    """Enumerate the graph source named graph_name and write everything that derives from it.

    A source of Parquet files (single files or shard folders, local or in remote storage) is
    checked and enumerated in DuckDB, out of core (settings: its memory limit and spill
    folder); a source whose graph_metadata.yaml names BigQuery tables, in BigQuery (the
    deployment's warehouse, `bigquery`). Either writes a new folder that replaces the last
    enumeration only once complete: a refused or failed enumeration leaves it as it was."""
    source_dir = layout.graph_source_dir(graph_name)
    directory = layout.enumerated_graph_dir(graph_name)
    finish_pending_swap(source_dir)  # a change log's new snapshot cut short in place: never half of two
    metadata = read_source_metadata(source_dir)
    in_bigquery = metadata.HasField("bigquery_source")
    if in_bigquery and bigquery is None:
        raise refusals.needs_bigquery(source_dir)
    staging = f"{directory}.staging-{uuid.uuid4().hex[:8]}"
    try:
        if in_bigquery:
            from gnn_assets.graph.bigquery_enumeration import enumerate_source_bigquery

            found = enumerate_source_bigquery(metadata, staging, bigquery)
        else:
            found = enumerate_source_sql(source_dir, metadata, staging, settings or SqlEngineSettings())
        enumerated = GraphMetadata()
        enumerated.CopyFrom(metadata)
        enumerated.ClearField("bigquery_source")  # the enumerated graph is these files, wherever its source was
        storage.write_text(storage.join(staging, "graph_metadata.yaml"), to_yaml(enumerated))
        write_enumeration_id(staging)
        record_enumeration_change(directory, staging, settings or SqlEngineSettings())
        storage.replace_tree(staging, directory)
    finally:
        storage.delete_tree(staging)
    report = EnumerationReport(found.nodes, found.edges, found.duplicate_edges_dropped, "bigquery" if in_bigquery else "duckdb")
    report.source_files = found.source_files
    dims = found.feature_dims
    report.enumerated_bytes = sum(m.size for pattern in ("*.parquet", "*.f32", "*.i64") for m in storage.match_files(storage.join(directory, pattern)))
    mapping_tables = {t: tables.node_id_mapping_table(graph_name, t) for t in metadata.node_types}
    write_preprocessed_metadata(layout.preprocessed_metadata_uri(graph_name), preprocessed_metadata(list(metadata.node_types), dims, mapping_tables))
    return report


def _bigquery_of(resources: Resources, graph_name: str, metadata: GraphMetadata) -> BigQueryWarehouse | None:
    """The deployment's BigQuery where the source is held there (None for a source of files)."""
    if not metadata.HasField("bigquery_source"):
        return None
    if resources.warehouse_kind != "bigquery":
        raise refusals.needs_bigquery(resources.layout.graph_source_dir(graph_name))
    from gnn_assets.warehouse.bigquery import BigQueryWarehouse

    return BigQueryWarehouse.from_resources(resources)


def enumerate_deployment_graph(resources: Resources, graph_name: str) -> EnumerationReport:
    """enumerate_graph_source with the engines of a deployment's resource config."""
    metadata = read_source_metadata(resources.layout.graph_source_dir(graph_name))
    return enumerate_graph_source(resources.layout, graph_name, sql_settings_of(resources), bigquery=_bigquery_of(resources, graph_name, metadata))


def summarize_deployment_source(resources: Resources, graph_name: str) -> SourceSummary:
    """Counts of a deployment's graph source by aggregate queries, where the source is held."""
    directory = resources.layout.graph_source_dir(graph_name)
    metadata = read_source_metadata(directory)
    bigquery = _bigquery_of(resources, graph_name, metadata)
    if bigquery is not None:
        from gnn_assets.graph.bigquery_enumeration import summarize_bigquery_source

        return summarize_bigquery_source(metadata, bigquery)
    return summarize_source(directory, metadata, sql_settings_of(resources))
