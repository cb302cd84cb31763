import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gnn_assets.graph.enumeration import MAPPING_SCHEMA
from gnn_assets.inference.pipeline import EMBEDDINGS_SCHEMA
from gnn_assets.warehouse.duckdb import DuckDbWarehouse
from gnn_assets.warehouse.tables import InvalidTableName


@pytest.fixture
def warehouse(tmp_path):
    return DuckDbWarehouse(str(tmp_path / "w.duckdb"))


def _load(warehouse, tmp_path, table, rows, schema):
    path = tmp_path / f"{table}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return warehouse.load_parquet(table, [str(path)], schema)


def _mapping(warehouse, tmp_path, pairs):
    _load(warehouse, tmp_path, "mapping", [{"node_id": n, "int_id": i} for n, i in pairs], MAPPING_SCHEMA)


def _raw(warehouse, tmp_path, rows):
    _load(warehouse, tmp_path, "raw", [{"node_id": i, "emb": e} for i, e in rows], EMBEDDINGS_SCHEMA)


def test_gigl_vectors(warehouse, tmp_path):
    _mapping(warehouse, tmp_path, [("100", 1), ("1000", 2), ("5000", 3)])
    _raw(warehouse, tmp_path, [(1, [1.0]), (2, [2.0]), (3, [3.0])])
    report = warehouse.unenumerate("raw", "mapping", "final", "emb")
    assert warehouse.read_table("final").to_pylist() == [
        {"node_id": "100", "emb": [1.0]},
        {"node_id": "1000", "emb": [2.0]},
        {"node_id": "5000", "emb": [3.0]},
    ]
    assert report.complete and report.output_rows == 3 and report.duplicate_ids == 0


def test_duplicates_unmapped_and_missing_are_resolved_and_reported(warehouse, tmp_path):
    _mapping(warehouse, tmp_path, [("100", 1), ("1000", 2), ("5000", 3), ("7777", 4)])
    _raw(warehouse, tmp_path, [(1, [1.0]), (2, [2.5]), (2, [2.0]), (2, [2.0, 1.0]), (3, [3.0]), (9, [9.0])])
    report = warehouse.unenumerate("raw", "mapping", "final", "emb")
    rows = {r["node_id"]: r["emb"] for r in warehouse.read_table("final").to_pylist()}
    assert rows == {"100": [1.0], "1000": [2.0], "5000": [3.0]}  # the smallest of the duplicates wins
    assert (report.duplicate_ids, report.duplicate_rows_dropped) == (1, 2)
    assert (report.unmapped_ids, report.unmapped_examples) == (1, [9])
    assert (report.missing_nodes, report.missing_examples) == (1, ["7777"])
    assert not report.complete and report.raw_rows == 6 and report.output_rows == 3


def test_a_failed_unenumeration_leaves_the_previous_table(warehouse, tmp_path):
    _mapping(warehouse, tmp_path, [("100", 1)])
    _raw(warehouse, tmp_path, [(1, [1.0])])
    warehouse.unenumerate("raw", "mapping", "final", "emb")
    _load(warehouse, tmp_path, "raw", [{"node_id": 1, "pred": 3}], pa.schema([("node_id", pa.int64()), ("pred", pa.int64())]))
    with pytest.raises(Exception, match="emb"):
        warehouse.unenumerate("raw", "mapping", "final", "emb")
    assert warehouse.read_table("final").to_pylist() == [{"node_id": "100", "emb": [1.0]}]


def test_loading_replaces_the_table(warehouse, tmp_path):
    _raw(warehouse, tmp_path, [(1, [1.0]), (2, [2.0])])
    _raw(warehouse, tmp_path, [(3, [3.0])])
    assert warehouse.row_count("raw") == 1
    assert warehouse.load_parquet("empty", [], EMBEDDINGS_SCHEMA) == 0


@pytest.mark.parametrize("name", ['final"; DROP TABLE mapping; --', "1table", "a.b", "", "ta ble"])
def test_invalid_table_names_are_refused_before_sql(warehouse, tmp_path, name):
    _mapping(warehouse, tmp_path, [("100", 1)])
    with pytest.raises(InvalidTableName):
        warehouse.load_parquet(name, [], EMBEDDINGS_SCHEMA)
    with pytest.raises(InvalidTableName):
        warehouse.unenumerate("raw", "mapping", name, "emb")
    assert warehouse.row_count("mapping") == 1


def test_embedding_quality_finds_non_finite_values_and_dimensions(warehouse, tmp_path):
    _raw(warehouse, tmp_path, [(1, [1.0, 2.0]), (2, [float("nan"), 0.0]), (3, [float("inf"), 1.0]), (4, [1.0])])
    quality = warehouse.embedding_quality("raw")
    assert (quality.rows, quality.non_finite_rows, quality.min_dim, quality.max_dim) == (4, 2, 1, 2)
