"""The one-line refusals of a graph source, worded once for every engine that checks one
(DuckDB over Parquet files, BigQuery over tables): `where` names the file, folder or table."""

from __future__ import annotations

from gnn_assets.errors import UserError


class GraphSourceError(UserError, ValueError):
    """A graph source that cannot be read as a graph (graph.source re-exports it)."""


def missing_columns(where: str, missing: list[str]) -> GraphSourceError:
    return GraphSourceError(f"{where}: missing columns {missing}")


def null_rows(where: str, count: int, column: str, rows: list | None = None) -> GraphSourceError:
    """rows: example row numbers within the file, where the source has an order (a table has none)."""
    examples = f", e.g. rows {rows}" if rows else ""
    return GraphSourceError(f"{where}: {count:,} rows have a NULL {column}{examples}")


def half_end_types(where: str, given: str) -> GraphSourceError:
    other = ({"src_type", "dst_type"} - {given}).pop()
    return GraphSourceError(f"{where}: has {given} but not {other}; give both or neither")


def unknown_edge_types(where: str, unknown: list) -> GraphSourceError:
    return GraphSourceError(f"{where}: edge types {unknown} are not in graph_metadata.yaml")


def ambiguous_relations(where: str, relations: list[str]) -> GraphSourceError:
    return GraphSourceError(
        f"{where}: relations {relations} name several edge types in graph_metadata.yaml; give every edge its src_type and dst_type"
    )


def no_nodes(where: str) -> GraphSourceError:
    return GraphSourceError(f"{where}: the graph has no nodes")


def empty_features(where: str, count: int, ids: list[str]) -> GraphSourceError:
    return GraphSourceError(f"{where}: {count:,} nodes have an empty feature vector, e.g. {ids}")


def non_finite_features(where: str, count: int, ids: list[str]) -> GraphSourceError:
    return GraphSourceError(
        f"{where}: {count:,} nodes have NULL, NaN or infinite feature values, e.g. {ids}; "
        "fix them in the source (features must be finite numbers)"
    )


def unknown_node_types(where: str, unknown: list[str]) -> GraphSourceError:
    return GraphSourceError(f"{where}: node types {unknown} are not in graph_metadata.yaml")


def different_lengths(where: str, node_type: str, shortest: int, longest: int) -> GraphSourceError:
    return GraphSourceError(f"{where} type {node_type!r}: feature vectors have different lengths ({shortest}..{longest})")


def repeated_ids(where: str, count: int, node_type: str, ids: list[str]) -> GraphSourceError:
    return GraphSourceError(f"{where}: {count:,} node ids of type {node_type!r} appear more than once, e.g. {ids}")


def dangling_edges(where: str, count: int, edge_type: str, column: str, node_type: str, ids: list[str]) -> GraphSourceError:
    return GraphSourceError(f"{where}: {count} edges of type {edge_type!r} have a {column} that is not a {node_type!r} node, e.g. {ids}")


def needs_bigquery(source_dir: str) -> GraphSourceError:
    return GraphSourceError(
        f"{source_dir}/graph_metadata.yaml names BigQuery tables (bigquerySource), but this deployment's warehouse is not BigQuery"
    )


def non_numeric_labels(where: str, found: str) -> GraphSourceError:
    return GraphSourceError(
        f"{where}: column label is {found}; a label is an integer (a class, for classification) or a floating number "
        "(a value, for regression)"
    )


def non_finite_labels(where: str, count: int, ids: list[str], what: str = "node") -> GraphSourceError:
    """what: 'node', or 'edge' (ids then name src->dst)."""
    return GraphSourceError(
        f"{where}: column label has {count:,} NaN or infinite values, e.g. {what}s {ids}; write NULL where a {what} has "
        "no value (it is then unlabelled)"
    )
