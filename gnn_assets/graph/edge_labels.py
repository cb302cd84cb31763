"""The labels of an edge task's supervision edges: the graph source's `label` column on edges,
read in DuckDB where the source lies and joined with the enumeration's mappings to integer ids.

An edge's label is a class (an integer column) or a value (a floating one), as for nodes
(graph/labels.py). Checked here, where an edge task reads them, each refusal one line naming the
file and the column: a missing column, a type of the other kind than the task, NaN or infinite
values, labels on edges of types the task does not supervise, and one edge given two labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gnn_assets.graph.enumerated_layout import EdgeTypeKey, edge_type_name, mapping_uri
from gnn_assets.graph.labels import VALUES, sql_label_type
from gnn_assets.graph.source import read_source_metadata
from gnn_assets.graph.source_refusals import GraphSourceError, non_finite_labels
from gnn_assets.graph.sql_enumeration import SqlEngineSettings, connect_duckdb, parquet_columns, source_files
from gnn_assets.sql_literals import sql_file_list, sql_string

_EXAMPLES = 5


@dataclass
class EdgeLabels:
    """The labelled edges of one edge type in enumerated ids, sorted by (src, dst)."""

    src: np.ndarray  # int64
    dst: np.ndarray  # int64
    labels: np.ndarray  # int64 classes or float64 values

    def __len__(self) -> int:
        return len(self.labels)


def read_edge_labels(
    source_dir: str, graph_dir: str, supervised: list[EdgeTypeKey], values: bool, settings: SqlEngineSettings = SqlEngineSettings()
) -> dict[EdgeTypeKey, EdgeLabels]:
    """Every labelled edge of each supervised type; values: the task predicts values (regression)."""
    if read_source_metadata(source_dir).HasField("bigquery_source"):
        raise GraphSourceError(
            f"{source_dir}/graph_metadata.yaml names BigQuery tables: an edge task reads its edge labels from Parquet sources only"
        )
    where, files = source_files(source_dir, "edges")
    con = connect_duckdb(settings)
    try:
        columns = parquet_columns(con, files)
        if "label" not in columns:
            raise GraphSourceError(f"{where}: no column label; an edge task learns from the labels of its supervision edges")
        found = sql_label_type(columns["label"], where)
        if (found == VALUES) != values:
            kind, needed = ("values (floating)", "classes (integers)") if found == VALUES else ("classes (integers)", "values (floating)")
            raise GraphSourceError(
                f"{where}: column label holds {kind}; this {'regression' if values else 'classification'} task needs {needed}"
            )
        label = "label::DOUBLE" if values else "label::BIGINT"
        ends = "src_type::VARCHAR AS src_type, dst_type::VARCHAR AS dst_type, " if "src_type" in columns else "NULL AS src_type, NULL AS dst_type, "
        con.execute(
            f"CREATE VIEW labelled AS SELECT src::VARCHAR AS src, dst::VARCHAR AS dst, edge_type::VARCHAR AS edge_type, {ends}"
            f"{label} AS label FROM read_parquet({sql_file_list(files)}, union_by_name = true) WHERE label IS NOT NULL"
        )
        if values:
            bad = "isnan(label) OR isinf(label)"
            (count,) = con.execute(f"SELECT count(*) FROM labelled WHERE {bad}").fetchone()
            if count:
                examples = [f"{s}->{d}" for s, d in con.execute(f"SELECT src, dst FROM labelled WHERE {bad} ORDER BY 1, 2 LIMIT {_EXAMPLES}").fetchall()]
                raise non_finite_labels(where, count, examples, "edge")
        match = "edge_type = ? AND (src_type IS NULL OR (src_type = ? AND dst_type = ?))"
        outside = " AND ".join(f"NOT ({match})" for _ in supervised) or "TRUE"
        params = [p for key in supervised for p in (key[1], key[0], key[2])]
        unsupervised = con.execute(
            f"SELECT DISTINCT coalesce(src_type || '-', '') || edge_type || coalesce('-' || dst_type, '') FROM labelled WHERE {outside} ORDER BY 1",
            params,
        ).fetchall()
        if unsupervised:
            raise GraphSourceError(
                f"{where}: column label labels edges of types {[r[0] for r in unsupervised]}, which the task does not supervise "
                f"(taskMetadata.linkBasedTaskMetadata.supervisionEdgeTypes: {[edge_type_name(k) for k in supervised]})"
            )
        return {key: _of_type(con, where, graph_dir, key, match, values) for key in supervised}
    finally:
        con.close()


def _of_type(con, where: str, graph_dir: str, key: EdgeTypeKey, match: str, values: bool) -> EdgeLabels:
    src_type, relation, dst_type = key
    params = [relation, src_type, dst_type]
    mapped = (
        f"SELECT s.int_id AS src, d.int_id AS dst, l.label FROM (SELECT * FROM labelled WHERE {match}) l "
        f"LEFT JOIN read_parquet({sql_string(mapping_uri(graph_dir, src_type))}) s ON s.node_id = l.src "
        f"LEFT JOIN read_parquet({sql_string(mapping_uri(graph_dir, dst_type))}) d ON d.node_id = l.dst"
    )
    (unmapped,) = con.execute(f"SELECT count(*) FROM ({mapped}) WHERE src IS NULL OR dst IS NULL", params).fetchone()
    if unmapped:
        raise GraphSourceError(
            f"{where}: {unmapped:,} labelled {edge_type_name(key)} edges join nodes the enumeration does not hold; enumerate the graph again"
        )
    conflicting = con.execute(
        f"SELECT src, dst FROM ({mapped}) GROUP BY src, dst HAVING count(DISTINCT label) > 1 ORDER BY 1, 2 LIMIT {_EXAMPLES}", params
    ).fetchall()
    if conflicting:
        raise GraphSourceError(f"{where}: column label gives {edge_type_name(key)} edges two labels, e.g. enumerated (src, dst) {conflicting}")
    table = con.execute(f"SELECT src, dst, any_value(label) AS label FROM ({mapped}) GROUP BY src, dst ORDER BY src, dst", params).fetch_arrow_table()
    labels = table["label"].to_numpy().astype(np.float64 if values else np.int64)
    return EdgeLabels(table["src"].to_numpy().astype(np.int64), table["dst"].to_numpy().astype(np.int64), labels)
