"""Enumeration in BigQuery: a graph source held in BigQuery tables -> the enumerated graph's files.

The source's checks run as aggregate queries in BigQuery, with the refusals of every other
source (source_refusals.py); a table has no row order, so a NULL refusal counts rows without
row numbers and examples come in id order. GiGL's rule numbers the nodes in BigQuery
(`ROW_NUMBER() OVER (ORDER BY node_id) - 1` per node type; BigQuery orders STRING by code
point, which is UTF-8's byte order, as DuckDB and Arrow do), edges are mapped by joins and
deduplicated there. The results are scratch tables of the deployment's dataset, clustered by
int id, read back range by range, each range one ordered query whose pages stream into the
layout's Parquet files: BigQuery holds the sort, this process a page, and the scratch tables
are dropped at the end, whether it succeeded or not.

Not EXPORT DATA: the enumerated layout is one file per node and edge type, row i for int id i,
written in order by one writer, so exported shards would be read back in order through one
process all the same; and bqemulator's exports land where the GCS emulator cannot list them,
so that path could not be tested here.
"""

from __future__ import annotations

import uuid

from gnn_assets.config.tables import parse_bigquery_table
from gnn_assets.graph import source_refusals as refusals
from gnn_assets.graph.enumerated_layout import MAPPING_SCHEMA, EdgeTypeKey, edge_type_name, mapping_uri
from gnn_assets.graph.labels import CLASSES, VALUES, sql_label_type
from gnn_assets.sql_literals import sql_string
from gnn_assets.graph.sql_enumeration import SourceSummary, SqlEnumeration, write_batches, write_edge_batches, write_node_batches
from gnn_assets.proto.graph_schema_pb2 import GraphMetadata
from gnn_assets.warehouse.bigquery import BigQueryWarehouse

RANGE_ROWS = 1 << 20  # rows read back per ordered query
PAGE_ROWS = 65_536  # rows per page of a query's result
_EXAMPLES = 5
_NODE_COLUMNS = ("node_id", "node_type", "features")
_EDGE_COLUMNS = ("src", "dst", "edge_type")


class _Source:
    """The source's tables, their columns checked, and the edges with their end types."""

    def __init__(self, warehouse: BigQueryWarehouse, metadata: GraphMetadata):
        self.warehouse = warehouse
        self.nodes_name = parse_bigquery_table(metadata.bigquery_source.nodes_table)
        self.edges_name = parse_bigquery_table(metadata.bigquery_source.edges_table)
        self.nodes, self.edges = f"`{self.nodes_name}`", f"`{self.edges_name}`"
        node_columns, edge_columns = warehouse.table_columns(self.nodes_name), warehouse.table_columns(self.edges_name)
        for columns, required, where in ((node_columns, _NODE_COLUMNS, self.nodes_name), (edge_columns, _EDGE_COLUMNS, self.edges_name)):
            missing = [c for c in required if c not in columns]
            if missing:
                raise refusals.missing_columns(where, missing)
        self.labels = sql_label_type(node_columns["label"], self.nodes_name) if "label" in node_columns else CLASSES
        # The label of nodes joined as n, as the enumeration keeps it (classes: -1 where none).
        self.label = ("n.label" if self.labels == VALUES else "COALESCE(n.label, -1)") if "label" in node_columns else "-1"
        self.end_types = [c for c in ("src_type", "dst_type") if c in edge_columns]
        if len(self.end_types) == 1:
            raise refusals.half_end_types(self.edges_name, self.end_types[0])

    def one(self, sql: str, params: dict | None = None) -> tuple:
        return self.warehouse.query(sql, params)[0]

    def column(self, sql: str, params: dict | None = None) -> list:
        return [row[0] for row in self.warehouse.query(sql, params)]

    def check_nulls(self, table: str, where: str, columns: tuple[str, ...]) -> None:
        counts = self.one("SELECT " + ", ".join(f"COUNTIF({c} IS NULL)" for c in columns) + f" FROM {table}")
        for column, count in zip(columns, counts):
            if count:
                raise refusals.null_rows(where, count, column)


def _typed_edges(source: _Source, declared: list[EdgeTypeKey]) -> str:
    """A query of every edge with (src_type, edge_type, dst_type), every type checked as declared."""
    where = source.edges_name
    if source.end_types:
        source.check_nulls(source.edges, where, ("src_type", "dst_type"))
        found = source.warehouse.query(f"SELECT DISTINCT src_type, edge_type, dst_type FROM {source.edges} ORDER BY 1, 2, 3")
        unknown = [tuple(row) for row in found if tuple(row) not in set(declared)]
        if unknown:
            raise refusals.unknown_edge_types(where, unknown)
        return f"SELECT src, dst, src_type, edge_type, dst_type FROM {source.edges}"
    relations = source.column(f"SELECT DISTINCT edge_type FROM {source.edges} ORDER BY 1")
    unknown = [r for r in relations if r not in {k[1] for k in declared}]
    if unknown:
        raise refusals.unknown_edge_types(where, unknown)
    ambiguous = sorted(r for r in relations if sum(k[1] == r for k in declared) > 1)
    if ambiguous:
        raise refusals.ambiguous_relations(where, ambiguous)
    ends = {k[1]: k for k in declared}

    def end_type(i: int) -> str:  # the relation's src (0) or dst (2) node type
        return "CASE edge_type " + " ".join(f"WHEN {sql_string(r)} THEN {sql_string(k[i])}" for r, k in ends.items()) + " END"

    return f"SELECT src, dst, {end_type(0)} AS src_type, edge_type, {end_type(2)} AS dst_type FROM {source.edges}"


def _check_nodes(source: _Source, known: list[str]) -> None:
    where = source.nodes_name
    source.check_nulls(source.nodes, where, _NODE_COLUMNS)
    (rows,) = source.one(f"SELECT COUNT(*) FROM {source.nodes}")
    if not rows:
        raise refusals.no_nodes(where)
    # BigQuery stores a NULL array as an empty one: both are refused as empty.
    for condition, refusal in (
        ("ARRAY_LENGTH(features) = 0", refusals.empty_features),
        ("EXISTS(SELECT 1 FROM UNNEST(features) AS v WHERE v IS NULL OR IS_NAN(v) OR IS_INF(v))", refusals.non_finite_features),
        *([("IS_NAN(CAST(label AS FLOAT64)) OR IS_INF(CAST(label AS FLOAT64))", refusals.non_finite_labels)] if source.labels == VALUES else []),
    ):
        (count,) = source.one(f"SELECT COUNT(*) FROM {source.nodes} WHERE {condition}")
        if count:
            ids = source.column(f"SELECT node_id FROM {source.nodes} WHERE {condition} ORDER BY node_id LIMIT {_EXAMPLES}")
            raise refusal(where, count, ids)
    unknown = [t for t in source.column(f"SELECT DISTINCT node_type FROM {source.nodes} ORDER BY 1") if t not in known]
    if unknown:
        raise refusals.unknown_node_types(where, unknown)


def _read_in_order(warehouse: BigQueryWarehouse, select: str, key: str, order: str, key_range: int, rows: int, range_rows: int):
    """The rows of `select` (a table's columns) in `order`, whose first column is `key`
    (0..key_range-1): one ordered query per key range of about range_rows rows, page by page."""
    width = max(1, key_range * range_rows // max(rows, 1))
    for start in range(0, max(key_range, 1), width):
        yield from warehouse.query_batches(
            f"{select} WHERE {key} >= @start AND {key} < @stop ORDER BY {order}", {"start": start, "stop": start + width}, PAGE_ROWS
        )


def enumerate_source_bigquery(
    metadata: GraphMetadata, out_dir: str, warehouse: BigQueryWarehouse, range_rows: int | None = None
) -> SqlEnumeration:
    """Check and enumerate a graph source held in BigQuery (metadata.bigquery_source) into out_dir;
    range_rows: rows read back per ordered query (default RANGE_ROWS)."""
    range_rows = range_rows or RANGE_ROWS
    source = _Source(warehouse, metadata)
    token = uuid.uuid4().hex[:8]
    scratch: list[str] = []

    def table(name: str) -> str:
        scratch.append(warehouse.scratch_table(f"gnn_enumeration_{token}_{name}"))
        return scratch[-1]

    try:
        declared = [(e.src_node_type, e.relation, e.dst_node_type) for e in metadata.edge_types]
        known = list(metadata.node_types)
        source.check_nulls(source.edges, source.edges_name, _EDGE_COLUMNS)
        typed_edges = _typed_edges(source, declared)
        _check_nodes(source, known)
        found = SqlEnumeration(source_files={"nodes": 0, "edges": 0})
        mappings = {t: _enumerate_nodes(source, t, table(f"mapping_{i}"), table(f"nodes_{i}"), out_dir, range_rows, found) for i, t in enumerate(known)}
        for i, key in enumerate(declared):
            _enumerate_edges(source, typed_edges, key, mappings, table(f"edges_{i}"), out_dir, range_rows, found)
        return found
    finally:
        for quoted in scratch:
            warehouse.drop_table(quoted)


def _enumerate_nodes(source: _Source, node_type: str, mapping: str, nodes: str, out_dir: str, range_rows: int, found: SqlEnumeration) -> str:
    where, params = source.nodes_name, {"t": node_type}
    shortest, longest, rows = source.one(
        f"SELECT MIN(ARRAY_LENGTH(features)), MAX(ARRAY_LENGTH(features)), COUNT(*) FROM {source.nodes} WHERE node_type = @t", params
    )
    if rows and shortest != longest:
        raise refusals.different_lengths(where, node_type, shortest, longest)
    repeated = f"SELECT node_id FROM {source.nodes} WHERE node_type = @t GROUP BY node_id HAVING COUNT(*) > 1"
    (count,) = source.one(f"SELECT COUNT(*) FROM ({repeated})", params)
    if count:
        raise refusals.repeated_ids(where, count, node_type, source.column(f"{repeated} ORDER BY node_id LIMIT {_EXAMPLES}", params))
    warehouse, dim = source.warehouse, int(shortest or 0)
    warehouse.query(
        f"CREATE TABLE {mapping} CLUSTER BY int_id AS "
        f"SELECT node_id, ROW_NUMBER() OVER (ORDER BY node_id) - 1 AS int_id FROM {source.nodes} WHERE node_type = @t",
        params,
    )
    warehouse.query(
        f"CREATE TABLE {nodes} CLUSTER BY int_id AS SELECT m.int_id, n.features, {source.label} AS label "
        f"FROM {source.nodes} n JOIN {mapping} m USING (node_id) WHERE n.node_type = @t",
        params,
    )
    write_batches(
        _read_in_order(warehouse, f"SELECT node_id, int_id FROM {mapping}", "int_id", "int_id", rows, rows, range_rows),
        mapping_uri(out_dir, node_type),
        MAPPING_SCHEMA,
        lambda batch: batch.select(["node_id", "int_id"]),
    )
    features = _read_in_order(warehouse, f"SELECT int_id, features, label FROM {nodes}", "int_id", "int_id", rows, rows, range_rows)
    write_node_batches((batch.select(["features", "label"]) for batch in features), out_dir, node_type, dim, source.labels)
    found.nodes[node_type] = int(rows)
    found.feature_dims[node_type] = dim
    return mapping


def _enumerate_edges(
    source: _Source, typed_edges: str, key: EdgeTypeKey, mappings: dict[str, str], edges: str, out_dir: str, range_rows: int, found: SqlEnumeration
) -> None:
    src_type, relation, dst_type = key
    name, warehouse = edge_type_name(key), source.warehouse
    params = {"s": src_type, "r": relation, "d": dst_type}
    of_type = f"SELECT src, dst FROM ({typed_edges}) WHERE src_type = @s AND edge_type = @r AND dst_type = @d"
    for column, node_type in (("src", src_type), ("dst", dst_type)):
        dangling = f"SELECT e.{column} AS id FROM ({of_type}) e LEFT JOIN {mappings[node_type]} m ON e.{column} = m.node_id WHERE m.node_id IS NULL"
        (count,) = source.one(f"SELECT COUNT(*) FROM ({dangling})", params)
        if count:
            examples = source.column(f"{dangling} ORDER BY id LIMIT {_EXAMPLES}", params)
            raise refusals.dangling_edges(source.edges_name, count, name, column, node_type, examples)
    (rows,) = source.one(f"SELECT COUNT(*) FROM ({of_type})", params)
    # Samples and layer-wise blocks treat edges as sets: the graph is simple per edge type.
    warehouse.query(
        f"CREATE TABLE {edges} CLUSTER BY src AS SELECT DISTINCT s.int_id AS src, d.int_id AS dst FROM ({of_type}) e "
        f"JOIN {mappings[src_type]} s ON e.src = s.node_id JOIN {mappings[dst_type]} d ON e.dst = d.node_id",
        params,
    )
    (distinct,) = source.one(f"SELECT COUNT(*) FROM {edges}")
    reader = _read_in_order(warehouse, f"SELECT src, dst FROM {edges}", "src", "src, dst", found.nodes[src_type], int(distinct), range_rows)
    written = write_edge_batches(reader, out_dir, key, found.nodes[src_type])
    found.edges[name] = written
    found.duplicate_edges_dropped[name] = int(rows) - written


def summarize_bigquery_source(metadata: GraphMetadata, warehouse: BigQueryWarehouse) -> SourceSummary:
    """Counts of a BigQuery graph source by aggregate queries."""
    source = _Source(warehouse, metadata)
    nodes = dict(warehouse.query(f"SELECT node_type, COUNT(*) FROM {source.nodes} GROUP BY 1 ORDER BY 1"))
    declared = [(e.src_node_type, e.relation, e.dst_node_type) for e in metadata.edge_types]
    rows = warehouse.query(f"SELECT src_type, edge_type, dst_type, COUNT(*) FROM ({_typed_edges(source, declared)}) GROUP BY 1, 2, 3")
    size = sum(warehouse.client.get_table(t).num_bytes or 0 for t in (source.nodes_name, source.edges_name))
    return SourceSummary(nodes, dict(sorted(((a, b, c), n) for a, b, c, n in rows)), {"nodes": 0, "edges": 0}, size)
