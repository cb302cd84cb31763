import dataclasses
import os
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gnn_assets.graph.enumerated_layout import MAPPING_SCHEMA
from gnn_assets.outputs.published import EMBEDDINGS_SCHEMA
from gnn_assets.warehouse.duckdb import DuckDbWarehouse
from gnn_assets.warehouse.protocol import TableReplacement, WarehouseBusy
from gnn_assets.config.tables import InvalidTableName


@pytest.fixture
def warehouse(tmp_path):
    return DuckDbWarehouse(str(tmp_path / "w.duckdb"))


def _file(tmp_path, name, rows, schema):
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return str(path)


def _mapping(warehouse, tmp_path, pairs, table="mapping"):
    rows = [{"node_id": n, "int_id": i} for n, i in pairs]
    warehouse.load_parquet(table, [_file(tmp_path, table, rows, MAPPING_SCHEMA)], MAPPING_SCHEMA)


def _replacement(tmp_path, rows, output="final", raw="raw", mapping="mapping", value="emb", schema=EMBEDDINGS_SCHEMA):
    """A run's committed output file: a new one each call, as every run writes its own folder."""
    data = [{"node_id": i, schema.names[1]: e} for i, e in rows]
    name = f"{raw}-{output}-{len(list(tmp_path.glob(f'{raw}-{output}-*')))}"
    return TableReplacement(raw, [_file(tmp_path, name, data, schema)], schema, mapping, output, value)


def test_gigl_vectors(warehouse, tmp_path):
    _mapping(warehouse, tmp_path, [("100", 1), ("1000", 2), ("5000", 3)])
    reports = warehouse.publish_job_tables([_replacement(tmp_path, [(1, [1.0]), (2, [2.0]), (3, [3.0])])])
    assert warehouse.read_table("final").to_pylist() == [
        {"node_id": "100", "emb": [1.0]},
        {"node_id": "1000", "emb": [2.0]},
        {"node_id": "5000", "emb": [3.0]},
    ]
    report = reports["final"]
    assert report.complete and report.output_rows == 3 and report.duplicate_ids == 0


def test_duplicates_unmapped_and_missing_are_resolved_and_reported(warehouse, tmp_path):
    _mapping(warehouse, tmp_path, [("100", 1), ("1000", 2), ("5000", 3), ("7777", 4)])
    rows = [(1, [1.0]), (2, [2.5]), (2, [2.0]), (2, [2.0, 1.0]), (3, [3.0]), (9, [9.0])]
    report = warehouse.publish_job_tables([_replacement(tmp_path, rows)])["final"]
    rows = {r["node_id"]: r["emb"] for r in warehouse.read_table("final").to_pylist()}
    assert rows == {"100": [1.0], "1000": [2.0], "5000": [3.0]}  # the smallest of the duplicates wins
    assert (report.duplicate_ids, report.duplicate_rows_dropped) == (1, 2)
    assert (report.unmapped_ids, report.unmapped_examples) == (1, [9])
    assert (report.missing_nodes, report.missing_examples) == (1, ["7777"])
    assert not report.complete and report.raw_rows == 6 and report.output_rows == 3


def test_a_job_s_tables_are_replaced_together_or_not_at_all(warehouse, tmp_path):
    """The second table's join fails (its value column does not exist): the first table, already
    rebuilt inside the transaction, and both raw tables keep their previous contents."""
    _mapping(warehouse, tmp_path, [("100", 1)])
    first = [_replacement(tmp_path, [(1, [1.0])], output="a", raw="raw_a"), _replacement(tmp_path, [(1, [1.0])], output="b", raw="raw_b")]
    warehouse.publish_job_tables(first)
    second = [
        _replacement(tmp_path, [(1, [7.0])], output="a", raw="raw_a"),
        _replacement(tmp_path, [(1, [7.0])], output="b", raw="raw_b", value="not_a_column"),
    ]
    with pytest.raises(Exception, match="not_a_column"):
        warehouse.publish_job_tables(second)
    for table in ("a", "b"):
        assert warehouse.read_table(table).to_pylist() == [{"node_id": "100", "emb": [1.0]}]
    assert warehouse.read_table("raw_a").to_pylist() == [{"node_id": 1, "emb": [1.0]}]


def test_loading_replaces_the_table(warehouse, tmp_path):
    rows = lambda pairs: [{"node_id": i, "emb": e} for i, e in pairs]  # noqa: E731
    warehouse.load_parquet("raw", [_file(tmp_path, "one", rows([(1, [1.0]), (2, [2.0])]), EMBEDDINGS_SCHEMA)], EMBEDDINGS_SCHEMA)
    assert warehouse.load_parquet("raw", [_file(tmp_path, "two", rows([(3, [3.0])]), EMBEDDINGS_SCHEMA)], EMBEDDINGS_SCHEMA) == 1
    assert warehouse.load_parquet("empty", [], EMBEDDINGS_SCHEMA) == 0


@pytest.mark.parametrize("name", ['final"; DROP TABLE mapping; --', "1table", "a.b", "", "ta ble"])
def test_invalid_table_names_are_refused_before_sql(warehouse, tmp_path, name):
    _mapping(warehouse, tmp_path, [("100", 1)])
    with pytest.raises(InvalidTableName):
        warehouse.load_parquet(name, [], EMBEDDINGS_SCHEMA)
    with pytest.raises(InvalidTableName):
        warehouse.publish_job_tables([_replacement(tmp_path, [(1, [1.0])], output=name)])
    assert warehouse.row_count("mapping") == 1


def test_embedding_quality_finds_non_finite_values_and_dimensions(warehouse, tmp_path):
    rows = [{"node_id": i, "emb": e} for i, e in [(1, [1.0, 2.0]), (2, [float("nan"), 0.0]), (3, [float("inf"), 1.0]), (4, [1.0])]]
    warehouse.load_parquet("raw", [_file(tmp_path, "q", rows, EMBEDDINGS_SCHEMA)], EMBEDDINGS_SCHEMA)
    quality = warehouse.embedding_quality("raw")
    assert (quality.rows, quality.non_finite_rows, quality.min_dim, quality.max_dim) == (4, 2, 1, 2)


def _hold_write_lock(path: str, seconds: float) -> subprocess.Popen:
    """Another process with the DuckDB file open for writing, as a second job or a user's shell would."""
    code = f"import duckdb, sys, time; con = duckdb.connect({path!r}); print('locked', flush=True); time.sleep({seconds})"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_writer_waits_for_a_lock_held_by_another_process(warehouse, tmp_path):
    """Before: 'Could not set lock on file' at once. Now the write waits with backoff and goes through."""
    _mapping(warehouse, tmp_path, [("100", 1)])
    holder = _hold_write_lock(warehouse.path, 2.0)
    started = time.monotonic()
    warehouse.publish_job_tables([_replacement(tmp_path, [(1, [1.0])])])
    assert time.monotonic() - started > 0.5 and holder.wait(timeout=30) == 0
    assert warehouse.row_count("final") == 1


def test_a_lock_held_too_long_is_one_clear_error(tmp_path):
    warehouse = DuckDbWarehouse(str(tmp_path / "w.duckdb"), lock_wait_seconds=0.5)
    warehouse.ensure_writable()
    holder = _hold_write_lock(warehouse.path, 20.0)
    try:
        with pytest.raises(WarehouseBusy, match=r"w\.duckdb stayed locked by another process for 0.5 s"):
            warehouse.ensure_writable()
    finally:
        holder.kill()


def test_readers_do_not_lock_each_other_out(warehouse, tmp_path):
    _mapping(warehouse, tmp_path, [("100", 1)])
    code = f"import duckdb, time; con = duckdb.connect({warehouse.path!r}, read_only=True); print('open', flush=True); time.sleep(5)"
    reader = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        assert warehouse.row_count("mapping") == 1  # a read-only connection beside another reader
    finally:
        reader.kill()


def test_the_raw_output_is_a_view_of_the_committed_files_replacing_a_table_from_before(warehouse, tmp_path):
    """The raw table of a publication reads the run's files (no copy of every vector); a raw
    table an older version loaded is replaced by the view; a run without files gives an empty one."""
    _mapping(warehouse, tmp_path, [("100", 1), ("1000", 2)])
    warehouse.load_parquet("raw", [_file(tmp_path, "old", [{"node_id": 5, "emb": [5.0]}], EMBEDDINGS_SCHEMA)], EMBEDDINGS_SCHEMA)
    warehouse.publish_job_tables([_replacement(tmp_path, [(1, [1.0]), (2, [2.0])])])
    con = warehouse._connect(read_only=True)
    try:
        assert con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'raw'").fetchone() == ("VIEW",)
    finally:
        con.close()
    assert warehouse.read_table("raw").to_pylist() == [{"node_id": 1, "emb": [1.0]}, {"node_id": 2, "emb": [2.0]}]
    report = warehouse.publish_job_tables([TableReplacement("raw", [], EMBEDDINGS_SCHEMA, "mapping", "final", "emb")])["final"]
    assert warehouse.read_table("raw").num_rows == 0 and report.output_rows == 0 and report.missing_nodes == 2


def test_a_mapping_table_known_to_hold_an_enumeration_is_not_loaded_again_and_any_other_is(warehouse, tmp_path):
    from gnn_assets.warehouse.protocol import MappingLoad

    def load(name, pairs, enumeration):
        rows = [{"node_id": n, "int_id": i} for n, i in pairs]
        return MappingLoad("mapping", [_file(tmp_path, name, rows, MAPPING_SCHEMA)], MAPPING_SCHEMA, enumeration)

    def published(mapping):
        warehouse.publish_job_tables([_replacement(tmp_path, [(1, [1.0])])], [mapping])
        return warehouse.read_table("final").to_pylist()[0]["node_id"]

    assert warehouse.load_mappings([load("a", [("a", 1)], "e1")]) == {"mapping": 1}
    # The same enumeration: the table is known to hold it, its files are not read again (here
    # other files stand in for them, to show they are not read).
    assert published(load("a-again", [("not read", 1)], "e1")) == "a"
    assert published(load("b", [("b", 1)], "e2")) == "b"  # another enumeration: loaded
    _mapping(warehouse, tmp_path, [("c", 1)])  # replaced by a plain load: no longer known to hold e2
    assert published(load("b-again", [("b", 1)], "e2")) == "b"


def test_an_incremental_run_is_applied_as_a_delta_the_removed_and_recomputed_rows_replaced(warehouse, tmp_path):
    _mapping(warehouse, tmp_path, [("a", 0), ("b", 1), ("c", 2)])
    warehouse.publish_job_tables([_replacement(tmp_path, [(0, [0.0]), (1, [1.0]), (2, [2.0])])])
    # Today: "b" is gone, "d" added (ids move), "c" recomputed; the run wrote only c's and d's rows.
    _mapping(warehouse, tmp_path, [("a", 0), ("c", 1), ("d", 2)])
    delta = _replacement(tmp_path, [(1, [20.0]), (2, [30.0])])
    report = warehouse.publish_job_tables([dataclasses.replace(delta, removed_node_ids=["b"])])["final"]
    assert sorted((r["node_id"], r["emb"]) for r in warehouse.read_table("final").to_pylist()) == [("a", [0.0]), ("c", [20.0]), ("d", [30.0])]
    assert report.complete and report.raw_rows == 2 and report.output_rows == 3


def _published(warehouse, table="final"):
    return {r["node_id"]: r["emb"] for r in warehouse.read_table(table).to_pylist()}


def _kind(warehouse, name):
    import duckdb

    with duckdb.connect(warehouse.path, read_only=True) as con:
        found = con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()
    return None if found is None else found[0]


def test_deltas_in_a_row_write_only_their_rows_and_are_compacted_past_half_the_table(warehouse, tmp_path):
    """The whole publication's table is kept as the base (not rewritten: deleting rows scattered
    over it made DuckDB's checkpoint rewrite all of it); each delta replaces its nodes' rows in the
    delta table; a node removed, then added back, comes back; past half the base's rows the view is
    written back into one table, and a whole publication replaces whatever the name held. The
    runs' files are held beside the database while a view reads them, and no longer."""
    ids = [f"n{i:02d}" for i in range(10)]
    _mapping(warehouse, tmp_path, [(n, i) for i, n in enumerate(ids)])
    warehouse.publish_job_tables([_replacement(tmp_path, [(i, [float(i)]) for i in range(10)])])
    expected = {n: [float(i)] for i, n in enumerate(ids)}
    assert _kind(warehouse, "final") == "BASE TABLE"

    def delta(rows: dict[str, float], removed: list[str], now: list[str]):
        _mapping(warehouse, tmp_path, [(n, i) for i, n in enumerate(now)])
        replacement = _replacement(tmp_path, [(now.index(n), [v]) for n, v in rows.items()])
        report = warehouse.publish_job_tables([dataclasses.replace(replacement, removed_node_ids=removed)])["final"]
        for n in removed:
            expected.pop(n)
        expected.update({n: [v] for n, v in rows.items()})
        assert _published(warehouse) == expected
        assert report.complete and report.output_rows == len(expected) == len(now)

    now = [n for n in ids if n != "n03"]
    delta({"n01": 10.0}, ["n03"], now)
    assert (_kind(warehouse, "final"), _kind(warehouse, "final__base"), warehouse.row_count("final__delta")) == ("VIEW", "BASE TABLE", 2)
    assert warehouse.row_count("final__base") == 10  # untouched
    held = warehouse.held_dir("final")
    assert os.listdir(held) == ["1.parquet"]
    delta({"n01": 11.0, "n02": 20.0}, [], now)
    assert warehouse.row_count("final__delta") == 3  # n01's older row replaced, n03's tombstone kept
    assert os.listdir(held) == ["2.parquet"]  # the first file's only row replaced: released
    now = sorted(now + ["n03"])
    delta({"n03": 30.0}, [], now)  # removed, then added back
    assert warehouse.row_count("final__delta") == 3
    assert sorted(os.listdir(held)) == ["2.parquet", "3.parquet"]
    delta({"n04": 40.0, "n05": 50.0, "n06": 60.0}, [], now)  # 6 delta rows: past half of 10
    assert (_kind(warehouse, "final"), _kind(warehouse, "final__base"), _kind(warehouse, "final__delta")) == ("BASE TABLE", None, None)
    assert not os.path.exists(held)
    delta({"n07": 70.0}, [], now)  # and a new delta over the compacted table
    assert _kind(warehouse, "final") == "VIEW"
    warehouse.publish_job_tables([_replacement(tmp_path, [(i, [-1.0]) for i in range(10)])])  # a whole job again
    assert _published(warehouse) == {n: [-1.0] for n in now}
    assert (_kind(warehouse, "final"), _kind(warehouse, "final__base"), _kind(warehouse, "final__delta")) == ("BASE TABLE", None, None)
    assert not os.path.exists(held)


def test_a_delta_with_a_node_written_twice_keeps_its_smallest_value_as_a_whole_publication_does(warehouse, tmp_path):
    _mapping(warehouse, tmp_path, [("a", 0), ("b", 1)])
    warehouse.publish_job_tables([_replacement(tmp_path, [(0, [0.0]), (1, [1.0])])])
    delta = _replacement(tmp_path, [(1, [5.0]), (1, [3.0]), (0, [7.0])])
    report = warehouse.publish_job_tables([dataclasses.replace(delta, removed_node_ids=[])])["final"]
    assert _published(warehouse) == {"a": [7.0], "b": [3.0]}
    assert (report.duplicate_ids, report.duplicate_rows_dropped, report.output_rows) == (1, 1, 2)


def test_a_delta_published_into_duckdbs_storage_by_an_earlier_version_is_written_back_once(warehouse, tmp_path):
    """Before the runs' files were held beside the database, the delta's rows were a table of
    (node_id, value, removed): such a view is written back into one table, then published onto."""
    import duckdb

    _mapping(warehouse, tmp_path, [("a", 0), ("b", 1), ("c", 2)])
    warehouse.publish_job_tables([_replacement(tmp_path, [(0, [0.0]), (1, [1.0]), (2, [2.0])])])
    with duckdb.connect(warehouse.path) as con:  # as the earlier version left it: b replaced, c removed
        con.execute('ALTER TABLE final RENAME TO final__base')
        con.execute("CREATE TABLE final__delta AS SELECT * FROM (VALUES ('b', [9.0]::FLOAT[], false), ('c', NULL, true)) t(node_id, emb, gnn_assets_removed)")
        con.execute("CREATE VIEW final AS SELECT b.node_id, b.emb FROM final__base b ANTI JOIN final__delta d ON d.node_id = b.node_id "
                    "UNION ALL SELECT node_id, emb FROM final__delta WHERE NOT gnn_assets_removed")
    _mapping(warehouse, tmp_path, [("a", 0), ("b", 1)])
    delta = _replacement(tmp_path, [(0, [4.0])])
    warehouse.publish_job_tables([dataclasses.replace(delta, removed_node_ids=[])])
    assert _published(warehouse) == {"a": [4.0], "b": [9.0]}
    assert warehouse.row_count("final__base") == 2 and warehouse.row_count("final__delta") == 1


def _published_by_delta_once(warehouse, tmp_path):
    """A table of ten nodes published whole, then by one delta (b's row held beside the database)."""
    _mapping(warehouse, tmp_path, [(n, i) for i, n in enumerate("abcdefghij")])
    warehouse.publish_job_tables([_replacement(tmp_path, [(i, [float(i)]) for i in range(10)])])
    first = _replacement(tmp_path, [(1, [10.0])])
    warehouse.publish_job_tables([dataclasses.replace(first, removed_node_ids=[])])
    (held,) = (os.path.join(warehouse.held_dir("final"), n) for n in os.listdir(warehouse.held_dir("final")))
    return first, held


@pytest.mark.parametrize("how", ["gone", "rewritten"])
def test_a_held_file_gone_or_rewritten_is_refused_in_one_line_before_the_next_delta(warehouse, tmp_path, how):
    from gnn_assets.warehouse.protocol import PublishedFilesChanged

    _, held = _published_by_delta_once(warehouse, tmp_path)
    if how == "gone":
        os.remove(held)
    else:  # b's row rewritten in place, the same size and times
        stat = os.stat(held)
        table = pq.read_table(held)
        os.remove(held)
        pq.write_table(table.set_column(1, "emb", pa.array([[99.0]], table.schema.field("emb").type)), held)
        os.utime(held, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    delta = _replacement(tmp_path, [(2, [20.0])])
    with pytest.raises(PublishedFilesChanged, match="its published rows are read from (is gone|changed since it was published)") as refused:
        warehouse.publish_job_tables([dataclasses.replace(delta, removed_node_ids=[])])
    assert "\n" not in str(refused.value)
    assert warehouse.row_count("final__delta") == 1 and warehouse.row_count("final__base") == 10  # as they were


def test_a_held_file_whose_run_folder_went_is_hashed_once_and_kept(warehouse, tmp_path):
    """The run's own copy of a held file removed (its folder goes when a later run commits): the
    held link's inode change time moves, so it is hashed, found the same, and its version recorded."""
    first, held = _published_by_delta_once(warehouse, tmp_path)
    os.remove(first.files[0])
    delta = _replacement(tmp_path, [(2, [20.0])])
    warehouse.publish_job_tables([dataclasses.replace(delta, removed_node_ids=[])])
    assert _published(warehouse) == {**{n: [float(i)] for i, n in enumerate("abcdefghij")}, "b": [10.0], "c": [20.0]}
    import duckdb

    with duckdb.connect(warehouse.path, read_only=True) as con:
        versions = dict(con.execute("SELECT file, version FROM final__held").fetchall())
    from gnn_assets import storage

    assert versions[held] == storage.file_version(held) and len(versions) == 2
