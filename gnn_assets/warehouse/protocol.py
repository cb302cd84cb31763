"""What inference needs from a warehouse: load Parquet into tables, publish a job's tables
together (un-enumerated), inspect."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Protocol

import pyarrow as pa

from gnn_assets.errors import UserError


class WarehouseBusy(UserError, RuntimeError):
    """The warehouse stayed locked by another process for longer than this one waits."""


class PublishedFilesChanged(UserError, RuntimeError):
    """A file a published table reads its rows from is gone, or changed since it was published."""


@dataclass(frozen=True)
class TableReplacement:
    """One table of a job: its raw (enumerated) output loaded from files, then joined with the
    node id mapping into output_table."""

    raw_table: str
    files: list[str]
    schema: pa.Schema
    mapping_table: str
    output_table: str
    value_column: str
    # Publishing by delta (a warehouse whose publishes_deltas is true, onto the tables of the run
    # the files were computed over): the files hold only the rows that changed, and these nodes
    # (original ids) are gone; None: the files hold every row and replace the table.
    removed_node_ids: list[str] | None = None


@dataclass(frozen=True)
class MappingLoad:
    """A node id mapping table reloaded from the enumeration's files in the same transaction as
    the tables joined with it, so they are joined with exactly the mapping their ids are of."""

    table: str
    files: list[str]
    schema: pa.Schema
    enumeration_id: str = ""  # the enumeration the files are of: a table known to hold it is not loaded again


@dataclass(frozen=True)
class LinkTableReplacement:
    """A table of node pairs (link candidates, edge predictions): raw rows with enumerated
    src_node_id and dst_node_id loaded from files, both ids mapped to original ids into
    output_table, the schema's other columns as they are (ordered by source, then rank where
    there is one, else destination)."""

    @property
    def value_columns(self) -> list[str]:
        return [c for c in self.schema.names if c not in ("src_node_id", "dst_node_id")]

    @property
    def then_by(self) -> str:
        """What orders a source's rows: its candidates' rank, else the destination."""
        return "r.rank" if "rank" in self.value_columns else "dst_node_id"

    raw_table: str
    files: list[str]
    schema: pa.Schema
    src_mapping_table: str
    dst_mapping_table: str
    output_table: str


@dataclass
class LinkTableReport:
    output_table: str
    raw_rows: int
    output_rows: int
    unmapped_rows: int  # raw rows with an id the mapping lacks: not in the output

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CandidateQuality:
    rows: int
    sources: int
    min_per_source: int | None
    max_per_source: int | None
    self_pairs: int  # rows whose source and destination are the same id

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class UnenumerationGaps:
    unmapped_ids: int  # enumerated ids in the raw output with no row in the mapping table
    missing_nodes: int  # mapped nodes with no raw output row
    unmapped_examples: list[int] = field(default_factory=list)
    missing_examples: list[str] = field(default_factory=list)


@dataclass
class EmbeddingQuality:
    rows: int
    null_node_ids: int
    non_finite_rows: int  # rows with a NaN or infinite component
    min_dim: int | None
    max_dim: int | None


@dataclass
class UnenumerationReport:
    """What the join of raw (enumerated) output with the mapping table found.

    GiGL's join silently keeps one of several rows per id and fails on missing ones; here
    duplicates keep the smallest value (deterministic) and every gap is counted.
    """

    output_table: str
    raw_rows: int
    output_rows: int
    duplicate_ids: int  # enumerated ids with more than one raw row
    duplicate_rows_dropped: int
    unmapped_ids: int  # enumerated ids with no row in the mapping table: not in the output
    missing_nodes: int  # mapped nodes with no raw row: not in the output
    unmapped_examples: list[int] = field(default_factory=list)
    missing_examples: list[str] = field(default_factory=list)

    @classmethod
    def from_counts(
        cls, output_table: str, raw_rows: int, output_rows: int, duplicate_ids: int, duplicate_rows: int, gaps: UnenumerationGaps
    ) -> "UnenumerationReport":
        return cls(
            output_table=output_table,
            raw_rows=raw_rows,
            output_rows=output_rows,
            duplicate_ids=duplicate_ids,
            duplicate_rows_dropped=int(duplicate_rows),
            unmapped_ids=gaps.unmapped_ids,
            missing_nodes=gaps.missing_nodes,
            unmapped_examples=gaps.unmapped_examples,
            missing_examples=gaps.missing_examples,
        )

    @property
    def complete(self) -> bool:
        return self.unmapped_ids == 0 and self.missing_nodes == 0

    def to_dict(self) -> dict:
        return asdict(self)


class Warehouse(Protocol):
    publishes_deltas: bool  # TableReplacement.removed_node_ids is applied, not refused

    def load_parquet(self, table: str, uris: list[str], schema: pa.Schema) -> int:
        """Replace table with the rows of the Parquet files; returns the row count."""

    def load_mappings(self, loads: list[MappingLoad]) -> dict[str, int]:
        """Replace each mapping table with its files; returns row counts by table."""

    def ensure_writable(self) -> None:
        """Raise WarehouseBusy now when a write would not get through (before a long job)."""

    def publish_job_tables(
        self, replacements: list[TableReplacement], mappings: list[MappingLoad] = (), check: Callable[[], None] | None = None
    ) -> dict[str, UnenumerationReport]:
        """Replace every raw and output table of a job (and the mapping tables reloaded first)
        together or not at all; check() runs last before the commit, and raising rolls every
        table back. Reports by output table."""

    def publish_link_tables(
        self, replacements: list[LinkTableReplacement], mappings: list[MappingLoad] = (), check: Callable[[], None] | None = None
    ) -> dict[str, LinkTableReport]:
        """Replace every pair table of a job together or not at all, as publish_job_tables does."""

    def candidate_quality(self, table: str) -> CandidateQuality:
        """Rows, distinct sources, rows per source and self pairs of a link candidates table."""

    def unenumeration_gaps(self, raw_table: str, mapping_table: str) -> UnenumerationGaps:
        """Raw ids the mapping lacks, and mapped nodes the raw output lacks."""

    def embedding_quality(self, table: str, column: str = "emb") -> EmbeddingQuality: ...

    def row_count(self, table: str) -> int: ...

    def read_table(self, table: str, limit: int | None = None) -> pa.Table: ...
