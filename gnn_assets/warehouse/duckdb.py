"""The embedded warehouse: one DuckDB file under the local storage root.

DuckDB lets one process write a file, or several read it, at a time. Every operation opens its
own connection (read-only for reads) and waits for the file with backoff, up to
LOCK_WAIT_SECONDS, before it says the warehouse is busy; Dagster also queues the assets that
write it in one concurrency pool (README).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from typing import Callable

import duckdb
import pyarrow as pa

from gnn_assets import storage
from gnn_assets.sql_literals import sql_file_list, sql_string
from gnn_assets.storage_fsspec import register_remote_storage
from gnn_assets.warehouse.protocol import (
    CandidateQuality, EmbeddingQuality, LinkTableReplacement, LinkTableReport, MappingLoad, PublishedFilesChanged, TableReplacement, UnenumerationGaps,
    UnenumerationReport, WarehouseBusy,
)
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.tables import validate_identifier

_EXAMPLES = 5
SORT_BYTES = 128 << 20  # of output rows sorted at once when un-enumerating
LOCK_WAIT_SECONDS = 120.0


def _q(table: str) -> str:
    return f'"{validate_identifier(table)}"'


def _is_lock_conflict(error: duckdb.Error) -> bool:
    return "lock" in str(error).lower()


class DuckDbWarehouse:
    @classmethod
    def from_resources(cls, resources: Resources) -> "DuckDbWarehouse":
        return cls(resources.duckdb_path, memory_limit_mb=resources.proto.duckdb.memory_limit_mb, temp_directory=resources.duckdb_temp_directory)

    def __init__(self, path: str, lock_wait_seconds: float = LOCK_WAIT_SECONDS, *, memory_limit_mb: int = 0, temp_directory: str = ""):
        self.path = path
        self.lock_wait_seconds = lock_wait_seconds
        self.memory_limit_mb = memory_limit_mb  # 0: DuckDB's default; beyond it, queries spill to temp_directory
        self.temp_directory = temp_directory

    def _connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A connection per operation, so the file stays unlocked between steps run by other processes."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        if read_only and not os.path.exists(self.path):
            read_only = False  # a read-only connection cannot create the file; reads then find no table
        deadline = time.monotonic() + self.lock_wait_seconds
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(self.path, read_only=read_only)
                if self.memory_limit_mb:
                    con.execute(f"SET memory_limit = '{int(self.memory_limit_mb)}MB'")
                if self.temp_directory:
                    con.execute(f"SET temp_directory = {sql_string(self.temp_directory)}")
                con.execute("SET preserve_insertion_order = false")
                register_remote_storage(con)
                return con
            except duckdb.IOException as error:
                if not _is_lock_conflict(error):
                    raise
                if time.monotonic() + delay > deadline:
                    first_line = str(error).splitlines()[0]
                    raise WarehouseBusy(
                        f"{self.path} stayed locked by another process for {self.lock_wait_seconds:g} s: {first_line}"
                    ) from error
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def ensure_writable(self) -> None:
        self._connect().close()

    def load_parquet(self, table: str, uris: list[str], schema: pa.Schema) -> int:
        with self._connect() as con:
            _load(con, table, uris, schema)
            _forget_mapping(con, table)
            return con.execute(f"SELECT count(*) FROM {_q(table)}").fetchone()[0]

    def load_mappings(self, loads: list[MappingLoad]) -> dict[str, int]:
        with self._publishing(loads, None) as con:
            return {m.table: con.execute(f"SELECT count(*) FROM {_q(m.table)}").fetchone()[0] for m in loads}

    @contextlib.contextmanager
    def _transaction(self):
        """One connection, one transaction: committed when the block ends, rolled back when it raises."""
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _publishing(self, mappings: list[MappingLoad], check: Callable[[], None] | None):
        """The transaction of a publication: the mappings reloaded first, check() last."""
        with self._transaction() as con:
            for m in mappings:
                _load_mapping(con, m)
            yield con
            if check is not None:
                check()

    publishes_deltas = True

    def publish_job_tables(
        self, replacements: list[TableReplacement], mappings: list[MappingLoad] = (), check: Callable[[], None] | None = None
    ) -> dict[str, UnenumerationReport]:
        reports, held = {}, {}
        with self._publishing(mappings, check) as con:
            for r in replacements:
                _view_files(con, r.raw_table, r.files, r.schema)
                if r.removed_node_ids is None:
                    reports[r.output_table] = _unenumerate(con, r)
                else:
                    reports[r.output_table] = _apply_delta(con, r, self.held_dir(r.output_table))
                held[r.output_table] = _delta_files(con, r.output_table)
        for table, files in held.items():  # committed: what no published view reads any more goes
            _release_held_files(self.held_dir(table), files)
        return reports

    @property
    def deltas_dir(self) -> str:
        """Where the files of tables published by delta are held: beside the database file, and
        read by its views (a copy of the database alone loses them)."""
        return os.path.abspath(self.path) + ".deltas"

    def held_dir(self, table: str) -> str:
        return os.path.join(self.deltas_dir, validate_identifier(table))

    def publish_link_tables(
        self, replacements: list[LinkTableReplacement], mappings: list[MappingLoad] = (), check: Callable[[], None] | None = None
    ) -> dict[str, LinkTableReport]:
        reports = {}
        with self._publishing(mappings, check) as con:
            for r in replacements:
                _load(con, r.raw_table, r.files, r.schema)
                raw, out = _q(r.raw_table), _q(r.output_table)
                con.execute(
                    f"""
                    CREATE OR REPLACE TABLE {out} AS
                    SELECT CAST(s.node_id AS VARCHAR) AS src_node_id, CAST(d.node_id AS VARCHAR) AS dst_node_id,
                           {", ".join(f"r.{_q(c)}" for c in r.value_columns)}
                    FROM {raw} r
                    JOIN {_q(r.src_mapping_table)} s ON s.int_id = r.src_node_id
                    JOIN {_q(r.dst_mapping_table)} d ON d.int_id = r.dst_node_id
                    ORDER BY src_node_id, {r.then_by}
                    """
                )
                raw_rows = con.execute(f"SELECT count(*) FROM {raw}").fetchone()[0]
                output_rows = con.execute(f"SELECT count(*) FROM {out}").fetchone()[0]
                reports[r.output_table] = LinkTableReport(r.output_table, raw_rows, output_rows, raw_rows - output_rows)
        return reports

    def candidate_quality(self, table: str) -> CandidateQuality:
        with self._connect(read_only=True) as con:
            row = con.execute(
                f"""
                SELECT coalesce(sum(c), 0), count(*), min(c), max(c), coalesce(sum(self), 0)
                FROM (SELECT count(*) AS c, count(*) FILTER (WHERE src_node_id = dst_node_id) AS self
                      FROM {_q(table)} GROUP BY src_node_id)
                """
            ).fetchone()
        return CandidateQuality(*row)

    def unenumeration_gaps(self, raw_table: str, mapping_table: str) -> UnenumerationGaps:
        with self._connect(read_only=True) as con:
            return _gaps(con, raw_table, mapping_table)

    def embedding_quality(self, table: str, column: str = "emb") -> EmbeddingQuality:
        col = f'"{validate_identifier(column)}"'
        with self._connect(read_only=True) as con:
            rows, null_ids, non_finite, min_dim, max_dim = con.execute(
                f"""
                SELECT count(*),
                       count(*) FILTER (WHERE node_id IS NULL),
                       count(*) FILTER (WHERE len(list_filter({col}, v -> isnan(v) OR isinf(v))) > 0),
                       min(len({col})),
                       max(len({col}))
                FROM {_q(table)}
                """
            ).fetchone()
        return EmbeddingQuality(rows, null_ids, non_finite, min_dim, max_dim)

    def row_count(self, table: str) -> int:
        with self._connect(read_only=True) as con:
            return con.execute(f"SELECT count(*) FROM {_q(table)}").fetchone()[0]

    def read_table(self, table: str, limit: int | None = None) -> pa.Table:
        sql = f"SELECT * FROM {_q(table)}" + (f" LIMIT {int(limit)}" if limit is not None else "")
        with self._connect(read_only=True) as con:
            return con.execute(sql).fetch_arrow_table()


def _load(con: duckdb.DuckDBPyConnection, table: str, uris: list[str], schema: pa.Schema) -> None:
    """Parquet files into a table, streamed by DuckDB (remote files through storage_fsspec.py,
    so a job's output in GCS is never held whole in this process); no files make an empty table
    of the schema."""
    if uris:
        con.execute(f"CREATE OR REPLACE TABLE {_q(table)} AS SELECT * FROM read_parquet(?)", [uris])
    else:
        empty = schema.empty_table()  # noqa: F841 (read by DuckDB by name)
        con.execute(f"CREATE OR REPLACE TABLE {_q(table)} AS SELECT * FROM empty")


_MAPPING_LOADS = "gnn_assets_mapping_loads"  # which enumeration each mapping table holds


def _table_type(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """'BASE TABLE', 'VIEW', ... for a name the database holds; None for one it does not."""
    found = con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()
    return None if found is None else found[0]


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Whatever the name holds (a view or a table) dropped; nothing where it holds nothing."""
    kind = _table_type(con, name)
    if kind is not None:
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {_q(name)}")


def _load_mapping(con: duckdb.DuckDBPyConnection, m: MappingLoad) -> None:
    """A mapping table loaded from its files, unless it is known to hold them already (the
    enumeration they are of, recorded when it was loaded: about 0.5 s per million nodes saved on
    every publication after the first of an enumeration)."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {_MAPPING_LOADS} (table_name VARCHAR PRIMARY KEY, enumeration_id VARCHAR)")
    if m.enumeration_id:
        held = con.execute(f"SELECT enumeration_id FROM {_MAPPING_LOADS} WHERE table_name = ?", [m.table]).fetchone()
        if held is not None and held[0] == m.enumeration_id and _table_type(con, m.table) is not None:
            return
    _load(con, m.table, m.files, m.schema)
    _forget_mapping(con, m.table)
    if m.enumeration_id:
        con.execute(f"INSERT INTO {_MAPPING_LOADS} VALUES (?, ?)", [m.table, m.enumeration_id])


def _forget_mapping(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """The table no longer holds a recorded enumeration's mapping (it was replaced)."""
    if _table_type(con, _MAPPING_LOADS) is not None:
        con.execute(f"DELETE FROM {_MAPPING_LOADS} WHERE table_name = ?", [table])


def _view_files(con: duckdb.DuckDBPyConnection, name: str, uris: list[str], schema: pa.Schema) -> None:
    """A job's raw output as a view over its committed files instead of a copy: copying lists of
    floats into DuckDB's storage cost more than the layer-wise job's own layers (about 6 s per
    million 128-wide rows against 0.5 s to read them); the committed files are never rewritten,
    and the view is replaced with the next publication. Without files, an empty table of the
    schema (_load's). What the name held before (a view or a table) is dropped."""
    _drop(con, name)
    if not uris:
        _load(con, name, uris, schema)
        return
    con.execute(f"CREATE VIEW {_q(name)} AS SELECT * FROM read_parquet({sql_file_list(uris)})")


def _repeated_ids(con: duckdb.DuckDBPyConnection, raw: str) -> tuple[int, int]:
    """The ids a run wrote more than once, with their counts (temp table repeated_ids): one
    grouping of every id. (ids repeated, rows beyond one per id)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE repeated_ids AS SELECT node_id, count(*) AS c FROM {raw} GROUP BY node_id HAVING count(*) > 1")
    return con.execute("SELECT count(*), coalesce(sum(c - 1), 0) FROM repeated_ids").fetchone()


def _one_per_id(raw: str, value: str, repeated: bool, where: str) -> str:
    """The rows of ids in `where`, one per id: the smallest value where a run wrote an id twice
    (so repeated runs agree); without repeated ids, the rows as they are."""
    if not repeated:
        return f"SELECT node_id AS int_id, {value} FROM {raw} WHERE {where}"
    return f"""
        SELECT node_id AS int_id, {value} FROM {raw} WHERE {where} AND node_id NOT IN (SELECT node_id FROM repeated_ids)
        UNION ALL
        SELECT node_id AS int_id, min({value}) AS {value} FROM {raw} WHERE {where} AND node_id IN (SELECT node_id FROM repeated_ids) GROUP BY node_id
    """


# A table published by delta is a view over <name>__base, the rows of the last whole publication
# (renamed, not copied), and the rows every publication by delta since has added: the incremental
# runs' own output files, held beside the database (DuckDbWarehouse.deltas_dir: links of the committed
# files, no bytes copied), <name>__delta, a table of each changed node's newest row: the file
# and row that hold it, or no file where the node was removed, and <name>__held, each held file's
# version and content hash (a file gone or changed is refused before the next publication). Copying the rows into DuckDB's storage
# instead cost more than the incremental job itself (about 2 s for 110,000 rows of 256 floats:
# the insert of the lists, then the checkpoint writing them again); deleting scattered rows from
# the whole table made the checkpoint rewrite most of it. Past DELTA_COMPACT_SHARE of the base's
# rows, the view is written back into one table (the view's reads grow with the delta).
DELTA_COMPACT_SHARE = 0.5


def _layer_names(table: str) -> tuple[str, str, str]:
    """(base, delta, held) of a table published by delta."""
    return f"{table}__base", f"{table}__delta", f"{table}__held"


def _drop_published(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """A published table gone whatever it was: a table, or the view over its base and delta (the
    delta's held files are deleted once the transaction commits: _release_held_files)."""
    _drop(con, table)
    for name in _layer_names(table):
        con.execute(f"DROP TABLE IF EXISTS {_q(name)}")


_DELTA_COLUMNS = ["node_id", "file", "row"]


def _delta_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    name = _layer_names(table)[1]
    return [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", [name]).fetchall()]


def _write_back(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """The view over a base and its delta written back into one table of the published name."""
    compacted = _q(table + "__compacted")
    con.execute(f"CREATE OR REPLACE TABLE {compacted} AS SELECT * FROM {_q(table)}")
    _drop_published(con, table)
    con.execute(f"ALTER TABLE {compacted} RENAME TO {_q(table)}")


def _delta_files(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The files the delta of a table published by delta reads now (none for a plain table)."""
    if _delta_columns(con, table) != _DELTA_COLUMNS:
        return []
    return [f for (f,) in con.execute(f"SELECT DISTINCT file FROM {_q(_layer_names(table)[1])} WHERE file IS NOT NULL ORDER BY 1").fetchall()]


def _hold(con: duckdb.DuckDBPyConnection, table: str, src: str, dst: str) -> None:
    """A committed output file held at dst beside the database (linked where it is local: a
    run's files are never rewritten; its bytes copied from object storage), recorded with its
    version and content hash in the table's held files."""
    if storage.is_remote(src):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with storage.open_read(src) as f, open(dst, "wb") as out:
            shutil.copyfileobj(f, out, 1 << 20)
    else:
        storage.link(src, dst)
    con.execute(f"INSERT INTO {_q(_layer_names(table)[2])} VALUES (?, ?, ?)", [dst, storage.file_version(dst), storage.content_hash(dst)])


def _verify_held(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Refuse (one line, before anything changes) a table published by delta whose held files
    are gone or changed since they were published: the view would read wrong rows, or none. A
    file whose version is the recorded one is not read (a link removed changes it: the file is
    hashed, and its version recorded anew where its content is the same)."""
    held = _q(_layer_names(table)[2])
    again = "publish the job whole once (a run without incremental.baseJob)"
    for file, version, digest in con.execute(f"SELECT file, version, xxh3 FROM {held} ORDER BY file").fetchall():
        now = storage.file_version(file)
        if now is None:
            raise PublishedFilesChanged(f"{table}: the file {file} its published rows are read from is gone (the database copied without its .deltas folder?); {again}")
        if now == version:
            continue
        if storage.content_hash(file) != digest:
            raise PublishedFilesChanged(f"{table}: the file {file} its published rows are read from changed since it was published (content hash); {again}")
        con.execute(f"UPDATE {held} SET version = ? WHERE file = ?", [now, file])


def _release_held_files(held_dir: str, files: list[str]) -> None:
    """The files under held_dir but `files` deleted (a publication's files once a later one
    replaced every row they held, or the view was written back into one table; files a killed
    publication linked); the folder too once empty."""
    if not os.path.isdir(held_dir):
        return
    read = {os.path.abspath(f) for f in files}
    for name in os.listdir(held_dir):
        if os.path.join(held_dir, name) not in read:
            os.remove(os.path.join(held_dir, name))
    if not os.listdir(held_dir):
        os.rmdir(held_dir)


def _apply_delta(con: duckdb.DuckDBPyConnection, r: TableReplacement, held_dir: str) -> UnenumerationReport:
    """An incremental run onto the table its base filled: the run's rows (and tombstones for the
    removed nodes) replace those nodes' rows in the table's delta; work in proportion to the
    change (the run's files are linked under held_dir, and only their ids are read). The raw
    table is the run's own rows; a node without a row is counted from the table's size."""
    raw, mapping, out, value = _q(r.raw_table), _q(r.mapping_table), _q(r.output_table), f'"{validate_identifier(r.value_column)}"'
    base, delta, held_files = (_q(n) for n in _layer_names(r.output_table))
    if _table_type(con, r.output_table) == "VIEW" and _delta_columns(con, r.output_table) != _DELTA_COLUMNS:
        _write_back(con, r.output_table)  # a delta of rows in DuckDB's storage (published before the files were held): once
    if _table_type(con, r.output_table) == "VIEW":
        _verify_held(con, r.output_table)
    (raw_rows,) = con.execute(f"SELECT count(*) FROM {raw}").fetchone()
    dup_ids, dup_rows = _repeated_ids(con, raw)
    if _table_type(con, r.output_table) != "VIEW":  # the last whole publication's table becomes the base
        con.execute(f"ALTER TABLE {out} RENAME TO {base}")
        con.execute(f"CREATE TABLE {delta} ({_DELTA_COLUMNS[0]} VARCHAR, {_DELTA_COLUMNS[1]} VARCHAR, {_DELTA_COLUMNS[2]} BIGINT)")
        con.execute(f"CREATE TABLE {held_files} (file VARCHAR, version VARCHAR, xxh3 VARCHAR)")
    held = []
    if r.files:
        os.makedirs(held_dir, exist_ok=True)
        number = 1 + max((int(n.split(".")[0]) for n in os.listdir(held_dir) if n.split(".")[0].isdigit()), default=0)
        for src in r.files:
            held.append(os.path.join(held_dir, f"{number}.parquet"))
            _hold(con, r.output_table, src, held[-1])
            number += 1
    con.register("removed_node_ids", pa.table({"node_id": pa.array(r.removed_node_ids, pa.string())}))
    # Each node's row: its file and row number (the smallest value where the run wrote a node twice, as _one_per_id).
    picked = "SELECT NULL::BIGINT AS node_id, NULL::VARCHAR AS filename, NULL::BIGINT AS file_row_number LIMIT 0"
    if held:
        picked = f"SELECT node_id, filename, file_row_number FROM read_parquet({sql_file_list(held)}, filename = true, file_row_number = true)"
        if dup_ids:
            picked += f" QUALIFY row_number() OVER (PARTITION BY node_id ORDER BY {value}, filename, file_row_number) = 1"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE delta_rows AS SELECT CAST(m.node_id AS VARCHAR) AS node_id, p.filename AS file, p.file_row_number AS row "
        f"FROM ({picked}) p JOIN {mapping} m ON m.int_id = p.node_id"
    )
    con.execute(f"DELETE FROM {delta} WHERE node_id IN (SELECT node_id FROM removed_node_ids UNION ALL SELECT node_id FROM delta_rows)")
    con.execute(f"INSERT INTO {delta} SELECT node_id, file, row FROM delta_rows")
    con.execute(f"INSERT INTO {delta} SELECT DISTINCT node_id, NULL, NULL FROM removed_node_ids WHERE node_id NOT IN (SELECT node_id FROM delta_rows)")
    files = _delta_files(con, r.output_table)
    con.execute(f"DELETE FROM {held_files} WHERE file NOT IN (SELECT file FROM {delta} WHERE file IS NOT NULL)")
    newest = (
        f" UNION ALL SELECT d.node_id, f.{value} FROM read_parquet({sql_file_list(files)}, filename = true, file_row_number = true) f "
        f"JOIN {delta} d ON d.file = f.filename AND d.row = f.file_row_number"
    ) if files else ""
    con.execute(f"CREATE OR REPLACE VIEW {out} AS SELECT b.node_id, b.{value} FROM {base} b ANTI JOIN {delta} d ON d.node_id = b.node_id{newest}")
    (base_rows,) = con.execute(f"SELECT count(*) FROM {base}").fetchone()
    (delta_rows,) = con.execute(f"SELECT count(*) FROM {delta}").fetchone()
    if delta_rows > DELTA_COMPACT_SHARE * base_rows:
        _write_back(con, r.output_table)
    (output_rows,) = con.execute(f"SELECT count(*) FROM {out}").fetchone()
    (nodes,) = con.execute(f"SELECT count(*) FROM {mapping}").fetchone()
    unmapped_ids, unmapped_examples = _unmapped(con, raw, mapping)
    gaps = UnenumerationGaps(unmapped_ids=unmapped_ids, missing_nodes=max(0, int(nodes) - int(output_rows)), unmapped_examples=unmapped_examples)
    return UnenumerationReport.from_counts(r.output_table, raw_rows, output_rows, dup_ids, dup_rows, gaps)


def _unenumerate(con: duckdb.DuckDBPyConnection, r: TableReplacement) -> UnenumerationReport:
    raw, mapping, out, value = _q(r.raw_table), _q(r.mapping_table), _q(r.output_table), f'"{validate_identifier(r.value_column)}"'
    raw_rows, top = con.execute(f"SELECT count(*), max(node_id) FROM {raw}").fetchone()
    dup_ids, dup_rows = _repeated_ids(con, raw)

    def one_per_id(where: str) -> str:
        return _one_per_id(raw, value, bool(dup_ids), where)

    # In id order (int_id order is node_id order), inserted a range of ids at a time: one sort of
    # every embedding list did not fit under a memory limit, a range does. The range is a filter
    # on the raw files' ids (their row groups carry id statistics, so a range reads its own) and
    # on the mapping, not on a join of all rows.
    is_list = pa.types.is_list(r.schema.field(r.value_column).type)
    (length,) = con.execute(f"SELECT max(len({value})) FROM (SELECT {value} FROM {raw} LIMIT 1000)").fetchone() if is_list else (1,)
    row_bytes = 4 * int(length or 0) + 64
    ranges = max(1, -(-int(raw_rows) * row_bytes // SORT_BYTES)) if raw_rows else 1
    step = (int(top or 0) + 1) // ranges + 1

    def joined(lo: int, hi: int) -> str:
        return (
            f"SELECT CAST(m.node_id AS VARCHAR) AS node_id, r.{value} FROM ({one_per_id(f'node_id >= {lo} AND node_id < {hi}')}) r "
            f"JOIN (SELECT node_id, int_id FROM {mapping} WHERE int_id >= {lo} AND int_id < {hi}) m ON m.int_id = r.int_id"
        )

    _drop_published(con, r.output_table)  # a view over a base and a delta, where publications by delta left one
    con.execute(f"CREATE TABLE {out} AS {joined(0, 0)} LIMIT 0")
    for start in range(0, ranges * step, step):
        con.execute(f"INSERT INTO {out} {joined(start, start + step)} ORDER BY r.int_id")
    output_rows = con.execute(f"SELECT count(*) FROM {out}").fetchone()[0]
    gaps = _gaps(con, r.raw_table, r.mapping_table)
    return UnenumerationReport.from_counts(r.output_table, raw_rows, output_rows, dup_ids, dup_rows, gaps)


def _unmapped(con: duckdb.DuckDBPyConnection, raw: str, mapping: str) -> tuple[int, list[int]]:
    """Raw ids without a row in the mapping table (quoted names): how many, and a few."""
    unmapped = f"SELECT DISTINCT r.node_id FROM {raw} r ANTI JOIN {mapping} m ON m.int_id = r.node_id"
    count = con.execute(f"SELECT count(*) FROM ({unmapped})").fetchone()[0]
    return count, [r[0] for r in con.execute(f"{unmapped} ORDER BY 1 LIMIT {_EXAMPLES}").fetchall()]


def _gaps(con: duckdb.DuckDBPyConnection, raw_table: str, mapping_table: str) -> UnenumerationGaps:
    raw, mapping = _q(raw_table), _q(mapping_table)
    unmapped_ids, unmapped_examples = _unmapped(con, raw, mapping)
    missing = f"SELECT m.node_id FROM {mapping} m ANTI JOIN {raw} r ON r.node_id = m.int_id"
    return UnenumerationGaps(
        unmapped_ids=unmapped_ids,
        missing_nodes=con.execute(f"SELECT count(*) FROM ({missing})").fetchone()[0],
        unmapped_examples=unmapped_examples,
        missing_examples=[r[0] for r in con.execute(f"{missing} ORDER BY 1 LIMIT {_EXAMPLES}").fetchall()],
    )
