"""Enumeration in SQL, out of core: a graph source of any size -> the enumerated graph's files.

DuckDB reads the source where it lies (one nodes.parquet and one edges.parquet, or folders
nodes/ and edges/ of Parquet shards), checks it with aggregate queries (the same one-line
refusals as read_graph_source, with counts and examples), numbers the nodes by GiGL's rule
(int_id = ROW_NUMBER() OVER (ORDER BY node_id) - 1 per node type; VARCHAR order is bytewise,
as Arrow's and BigQuery's) and maps the edges by joins, deduplicated per edge type. Sorts and
joins spill to a temporary folder beyond the memory limit (duckdb.memoryLimitMb and
duckdb.tempDirectory in the resource config); results leave DuckDB as Arrow record batches
written one row group at a time, so this process never holds the graph: its memory is bounded
by the limit plus a batch, not by the number of nodes.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.config.resource_config import Resources
from gnn_assets.graph.enumerated_layout import (
    MAPPING_SCHEMA,
    EdgeTypeKey,
    edge_type_name,
    keyed_edges_uri,
    mapping_uri,
    nodes_uri,
)
from gnn_assets.graph import source_refusals as refusals
from gnn_assets.graph.feature_rows import FeatureRowsWriter
from gnn_assets.graph.labels import CLASSES, VALUES, sql_label_type
from gnn_assets.graph.out_edges import OutEdgesWriter
from gnn_assets.graph.source import GraphSourceError
from gnn_assets.proto.graph_schema_pb2 import GraphMetadata
from gnn_assets.sql_literals import sql_file_list, sql_string
from gnn_assets.storage_fsspec import register_remote_storage

NODE_ROW_GROUP_BYTES = 4 << 20  # of features: the layer-wise job streams the nodes files by row group
BATCH_ROWS = 65_536  # rows fetched from DuckDB at a time
BUCKET_BYTES = 32 << 20  # rows sorted in memory at once (a bucket of _in_order)
_EXAMPLES = 5


@dataclass(frozen=True)
class SqlEngineSettings:
    memory_limit_mb: int = 0  # 0: DuckDB's default
    temp_directory: str = ""  # "": DuckDB's default (beside its database)
    threads: int = 0


@dataclass
class SqlEnumeration:
    """What the enumeration found: nodes and feature sizes per type, edges and duplicates per edge type."""

    nodes: dict[str, int] = field(default_factory=dict)
    feature_dims: dict[str, int] = field(default_factory=dict)
    edges: dict[str, int] = field(default_factory=dict)
    duplicate_edges_dropped: dict[str, int] = field(default_factory=dict)
    source_files: dict[str, int] = field(default_factory=dict)  # Parquet files read: nodes, edges


def source_files(directory: str, name: str) -> tuple[str, list[str]]:
    """('<dir>/nodes.parquet' or '<dir>/nodes/', its files): a single file or a folder of shards."""
    single = storage.join(directory, f"{name}.parquet")
    if storage.exists(single):
        _check_parquet(single)
        return single, [single]
    shards = storage.glob(storage.join(directory, name, "*.parquet"))
    if not shards:
        raise GraphSourceError(f"{directory}: neither {name}.parquet nor a folder {name}/ of Parquet files")
    for shard in shards:
        _check_parquet(shard)
    return storage.join(directory, name) + "/", shards


def _check_parquet(uri: str) -> None:
    """A source file is read by its footer first (a few bytes): an empty, cut or foreign file is
    refused in one line here instead of in DuckDB's first query."""
    import pyarrow.parquet as pq

    try:
        with storage.open_read(uri) as stream:
            pq.read_metadata(stream)
    except Exception as error:  # noqa: BLE001 - pyarrow raises ArrowInvalid or OSError alike for such files
        raise GraphSourceError(f"{uri}: not a Parquet file ({' '.join(str(error).split())[:200]}); remove or replace it") from None


class _Checks:
    """The source's checks as aggregate queries; each refusal is one line."""

    def __init__(self, con, nodes_name: str, edges_name: str):
        self.con, self.nodes_name, self.edges_name = con, nodes_name, edges_name

    def one(self, sql: str, params=()):
        return self.con.execute(sql, list(params)).fetchone()

    def null_rows(self, table: str, uri: str, columns: tuple[str, ...]) -> None:
        for column in columns:
            (nulls,) = self.one(f"SELECT count(*) FROM {table} WHERE {column} IS NULL")
            if nulls:
                # The row within its file: the row number of a single file, file:row for shards.
                rows = self.con.execute(
                    f"SELECT filename, file_row_number FROM {table} WHERE {column} IS NULL "
                    f"ORDER BY filename, file_row_number LIMIT {_EXAMPLES}"
                ).fetchall()
                where = rows[0][0] if uri.endswith("/") else uri
                examples = [r for f, r in rows if f == rows[0][0]]
                raise refusals.null_rows(where, nulls, column, examples)


def connect_duckdb(settings: SqlEngineSettings):
    import duckdb

    con = duckdb.connect()
    register_remote_storage(con)
    if settings.memory_limit_mb:
        con.execute(f"SET memory_limit = '{int(settings.memory_limit_mb)}MB'")
    if settings.temp_directory:
        os.makedirs(settings.temp_directory, exist_ok=True)
        con.execute(f"SET temp_directory = {sql_string(settings.temp_directory)}")
    if settings.threads:
        con.execute(f"SET threads = {int(settings.threads)}")
    con.execute("SET preserve_insertion_order = false")  # lets sorts and scans stream
    return con


def parquet_columns(con, files: list[str]) -> dict[str, str]:
    """The columns of Parquet files read together (by name, as every read of a source does), each
    with the type DuckDB reads it as."""
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_file_list(files)}, union_by_name = true)").fetchall()
    return {row[0]: row[1] for row in described}


def enumerate_source_sql(
    source_dir: str, metadata: GraphMetadata, out_dir: str, settings: SqlEngineSettings = SqlEngineSettings()
) -> SqlEnumeration:
    """Check and enumerate the graph source in source_dir into out_dir (mapping, nodes and edges
    files per type, as enumerated_layout.py lays them out)."""
    con = connect_duckdb(settings)
    spill_dir = settings.temp_directory or tempfile.mkdtemp(prefix="gnn-assets-enumeration-")
    try:
        return _enumerate(con, source_dir, metadata, out_dir, spill_dir)
    finally:
        con.close()
        if not settings.temp_directory:
            storage.delete_tree(spill_dir)


def _enumerate(con, source_dir: str, metadata: GraphMetadata, out_dir: str, spill_dir: str) -> SqlEnumeration:
    nodes_uri_shown, node_files = source_files(source_dir, "nodes")
    edges_uri_shown, edge_files = source_files(source_dir, "edges")
    node_columns, edge_columns = parquet_columns(con, node_files), parquet_columns(con, edge_files)
    for columns, required, uri in (
        (node_columns, ("node_id", "node_type", "features"), nodes_uri_shown),
        (edge_columns, ("src", "dst", "edge_type"), edges_uri_shown),
    ):
        missing = [c for c in required if c not in columns]
        if missing:
            raise refusals.missing_columns(uri, missing)
    labels = sql_label_type(node_columns["label"], nodes_uri_shown) if "label" in node_columns else CLASSES
    con.execute(
        f"CREATE VIEW src_nodes AS SELECT node_id::VARCHAR AS node_id, node_type::VARCHAR AS node_type, "
        f"features::FLOAT[] AS features, {label_select(node_columns, labels)} AS label, filename, file_row_number "
        f"FROM read_parquet({sql_file_list(node_files)}, union_by_name = true, filename = true, file_row_number = true)"
    )
    checks = _Checks(con, nodes_uri_shown, edges_uri_shown)
    checks.null_rows("src_nodes", nodes_uri_shown, ("node_id", "node_type", "features"))
    end_types = [c for c in ("src_type", "dst_type") if c in edge_columns]
    if len(end_types) == 1:
        raise refusals.half_end_types(edges_uri_shown, end_types[0])
    edge_select = (
        "src::VARCHAR AS src, dst::VARCHAR AS dst, edge_type::VARCHAR AS edge_type, "
        + ("src_type::VARCHAR AS src_type, dst_type::VARCHAR AS dst_type, " if end_types else "")
        + "filename, file_row_number"
    )
    con.execute(
        f"CREATE VIEW raw_edges AS SELECT {edge_select} FROM "
        f"read_parquet({sql_file_list(edge_files)}, union_by_name = true, filename = true, file_row_number = true)"
    )
    checks.null_rows("raw_edges", edges_uri_shown, ("src", "dst", "edge_type"))
    declared = [(e.src_node_type, e.relation, e.dst_node_type) for e in metadata.edge_types]
    _edge_types_view(con, checks, declared, bool(end_types), edges_uri_shown)

    (num_nodes,) = checks.one("SELECT count(*) FROM src_nodes")
    if not num_nodes:
        raise refusals.no_nodes(nodes_uri_shown)
    _check_features(con, checks, nodes_uri_shown)
    if labels == VALUES:
        _check_label_values(con, checks, nodes_uri_shown)
    known = list(metadata.node_types)
    unknown = [r[0] for r in con.execute(
        "SELECT DISTINCT node_type FROM src_nodes WHERE NOT list_contains(?, node_type) ORDER BY node_type", [known]
    ).fetchall()]
    if unknown:
        raise refusals.unknown_node_types("nodes.parquet", unknown)

    found = SqlEnumeration(source_files={"nodes": len(node_files), "edges": len(edge_files)})
    for index, node_type in enumerate(known):
        _enumerate_nodes(con, checks, index, node_type, out_dir, spill_dir, found, labels)
    for key in declared:
        _enumerate_edges(con, checks, key, known, out_dir, spill_dir, found)
    return found


def _edge_types_view(con, checks: _Checks, declared: list[EdgeTypeKey], given: bool, uri: str) -> None:
    """src_edges: every edge with its (src type, relation, dst type); every one must be declared."""
    con.execute("CREATE TEMP TABLE declared (src_type VARCHAR, relation VARCHAR, dst_type VARCHAR)")
    con.executemany("INSERT INTO declared VALUES (?, ?, ?)", [list(k) for k in declared])
    if given:
        checks.null_rows("raw_edges", uri, ("src_type", "dst_type"))
        unknown = con.execute(
            "SELECT DISTINCT e.src_type, e.edge_type, e.dst_type FROM raw_edges e ANTI JOIN declared d "
            "ON e.src_type = d.src_type AND e.edge_type = d.relation AND e.dst_type = d.dst_type ORDER BY 1, 2, 3"
        ).fetchall()
        if unknown:
            raise refusals.unknown_edge_types(uri, [tuple(u) for u in unknown])
        con.execute("CREATE VIEW src_edges AS SELECT src, dst, edge_type, src_type, dst_type, filename, file_row_number FROM raw_edges")
        return
    unknown = [r[0] for r in con.execute(
        "SELECT DISTINCT edge_type FROM raw_edges ANTI JOIN declared ON edge_type = relation ORDER BY 1"
    ).fetchall()]
    if unknown:
        raise refusals.unknown_edge_types(uri, unknown)
    ambiguous = [r[0] for r in con.execute(
        "SELECT relation FROM declared WHERE relation IN (SELECT DISTINCT edge_type FROM raw_edges) "
        "GROUP BY relation HAVING count(*) > 1 ORDER BY 1"
    ).fetchall()]
    if ambiguous:
        raise refusals.ambiguous_relations(uri, ambiguous)
    con.execute(
        "CREATE VIEW src_edges AS SELECT e.src, e.dst, e.edge_type, d.src_type, d.dst_type, e.filename, e.file_row_number "
        "FROM raw_edges e JOIN declared d ON e.edge_type = d.relation"
    )


def _refuse_nodes(con, checks: _Checks, condition: str, refusal, uri: str) -> None:
    """refusal(uri, count, example ids) when any source node meets condition (examples in file order)."""
    (count,) = checks.one(f"SELECT count(*) FROM src_nodes WHERE {condition}")
    if count:
        ids = [r[0] for r in con.execute(
            f"SELECT node_id FROM src_nodes WHERE {condition} ORDER BY filename, file_row_number LIMIT {_EXAMPLES}"
        ).fetchall()]
        raise refusal(uri, count, ids)


def _check_features(con, checks: _Checks, uri: str) -> None:
    _refuse_nodes(con, checks, "len(features) = 0", refusals.empty_features, uri)
    bad = "list_bool_or(list_transform(features, x -> x IS NULL OR isnan(x) OR isinf(x)))"
    _refuse_nodes(con, checks, bad, refusals.non_finite_features, uri)


def label_select(columns: dict[str, str], labels: pa.DataType) -> str:
    """The SQL expression reading a source's label column as the enumeration keeps it."""
    if "label" not in columns:
        return "NULL::BIGINT"
    return "label::DOUBLE" if labels == VALUES else "label::BIGINT"


def _check_label_values(con, checks: _Checks, uri: str) -> None:
    _refuse_nodes(con, checks, "isnan(label) OR isinf(label)", refusals.non_finite_labels, uri)


def _enumerate_nodes(
    con, checks: _Checks, index: int, node_type: str, out_dir: str, spill_dir: str, found: SqlEnumeration, labels: pa.DataType
) -> None:
    shortest, longest, rows = checks.one(
        "SELECT min(len(features)), max(len(features)), count(*) FROM src_nodes WHERE node_type = ?", [node_type]
    )
    if rows and shortest != longest:
        raise refusals.different_lengths("nodes.parquet", node_type, shortest, longest)
    (repeated,) = checks.one(
        "SELECT count(*) FROM (SELECT node_id FROM src_nodes WHERE node_type = ? GROUP BY node_id HAVING count(*) > 1)", [node_type]
    )
    if repeated:
        examples = [r[0] for r in con.execute(
            f"SELECT node_id FROM src_nodes WHERE node_type = ? GROUP BY node_id HAVING count(*) > 1 ORDER BY node_id LIMIT {_EXAMPLES}",
            [node_type],
        ).fetchall()]
        raise refusals.repeated_ids("nodes.parquet", repeated, node_type, examples)
    dim = int(shortest or 0)
    # The mapping as a table of its own: edges join against it, and it is written out as it is.
    con.execute(
        f"CREATE TEMP TABLE mapping_{index} AS SELECT node_id, (row_number() OVER (ORDER BY node_id) - 1)::BIGINT AS int_id "
        "FROM src_nodes WHERE node_type = ?",
        [node_type],
    )
    write_batches(
        con.execute(f"SELECT node_id, int_id FROM mapping_{index} ORDER BY int_id").to_arrow_reader(BATCH_ROWS),
        mapping_uri(out_dir, node_type),
        MAPPING_SCHEMA,
        lambda batch: batch,
    )
    reader = _in_order(
        con,
        f"SELECT m.int_id, n.features, {'n.label' if labels == VALUES else 'coalesce(n.label, -1)'} AS label FROM src_nodes n JOIN mapping_{index} m USING (node_id) "
        "WHERE n.node_type = ?",
        [node_type],
        "int_id",
        int(rows),
        int(rows),
        4 * dim + 24,
        spill_dir,
        "features, label",
    )

    write_node_batches(reader, out_dir, node_type, dim, labels)
    found.nodes[node_type] = int(rows)
    found.feature_dims[node_type] = dim


def _enumerate_edges(
    con, checks: _Checks, key: EdgeTypeKey, node_types: list[str], out_dir: str, spill_dir: str, found: SqlEnumeration
) -> None:
    src_type, relation, dst_type = key
    name = edge_type_name(key)
    condition = "e.edge_type = ? AND e.src_type = ? AND e.dst_type = ?"
    params = [relation, src_type, dst_type]
    for column, node_type in (("src", src_type), ("dst", dst_type)):
        mapping = f"mapping_{node_types.index(node_type)}"
        (dangling,) = checks.one(f"SELECT count(*) FROM src_edges e ANTI JOIN {mapping} m ON e.{column} = m.node_id WHERE {condition}", params)
        if dangling:
            examples = [r[0] for r in con.execute(
                f"SELECT e.{column} FROM src_edges e ANTI JOIN {mapping} m ON e.{column} = m.node_id WHERE {condition} "
                f"ORDER BY e.filename, e.file_row_number LIMIT {_EXAMPLES}",
                params,
            ).fetchall()]
            raise refusals.dangling_edges("edges.parquet", dangling, name, column, node_type, examples)
    (rows,) = checks.one(f"SELECT count(*) FROM src_edges e WHERE {condition}", params)
    src_map, dst_map = f"mapping_{node_types.index(src_type)}", f"mapping_{node_types.index(dst_type)}"
    # Samples and layer-wise blocks treat edges as sets: the graph is simple per edge type.
    # Bucketed by source; within a bucket, deduplicated and sorted by (src, dst).
    num_dst = found.nodes[dst_type]
    reader = _in_order(
        con,
        f"SELECT DISTINCT s.int_id * {num_dst} + d.int_id AS pair FROM src_edges e JOIN {src_map} s ON e.src = s.node_id "
        f"JOIN {dst_map} d ON e.dst = d.node_id WHERE {condition}",
        params,
        "pair",
        int(rows),
        found.nodes[src_type] * num_dst,
        8,
        spill_dir,
        f"pair // {num_dst} AS src, pair % {num_dst} AS dst",
    )
    written = write_edge_batches(reader, out_dir, key, found.nodes[src_type])
    found.edges[name] = written
    found.duplicate_edges_dropped[name] = int(rows) - written


EDGE_SCHEMA = pa.schema([pa.field("src", pa.int64()), pa.field("dst", pa.int64())])


def write_edge_batches(reader, directory: str, key: EdgeTypeKey, num_src: int) -> int:
    """Batches of (src, dst) in int ids, in (src, dst) order, written as one edge type's edges
    file and its out-edges; rows written."""
    with OutEdgesWriter(directory, key, num_src) as out_edges:

        def record(batch: pa.RecordBatch) -> pa.RecordBatch:
            out_edges.write(batch.column("src").to_numpy(), batch.column("dst").to_numpy())
            return batch

        return write_batches(reader, keyed_edges_uri(directory, key), EDGE_SCHEMA, record)


def node_schema(dim: int, labels: pa.DataType = CLASSES) -> pa.Schema:
    return pa.schema([pa.field("features", pa.list_(pa.float32(), dim)), pa.field("label", labels)])


def write_node_batches(reader, directory: str, node_type: str, dim: int, labels: pa.DataType = CLASSES) -> int:
    """Batches of (features as a list of numbers, label) in int id order, written as one node
    type's nodes file (features as fixed-size float32 lists, labels as classes or values, row
    groups of about 4 MB) and its feature rows."""
    schema = node_schema(dim, labels)
    with FeatureRowsWriter(directory, node_type) as feature_rows:

        def fixed_size(batch: pa.RecordBatch) -> pa.RecordBatch:
            values = batch.column(0).flatten().cast(pa.float32())
            feature_rows.write(values.to_numpy(zero_copy_only=False))
            return pa.record_batch([pa.FixedSizeListArray.from_arrays(values, dim), batch.column(1).cast(labels)], schema=schema)

        return write_batches(reader, nodes_uri(directory, node_type), schema, fixed_size, max(1024, NODE_ROW_GROUP_BYTES // max(4 * dim, 1)))


def _in_order(con, select: str, params: list, key: str, rows: int, key_range: int, row_bytes: int, spill_dir: str, columns: str):
    """The rows of `select`, in order of `key` (an integer 0..max_key), as Arrow batches, without
    one sort of them all: rows are partitioned by key range into Parquet buckets (streamed),
    then each bucket, small enough to sort in memory, is sorted and read in turn. DuckDB's own
    sort of wide rows (features) ran out of memory under a 256 MB limit; this does not."""
    buckets = max(1, -(-rows * row_bytes // BUCKET_BYTES))
    width = key_range // buckets + 1
    folder = os.path.join(spill_dir, f"buckets-{uuid.uuid4().hex[:8]}")
    try:
        con.execute(
            f"COPY (SELECT *, ({key}) // {width} AS bucket FROM ({select})) TO {sql_string(folder)} "
            "(FORMAT parquet, PARTITION_BY (bucket))",
            params,
        )
        for bucket in range(buckets):
            files = storage.glob(os.path.join(folder, f"bucket={bucket}", "*.parquet"))
            if files:
                yield from con.execute(
                    f"SELECT {columns} FROM read_parquet({sql_file_list(files)}) ORDER BY {key}"
                ).to_arrow_reader(BATCH_ROWS)
    finally:
        storage.delete_tree(folder)


def write_batches(reader, uri: str, schema: pa.Schema, convert, row_group_size: int | None = None) -> int:
    """Stream Arrow record batches (a query's result) into one Parquet file (zstd, like storage.write_parquet); rows written."""
    rows = 0
    with storage.open_write(uri) as stream:
        with pq.ParquetWriter(stream, schema, compression="zstd") as writer:
            pending: list[pa.RecordBatch] = []
            pending_rows = 0
            group = row_group_size or BATCH_ROWS * 16
            for batch in reader:
                if not batch.num_rows:
                    continue
                converted = convert(batch)
                pending.append(converted if converted.schema.equals(schema) else converted.cast(schema))
                pending_rows += batch.num_rows
                while pending_rows >= group:
                    table = pa.Table.from_batches(pending, schema=schema)
                    writer.write_table(table.slice(0, group), row_group_size=group)
                    rest = table.slice(group)
                    pending, pending_rows = rest.to_batches(), rest.num_rows
                    rows += group
            if pending_rows:
                writer.write_table(pa.Table.from_batches(pending, schema=schema), row_group_size=group)
                rows += pending_rows
            if rows == 0:
                writer.write_table(schema.empty_table())
    return rows


@dataclass
class SourceSummary:
    nodes_per_type: dict[str, int]
    edges_per_type: dict[tuple[str, str, str], int]  # (src type, relation, dst type); src/dst type "" where not given
    files: dict[str, int]
    size_bytes: int


def summarize_source(source_dir: str, metadata: GraphMetadata, settings: SqlEngineSettings = SqlEngineSettings()) -> SourceSummary:
    """Counts of a graph source by aggregate queries (nothing held but the counts)."""
    (_, node_files), (_, edge_files) = source_files(source_dir, "nodes"), source_files(source_dir, "edges")
    con = connect_duckdb(settings)
    try:
        nodes = dict(con.execute(f"SELECT node_type, count(*) FROM read_parquet({sql_file_list(node_files)}, union_by_name = true) GROUP BY 1 ORDER BY 1").fetchall())
        columns = parquet_columns(con, edge_files)
        if "src_type" in columns and "dst_type" in columns:
            rows = con.execute(
                f"SELECT src_type, edge_type, dst_type, count(*) FROM read_parquet({sql_file_list(edge_files)}, union_by_name = true) GROUP BY 1, 2, 3"
            ).fetchall()
            edges = {(a, b, c): n for a, b, c, n in rows}
        else:
            ends = {e.relation: (e.src_node_type, e.dst_node_type) for e in metadata.edge_types}
            rows = con.execute(f"SELECT edge_type, count(*) FROM read_parquet({sql_file_list(edge_files)}, union_by_name = true) GROUP BY 1").fetchall()
            edges = {(ends.get(r, ("", ""))[0], r, ends.get(r, ("", ""))[1]): n for r, n in rows}
    finally:
        con.close()
    size = sum(storage.size(f) for f in node_files + edge_files)
    return SourceSummary(nodes, dict(sorted(edges.items())), {"nodes": len(node_files), "edges": len(edge_files)}, size)


def sql_settings_of(resources: Resources) -> SqlEngineSettings:
    """The DuckDB settings of a deployment's resource config (duckdb.memoryLimitMb, tempDirectory)."""
    return SqlEngineSettings(memory_limit_mb=resources.proto.duckdb.memory_limit_mb, temp_directory=resources.duckdb_temp_directory)
