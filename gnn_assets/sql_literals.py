"""SQL string literals, quoted the one way every query in the project builds them (DuckDB's and
BigQuery's standard SQL both double a single quote inside '...')."""

from __future__ import annotations


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_file_list(files: list[str]) -> str:
    """A list literal of file paths, for read_parquet([...])."""
    return "[" + ", ".join(sql_string(f) for f in files) + "]"
