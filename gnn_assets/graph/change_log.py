"""A change log applied to a graph source: the new snapshot it implies, written where the source
lies, so that the next enumeration (its change record) and every job after it see that graph.

A change log is a folder with one or both of, by original id:
  nodes.parquet   node_id, node_type, op ('add', 'remove' or 'update'), features list<float>
                  (add and update: the node's whole new vector), label (optional, read as
                  the graph's own labels are: classes or values; an update without one keeps
                  the node's label)
  edges.parquet   src, dst, edge_type, op ('add' or 'remove'), and src_type, dst_type where a
                  relation name serves several node-type pairs (as in the graph source); label
                  (optional, where the graph's edges carry labels: an added edge's; the edges
                  the log keeps keep theirs)

Rules, each refusal one line naming the file and column, before anything is written: every row
names a known type and op, no NULL ids; a node appears once in the log; `add` names a node the
graph lacks, `remove` and `update` one it has; added and updated features are finite and as wide
as the type's; an edge appears once in the log; `remove` names an edge the graph has (every copy
of it goes), `add` one between nodes the new graph has. Removing a node removes its edges.

The source (single files or shard folders) is read and the new snapshot written by DuckDB, out of
core, as single files `nodes.parquet` and `edges.parquet` (every edge with its end types). The new
files are complete before any is put in place; a journal (`change_log_swap.json`) names the moves,
and a swap cut short is finished by the next apply or enumeration, so a reader never sees half of
two snapshots. A source of BigQuery tables is changed in BigQuery, not here.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass

import pyarrow as pa

from gnn_assets import storage
from gnn_assets.graph.source import GraphSourceError, read_source_metadata
from gnn_assets.graph.labels import CLASSES, VALUES, sql_label_type
from gnn_assets.graph.sql_enumeration import SqlEngineSettings, connect_duckdb, label_select, parquet_columns, source_files
from gnn_assets.sql_literals import sql_file_list, sql_string

NODE_OPS = ("add", "remove", "update")
EDGE_OPS = ("add", "remove")
_JOURNAL = "change_log_swap.json"
_EXAMPLES = 5
_ROW_GROUP = 65_536


class ChangeLogError(GraphSourceError):
    pass


@dataclass(frozen=True)
class ChangeLogReport:
    nodes_added: int
    nodes_removed: int
    nodes_updated: int
    edges_added: int
    edges_removed: int  # rows of the source removed by the log's edge removals (every copy)
    edges_of_removed_nodes: int  # rows removed with their nodes
    nodes: int  # in the new snapshot
    edges: int

    def to_dict(self) -> dict:
        return asdict(self)


def finish_pending_swap(source_dir: str) -> None:
    """Complete a swap of a change log that was cut short (its new files were whole before it began)."""
    journal = storage.join(source_dir, _JOURNAL)
    if not storage.exists(journal):
        return
    plan = json.loads(storage.read_text(journal))  # names within source_dir: the folder may have moved since
    for name in plan["moves"]:
        pending = storage.join(source_dir, f"{name}.next")
        if storage.exists(pending):
            _move(pending, storage.join(source_dir, name))
    for folder in plan["removed_folders"]:
        storage.delete_tree(storage.join(source_dir, folder))
    storage.delete_tree(journal)


def apply_change_log(source_dir: str, changes_dir: str, settings: SqlEngineSettings = SqlEngineSettings()) -> ChangeLogReport:
    """The graph source in source_dir with the change log in changes_dir applied, written in its place."""
    finish_pending_swap(source_dir)
    metadata = read_source_metadata(source_dir)
    if metadata.HasField("bigquery_source"):
        raise ChangeLogError(f"{source_dir}/graph_metadata.yaml names BigQuery tables: change them in BigQuery; a change log applies to Parquet files")
    node_log, edge_log = storage.join(changes_dir, "nodes.parquet"), storage.join(changes_dir, "edges.parquet")
    if not storage.exists(node_log) and not storage.exists(edge_log):
        raise ChangeLogError(f"{changes_dir}: no nodes.parquet or edges.parquet: not a change log")
    declared = [(e.src_node_type, e.relation, e.dst_node_type) for e in metadata.edge_types]
    con = connect_duckdb(settings)
    staging = tempfile.mkdtemp(prefix="gnn-assets-change-log-")
    try:
        labels, edge_labels = _source_views(con, source_dir, declared)
        _node_log(con, node_log, list(metadata.node_types), labels)
        _edge_log(con, edge_log, declared, edge_labels)
        _check_against_the_graph(con, node_log, edge_log)
        report = _write_snapshot(con, staging, edge_labels is not None)
        _swap(source_dir, staging)
        return report
    finally:
        con.close()
        shutil.rmtree(staging, ignore_errors=True)


def _read(files: list[str]) -> str:
    return f"read_parquet({sql_file_list(files)}, union_by_name = true)"


def _typed_edges(con, raw: str, view: str, declared: list, typed: bool, where: str) -> None:
    """view: the edges of `raw` with their end types (given, or the one pair a relation names)."""
    con.execute("CREATE OR REPLACE TEMP TABLE declared_types (src_type VARCHAR, edge_type VARCHAR, dst_type VARCHAR)")
    con.executemany("INSERT INTO declared_types VALUES (?, ?, ?)", [list(d) for d in declared])
    if typed:
        unknown = con.execute(f"SELECT DISTINCT src_type, edge_type, dst_type FROM {raw} ANTI JOIN declared_types USING (src_type, edge_type, dst_type) ORDER BY ALL").fetchall()
        if unknown:
            raise ChangeLogError(f"{where}: edge types {[tuple(u) for u in unknown]} are not in graph_metadata.yaml")
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM {raw}")
        return
    used = {r[0] for r in con.execute(f"SELECT DISTINCT edge_type FROM {raw}").fetchall()}
    pairs: dict[str, int] = {}
    for _, relation, _ in declared:
        pairs[relation] = pairs.get(relation, 0) + 1
    if used - set(pairs):
        raise ChangeLogError(f"{where}: edge types {sorted(used - set(pairs))} are not in graph_metadata.yaml")
    ambiguous = sorted(r for r in used if pairs[r] > 1)
    if ambiguous:
        raise ChangeLogError(f"{where}: relations {ambiguous} name several edge types; give every edge its src_type and dst_type")
    con.execute(f"CREATE VIEW {view} AS SELECT e.*, d.src_type, d.dst_type FROM {raw} e JOIN declared_types d USING (edge_type)")


def _source_views(con, source_dir: str, declared: list) -> tuple[pa.DataType, pa.DataType | None]:
    """Views of the graph as it is; returns its nodes' label type and its edges' (None: edges
    without labels): the log's labels are read as them."""
    nodes_shown, node_files = source_files(source_dir, "nodes")
    edges_shown, edge_files = source_files(source_dir, "edges")
    columns = parquet_columns(con, node_files)
    labels = sql_label_type(columns["label"], nodes_shown) if "label" in columns else CLASSES
    con.execute(
        f"CREATE VIEW old_nodes AS SELECT node_id::VARCHAR AS node_id, node_type::VARCHAR AS node_type, "
        f"features::FLOAT[] AS features, {label_select(columns, labels)} AS label FROM {_read(node_files)}"
    )
    edge_columns = parquet_columns(con, edge_files)
    typed = "src_type" in edge_columns
    edge_labels = sql_label_type(edge_columns["label"], edges_shown) if "label" in edge_columns else None
    ends = ", src_type::VARCHAR AS src_type, dst_type::VARCHAR AS dst_type" if typed else ""
    label = f", {label_select(edge_columns, edge_labels)} AS label" if edge_labels is not None else ""
    con.execute(f"CREATE VIEW old_raw_edges AS SELECT src::VARCHAR AS src, dst::VARCHAR AS dst, edge_type::VARCHAR AS edge_type{ends}{label} FROM {_read(edge_files)}")
    _typed_edges(con, "old_raw_edges", "old_edges", declared, typed, edges_shown)
    return labels, edge_labels


def _refuse_nulls(con, table: str, where: str, columns: tuple[str, ...]) -> None:
    for column in columns:
        (count,) = con.execute(f"SELECT count(*) FROM {table} WHERE {column} IS NULL").fetchone()
        if count:
            raise ChangeLogError(f"{where}: {count:,} rows have a NULL {column}")


def _refuse_repeats(con, table: str, where: str, key: str, what: str) -> None:
    repeated = con.execute(f"SELECT {key} FROM {table} GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL LIMIT {_EXAMPLES}").fetchall()
    if repeated:
        raise ChangeLogError(f"{where}: {what} appear more than once in the log, e.g. {[tuple(r) if len(r) > 1 else r[0] for r in repeated]}")


def _refuse_ops(con, table: str, where: str, ops: tuple[str, ...]) -> None:
    bad = [r[0] for r in con.execute(f"SELECT DISTINCT op FROM {table} WHERE NOT list_contains(?, op) ORDER BY 1 LIMIT {_EXAMPLES}", [list(ops)]).fetchall()]
    if bad:
        raise ChangeLogError(f"{where}: column op holds {bad}; an op is one of {list(ops)}")


def _node_log(con, uri: str, node_types: list[str], labels: pa.DataType) -> None:
    label_sql = "DOUBLE" if labels == VALUES else "BIGINT"
    if not storage.exists(uri):
        con.execute(f"CREATE TEMP TABLE log_nodes (node_id VARCHAR, node_type VARCHAR, op VARCHAR, features FLOAT[], label {label_sql})")
        return
    columns = parquet_columns(con, [uri])
    missing = [c for c in ("node_id", "node_type", "op") if c not in columns]
    if missing:
        raise ChangeLogError(f"{uri}: missing columns {missing}")
    features = "features::FLOAT[]" if "features" in columns else "NULL::FLOAT[]"
    label = f"label::{label_sql}" if "label" in columns else f"NULL::{label_sql}"
    try:
        con.execute(
            f"CREATE TEMP TABLE log_nodes AS SELECT node_id::VARCHAR AS node_id, node_type::VARCHAR AS node_type, op::VARCHAR AS op, "
            f"{features} AS features, {label} AS label FROM read_parquet({sql_string(uri)})"
        )
    except Exception as error:  # noqa: BLE001 - DuckDB's conversion errors have no common type worth naming
        raise ChangeLogError(f"{uri}: columns do not have the change log's types ({' '.join(str(error).split())[:200]})") from None
    _refuse_nulls(con, "log_nodes", uri, ("node_id", "node_type", "op"))
    _refuse_ops(con, "log_nodes", uri, NODE_OPS)
    unknown = [r[0] for r in con.execute("SELECT DISTINCT node_type FROM log_nodes WHERE NOT list_contains(?, node_type) ORDER BY 1", [node_types]).fetchall()]
    if unknown:
        raise ChangeLogError(f"{uri}: node types {unknown} are not in graph_metadata.yaml")
    _refuse_repeats(con, "log_nodes", uri, "node_id, node_type", "nodes")
    given = "op <> 'remove'"
    (absent,) = con.execute(f"SELECT count(*) FROM log_nodes WHERE {given} AND (features IS NULL OR len(features) = 0)").fetchone()
    if absent:
        raise ChangeLogError(f"{uri}: {absent:,} added or updated nodes have no features (column features)")
    bad = "list_bool_or(list_transform(features, x -> x IS NULL OR isnan(x) OR isinf(x)))"
    examples = [r[0] for r in con.execute(f"SELECT node_id FROM log_nodes WHERE {given} AND {bad} ORDER BY 1 LIMIT {_EXAMPLES}").fetchall()]
    if examples:
        raise ChangeLogError(f"{uri}: column features holds NULL, NaN or infinite values, e.g. nodes {examples}")


def _edge_log(con, uri: str, declared: list, edge_labels: pa.DataType | None) -> None:
    """log_edges; where the graph's edges carry labels, an added edge's label (NULL when the log has none)."""
    label_sql = "DOUBLE" if edge_labels == VALUES else "BIGINT"
    if not storage.exists(uri):
        con.execute(
            f"CREATE TEMP TABLE log_edges (src VARCHAR, dst VARCHAR, edge_type VARCHAR, op VARCHAR, src_type VARCHAR, dst_type VARCHAR, label {label_sql})"
        )
        return
    columns = parquet_columns(con, [uri])
    missing = [c for c in ("src", "dst", "edge_type", "op") if c not in columns]
    if missing:
        raise ChangeLogError(f"{uri}: missing columns {missing}")
    typed = "src_type" in columns and "dst_type" in columns
    ends = ", src_type::VARCHAR AS src_type, dst_type::VARCHAR AS dst_type" if typed else ""
    label = f"label::{label_sql}" if "label" in columns and edge_labels is not None else f"NULL::{label_sql}"
    con.execute(
        f"CREATE TEMP TABLE log_raw_edges AS SELECT src::VARCHAR AS src, dst::VARCHAR AS dst, edge_type::VARCHAR AS edge_type, "
        f"op::VARCHAR AS op{ends}, {label} AS label FROM read_parquet({sql_string(uri)})"
    )
    _refuse_nulls(con, "log_raw_edges", uri, ("src", "dst", "edge_type", "op") + (("src_type", "dst_type") if typed else ()))
    _refuse_ops(con, "log_raw_edges", uri, EDGE_OPS)
    _typed_edges(con, "log_raw_edges", "log_typed_edges", declared, typed, uri)
    con.execute("CREATE TEMP TABLE log_edges AS SELECT src, dst, edge_type, op, src_type, dst_type, label FROM log_typed_edges")
    _refuse_repeats(con, "log_edges", uri, "src, dst, src_type, edge_type, dst_type", "edges (src, dst, src_type, edge_type, dst_type)")


def _examples(con, sql: str) -> tuple[int, list]:
    (count,) = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
    rows = con.execute(f"{sql} ORDER BY ALL LIMIT {_EXAMPLES}").fetchall() if count else []
    return count, [r[0] if len(r) == 1 else tuple(r) for r in rows]


def _check_against_the_graph(con, node_log: str, edge_log: str) -> None:
    """The log against the graph it changes: what it adds is new, what it removes or updates is there."""
    con.execute("CREATE TEMP TABLE known AS SELECT l.node_id, l.node_type, l.op FROM log_nodes l SEMI JOIN old_nodes o USING (node_id, node_type)")
    count, ids = _examples(con, "SELECT node_id FROM known WHERE op = 'add'")
    if count:
        raise ChangeLogError(f"{node_log}: {count:,} nodes to add are in the graph already, e.g. {ids} (op update replaces a node's features)")
    count, ids = _examples(con, "SELECT node_id FROM log_nodes l WHERE op <> 'add' AND NOT EXISTS (SELECT 1 FROM known k WHERE k.node_id = l.node_id AND k.node_type = l.node_type)")
    if count:
        raise ChangeLogError(f"{node_log}: {count:,} nodes to remove or update are not in the graph, e.g. {ids}")
    # Added and updated features as wide as the type's (every node of a type has one width).
    widths = con.execute(
        "SELECT l.node_id, l.node_type, len(l.features), w.width FROM log_nodes l JOIN "
        "(SELECT node_type, any_value(len(features)) AS width FROM old_nodes GROUP BY node_type) w USING (node_type) "
        f"WHERE l.op <> 'remove' AND len(l.features) <> w.width ORDER BY 1 LIMIT {_EXAMPLES}"
    ).fetchall()
    if widths:
        node_id, node_type, got, width = widths[0]
        raise ChangeLogError(f"{node_log}: column features of node {node_id!r} ({node_type}) holds {got} values, the graph's {node_type} nodes {width}")
    count, edges = _examples(
        con, "SELECT src, dst, edge_type FROM log_edges l WHERE op = 'remove' AND NOT EXISTS "
             "(SELECT 1 FROM old_edges o WHERE o.src = l.src AND o.dst = l.dst AND o.edge_type = l.edge_type AND o.src_type = l.src_type AND o.dst_type = l.dst_type)"
    )
    if count:
        raise ChangeLogError(f"{edge_log}: {count:,} edges to remove are not in the graph, e.g. {edges}")
    con.execute(
        "CREATE TEMP TABLE new_ids AS SELECT node_id, node_type FROM old_nodes "
        "ANTI JOIN (SELECT node_id, node_type FROM log_nodes WHERE op = 'remove') USING (node_id, node_type) "
        "UNION ALL SELECT node_id, node_type FROM log_nodes WHERE op = 'add'"
    )
    for column, end in (("src", "src_type"), ("dst", "dst_type")):
        count, edges = _examples(
            con, f"SELECT src, dst, edge_type FROM log_edges l WHERE op = 'add' AND NOT EXISTS "
                 f"(SELECT 1 FROM new_ids n WHERE n.node_id = l.{column} AND n.node_type = l.{end})"
        )
        if count:
            raise ChangeLogError(f"{edge_log}: {count:,} edges to add have a {column} that is not a node of the new graph, e.g. {edges}")


def _write_snapshot(con, staging: str, edge_labels: bool) -> ChangeLogReport:
    counts = dict(con.execute("SELECT op, count(*) FROM log_nodes GROUP BY op").fetchall())
    edge_counts = dict(con.execute("SELECT op, count(*) FROM log_edges GROUP BY op").fetchall())
    con.execute(
        "CREATE VIEW new_nodes AS SELECT node_id, node_type, features, label FROM old_nodes "
        "ANTI JOIN (SELECT node_id, node_type FROM log_nodes WHERE op <> 'add') USING (node_id, node_type) "
        # An update without a label keeps the node's own (a log may leave the label column out).
        "UNION ALL SELECT l.node_id, l.node_type, l.features, coalesce(l.label, o.label) AS label "
        "FROM log_nodes l LEFT JOIN old_nodes o USING (node_id, node_type) WHERE l.op <> 'remove'"
    )
    gone = "SELECT node_id, node_type FROM log_nodes WHERE op = 'remove'"
    removed_edges = con.execute(
        "SELECT count(*) FROM old_edges o SEMI JOIN (SELECT * FROM log_edges WHERE op = 'remove') l USING (src, dst, edge_type, src_type, dst_type)"
    ).fetchone()[0]
    con.execute(
        f"CREATE VIEW kept_edges AS SELECT o.src, o.dst, o.edge_type, o.src_type, o.dst_type{', o.label' if edge_labels else ''} FROM old_edges o "
        "ANTI JOIN (SELECT * FROM log_edges WHERE op = 'remove') l USING (src, dst, edge_type, src_type, dst_type)"
    )
    con.execute(
        f"CREATE VIEW surviving_edges AS SELECT * FROM kept_edges k "
        f"ANTI JOIN ({gone}) s ON s.node_id = k.src AND s.node_type = k.src_type "
        f"ANTI JOIN ({gone}) d ON d.node_id = k.dst AND d.node_type = k.dst_type"
    )
    (kept,) = con.execute("SELECT count(*) FROM kept_edges").fetchone()
    con.execute(
        "CREATE VIEW new_edges AS SELECT * FROM surviving_edges "
        f"UNION ALL SELECT src, dst, edge_type, src_type, dst_type{', label' if edge_labels else ''} FROM log_edges WHERE op = 'add'"
    )
    nodes_file, edges_file = os.path.join(staging, "nodes.parquet"), os.path.join(staging, "edges.parquet")
    # COPY answers with the rows it wrote.
    (nodes,) = con.execute(f"COPY (SELECT * FROM new_nodes) TO {sql_string(nodes_file)} (FORMAT parquet, ROW_GROUP_SIZE {_ROW_GROUP})").fetchone()
    (edges,) = con.execute(f"COPY (SELECT * FROM new_edges) TO {sql_string(edges_file)} (FORMAT parquet, ROW_GROUP_SIZE {_ROW_GROUP})").fetchone()
    added = edge_counts.get("add", 0)
    return ChangeLogReport(
        nodes_added=counts.get("add", 0), nodes_removed=counts.get("remove", 0), nodes_updated=counts.get("update", 0),
        edges_added=added, edges_removed=removed_edges, edges_of_removed_nodes=kept - (edges - added), nodes=nodes, edges=edges,
    )


def _move(src: str, dst: str) -> None:
    if storage.is_remote(src) or storage.is_remote(dst):
        storage.link(src, dst)
        storage.delete_tree(src)
        return
    os.replace(src, dst)


def _swap(source_dir: str, staging: str) -> None:
    """The staged files in place of the source's, through the journal."""
    moves = ["nodes.parquet", "edges.parquet"]
    for name in moves:
        with open(os.path.join(staging, name), "rb") as data, storage.open_write(storage.join(source_dir, f"{name}.next")) as out:
            shutil.copyfileobj(data, out, 8 << 20)
    folders = [name for name in ("nodes", "edges") if storage.glob(storage.join(source_dir, name, "*"))]
    storage.replace_atomically(storage.join(source_dir, _JOURNAL), json.dumps({"moves": moves, "removed_folders": folders}).encode())
    finish_pending_swap(source_dir)
