"""The BigQuery warehouse against bqemulator over a real socket, reading shards the GCS emulator holds."""

from __future__ import annotations

import pyarrow as pa
import pytest

from gnn_assets import storage
from gnn_assets.graph.enumerated_layout import MAPPING_SCHEMA
from gnn_assets.outputs.published import EMBEDDINGS_SCHEMA
from gnn_assets.warehouse.bigquery import BigQueryWarehouse
from gnn_assets.warehouse.protocol import TableReplacement
from gnn_assets.config.tables import InvalidTableName, qualified_bigquery_table
from tests.support.deployments import BQ_PROJECT

pytestmark = pytest.mark.gcp


@pytest.fixture
def warehouse(bigquery_emulator, request):
    return BigQueryWarehouse(BQ_PROJECT, f"ds_{request.node.name[:40]}", labels={"team": "ml-platform"})


def _to_gcs(bucket: str, name: str, rows: list[dict], schema: pa.Schema) -> str:
    uri = f"{bucket}/{name}.parquet"
    storage.write_parquet(uri, pa.Table.from_pylist(rows, schema=schema))
    return uri


def test_load_from_gcs_and_unenumerate_with_gigl_vectors_and_gaps(warehouse, gcs_emulator):
    bucket = gcs_emulator()
    mapping = [{"node_id": n, "int_id": i} for n, i in [("100", 1), ("1000", 2), ("5000", 3), ("7777", 4)]]
    raw = [{"node_id": i, "emb": e} for i, e in [(1, [1.0]), (2, [2.5]), (2, [2.0]), (3, [3.0]), (9, [9.0])]]
    assert warehouse.load_parquet("mapping", [_to_gcs(bucket, "mapping", mapping, MAPPING_SCHEMA)], MAPPING_SCHEMA) == 4
    shards = [_to_gcs(bucket, "raw-0", raw[:2], EMBEDDINGS_SCHEMA), _to_gcs(bucket, "raw-1", raw[2:], EMBEDDINGS_SCHEMA)]
    assert warehouse.load_parquet("raw", shards, EMBEDDINGS_SCHEMA) == 5

    report = warehouse.publish_job_tables([TableReplacement("raw", shards, EMBEDDINGS_SCHEMA, "mapping", "final", "emb")])["final"]
    assert warehouse.row_count("raw") == 5
    rows = {r["node_id"]: r["emb"] for r in warehouse.read_table("final").to_pylist()}
    assert rows == {"100": [1.0], "1000": [2.0], "5000": [3.0]}
    assert (report.duplicate_ids, report.duplicate_rows_dropped) == (1, 1)
    assert (report.unmapped_ids, report.unmapped_examples) == (1, [9])
    assert (report.missing_nodes, report.missing_examples) == (1, ["7777"])
    assert report.output_table == f"{BQ_PROJECT}.{warehouse.dataset}.final"

    # Loading again replaces the table (WRITE_TRUNCATE), it does not append.
    assert warehouse.load_parquet("raw", shards[:1], EMBEDDINGS_SCHEMA) == 2
    # No staging table is left behind.
    assert sorted(t.table_id for t in warehouse.client.list_tables(warehouse.dataset)) == ["final", "mapping", "raw"]


def test_a_job_s_tables_are_replaced_together_or_not_at_all(warehouse, gcs_emulator):
    bucket = gcs_emulator()
    mapping = _to_gcs(bucket, "m", [{"node_id": "100", "int_id": 1}], MAPPING_SCHEMA)
    warehouse.load_parquet("mapping", [mapping], MAPPING_SCHEMA)
    old, new = (_to_gcs(bucket, name, [{"node_id": 1, "emb": [v]}], EMBEDDINGS_SCHEMA) for name, v in (("old", 1.0), ("new", 7.0)))
    warehouse.publish_job_tables([TableReplacement(f"raw_{t}", [old], EMBEDDINGS_SCHEMA, "mapping", t, "emb") for t in ("a", "b")])
    failing = [
        TableReplacement("raw_a", [new], EMBEDDINGS_SCHEMA, "mapping", "a", "emb"),
        TableReplacement("raw_b", [new], EMBEDDINGS_SCHEMA, "no_such_mapping", "b", "emb"),
    ]
    with pytest.raises(Exception):
        warehouse.publish_job_tables(failing)
    for table in ("a", "b"):
        assert warehouse.read_table(table).to_pylist() == [{"node_id": "100", "emb": [1.0]}]
    assert sorted(t.table_id for t in warehouse.client.list_tables(warehouse.dataset)) == ["a", "b", "mapping", "raw_a", "raw_b"]


def test_checks_queries_find_bad_values(warehouse, gcs_emulator):
    rows = [{"node_id": 1, "emb": [1.0, 2.0]}, {"node_id": 2, "emb": [float("nan"), 0.0]}, {"node_id": 3, "emb": [1.0]}]
    warehouse.load_parquet("raw", [_to_gcs(gcs_emulator(), "q", rows, EMBEDDINGS_SCHEMA)], EMBEDDINGS_SCHEMA)
    quality = warehouse.embedding_quality("raw")
    assert (quality.rows, quality.non_finite_rows, quality.min_dim, quality.max_dim) == (3, 1, 1, 2)


def test_jobs_carry_labels(warehouse, gcs_emulator):
    warehouse.load_parquet("raw", [_to_gcs(gcs_emulator(), "l", [{"node_id": 1, "emb": [1.0]}], EMBEDDINGS_SCHEMA)], EMBEDDINGS_SCHEMA)
    jobs = list(warehouse.client.list_jobs(max_results=20))
    assert jobs and all(job.labels == {"team": "ml-platform"} for job in jobs if job.labels)
    assert any(job.labels == {"team": "ml-platform"} for job in jobs)


@pytest.mark.parametrize(
    "project, dataset, table", [("Bad_Project", "ds", "t"), ("good-project", "a-b", "t"), ("good-project", "ds", "t; DROP")]
)
def test_qualified_names_are_validated(project, dataset, table):
    with pytest.raises(InvalidTableName):
        qualified_bigquery_table(project, dataset, table)


def test_link_candidates_are_unenumerated_on_both_ids(warehouse, gcs_emulator):
    """Both id columns of a pair table map through their node types' mappings; a row with an
    unmapped id is left out and counted; the quality query sees k per source and self pairs."""
    from gnn_assets.outputs.candidates import CANDIDATES_SCHEMA
    from gnn_assets.warehouse.protocol import LinkTableReplacement

    bucket = gcs_emulator()
    users = _to_gcs(bucket, "users", [{"node_id": f"user_{i}", "int_id": i} for i in range(3)], MAPPING_SCHEMA)
    items = _to_gcs(bucket, "items", [{"node_id": f"item_{i}", "int_id": i} for i in range(4)], MAPPING_SCHEMA)
    warehouse.load_parquet("user_mapping", [users], MAPPING_SCHEMA)
    warehouse.load_parquet("item_mapping", [items], MAPPING_SCHEMA)
    rows = [
        {"src_node_id": s, "dst_node_id": d, "score": float(10 - r), "rank": r}
        for s, ranked in ((0, [3, 1]), (1, [0, 2]), (2, [2, 9]))  # item 9 is unmapped
        for r, d in enumerate(ranked, start=1)
    ]
    raw = _to_gcs(bucket, "candidates", rows, CANDIDATES_SCHEMA)
    report = warehouse.publish_link_tables(
        [LinkTableReplacement("raw_candidates", [raw], CANDIDATES_SCHEMA, "user_mapping", "item_mapping", "candidates")]
    )["candidates"]
    assert (report.raw_rows, report.output_rows, report.unmapped_rows) == (6, 5, 1)
    got = sorted((r["src_node_id"], r["rank"], r["dst_node_id"]) for r in warehouse.read_table("candidates").to_pylist())
    assert got == [("user_0", 1, "item_3"), ("user_0", 2, "item_1"), ("user_1", 1, "item_0"), ("user_1", 2, "item_2"), ("user_2", 1, "item_2")]
    quality = warehouse.candidate_quality("candidates")
    assert (quality.rows, quality.sources, quality.min_per_source, quality.max_per_source, quality.self_pairs) == (5, 3, 1, 2, 0)
    assert "candidates_stage" not in " ".join(t.table_id for t in warehouse.client.list_tables(warehouse.dataset))


def test_an_incremental_run_replaces_its_rows_and_the_removed_nodes_rows_and_nothing_else(warehouse, gcs_emulator):
    """Publishing by delta: the run's rows (one per id) replace those nodes' rows, the removed
    nodes' rows go, every other row stays, in one transaction; the report counts the table after."""
    import dataclasses

    bucket = gcs_emulator()
    uploads = iter(range(100))

    def mapping(names: list[str]) -> None:
        rows = [{"node_id": n, "int_id": i} for i, n in enumerate(names)]
        warehouse.load_parquet("mapping", [_to_gcs(bucket, f"mapping-{next(uploads)}", rows, MAPPING_SCHEMA)], MAPPING_SCHEMA)

    def publish(rows: list[tuple[int, list[float]]], removed: list[str] | None = None, mapping_table: str = "mapping"):
        raw = _to_gcs(bucket, f"raw-{next(uploads)}", [{"node_id": i, "emb": e} for i, e in rows], EMBEDDINGS_SCHEMA)
        replacement = TableReplacement("raw", [raw], EMBEDDINGS_SCHEMA, mapping_table, "final", "emb")
        return warehouse.publish_job_tables([dataclasses.replace(replacement, removed_node_ids=removed)])["final"]

    def published() -> dict:
        return {r["node_id"]: r["emb"] for r in warehouse.read_table("final").to_pylist()}

    mapping(["a", "b", "c"])
    publish([(0, [0.0]), (1, [1.0]), (2, [2.0])])
    # Today "b" is gone and "d" added (ids move); the run recomputed c and d (d's id twice).
    mapping(["a", "c", "d"])
    report = publish([(1, [20.0]), (2, [30.0]), (2, [31.0])], removed=["b"])
    assert published() == {"a": [0.0], "c": [20.0], "d": [30.0]}
    assert (report.raw_rows, report.output_rows, report.duplicate_ids, report.duplicate_rows_dropped, report.missing_nodes) == (3, 3, 1, 1, 0)
    assert report.complete
    # "b" comes back; nothing else recomputed.
    mapping(["a", "b", "c", "d"])
    report = publish([(1, [10.0])], removed=[])
    assert published() == {"a": [0.0], "b": [10.0], "c": [20.0], "d": [30.0]}
    assert (report.raw_rows, report.output_rows, report.missing_nodes) == (1, 4, 0)
    # A delta that fails (its mapping table is missing) changes nothing.
    with pytest.raises(Exception):
        publish([(0, [-1.0])], removed=["c"], mapping_table="no_such_mapping")
    assert published() == {"a": [0.0], "b": [10.0], "c": [20.0], "d": [30.0]}
    assert sorted(t.table_id for t in warehouse.client.list_tables(warehouse.dataset)) == ["final", "mapping", "raw"]
