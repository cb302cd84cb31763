"""Warehouse table names: derived from job, graph and node type names, validated before any SQL."""

from __future__ import annotations

import re

from gnn_assets.errors import UserError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,1023}")


class InvalidTableName(UserError, ValueError):
    pass


def validate_identifier(name: str) -> str:
    """A plain SQL identifier: letters, digits and underscores, not starting with a digit."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise InvalidTableName(
            f"invalid table name {name!r}: use letters, digits and underscores, starting with a letter or underscore"
        )
    return name


def _job_part(job_name: str) -> str:
    # Job names follow Dataflow's rule ([a-z][-a-z0-9]*), so '-' -> '_' cannot collide.
    return job_name.replace("-", "_")


def node_id_mapping_table(graph_name: str, node_type: str) -> str:
    return validate_identifier(f"{graph_name}_{node_type}_node_id_mapping")


def raw_output_table(task_name: str, job_name: str, node_type: str, kind: str) -> str:
    """Enumerated (integer id) output as loaded from the Beam job's Parquet shards."""
    return validate_identifier(f"{task_name}_{_job_part(job_name)}_{node_type}_raw_{kind}")


def output_table(task_name: str, job_name: str, node_type: str, kind: str) -> str:
    """Final output keyed by original node id; kind is 'embeddings' or 'predictions'."""
    return validate_identifier(f"{task_name}_{_job_part(job_name)}_{node_type}_{kind}")


def link_candidates_table(task_name: str, job_name: str, edge_type: tuple[str, str, str], raw: bool = False) -> str:
    """Top-k destinations per source node of one supervision edge type, by original (or, raw, enumerated) id."""
    src, relation, dst = edge_type
    return validate_identifier(f"{task_name}_{_job_part(job_name)}_{src}_{relation}_{dst}_{'raw_' if raw else ''}link_candidates")


def edge_predictions_table(task_name: str, job_name: str, edge_type: tuple[str, str, str], raw: bool = False) -> str:
    """An edge task's prediction for every edge of one supervision edge type, by original (or, raw, enumerated) src and dst."""
    src, relation, dst = edge_type
    return validate_identifier(f"{task_name}_{_job_part(job_name)}_{src}_{relation}_{dst}_{'raw_' if raw else ''}edge_predictions")


_PROJECT = re.compile(r"[a-z][-a-z0-9.:]{4,61}[a-z0-9]")
_DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}")


def qualified_bigquery_table(project: str, dataset: str, table: str) -> str:
    """`project.dataset.table`, each part checked against BigQuery's naming rules."""
    if not _PROJECT.fullmatch(project or ""):
        raise InvalidTableName(f"invalid BigQuery project id {project!r}")
    if not _DATASET.fullmatch(dataset or ""):
        raise InvalidTableName(f"invalid BigQuery dataset {dataset!r}: letters, digits and underscores only")
    return f"{project}.{dataset}.{validate_identifier(table)}"


def parse_bigquery_table(name: str) -> str:
    """A fully qualified `project.dataset.table` given by a user, checked part by part."""
    parts = (name or "").rsplit(".", 2)
    if len(parts) != 3:
        raise InvalidTableName(f"{name!r} is not a fully qualified BigQuery table (project.dataset.table)")
    return qualified_bigquery_table(*parts)
