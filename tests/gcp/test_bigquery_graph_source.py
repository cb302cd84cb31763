"""A graph source held in BigQuery tables, enumerated in BigQuery (bqemulator over a real socket):
the same files, byte for byte, as the same graph enumerated from Parquet files by DuckDB; the
same one-line refusals; nothing written and no scratch table left when it is refused."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gnn_assets import storage
from gnn_assets.config.layout import StorageLayout
from gnn_assets.config.yaml_proto import to_yaml
from gnn_assets.graph import bigquery_enumeration
from gnn_assets.graph.enumeration import enumerate_graph_source
from gnn_assets.graph.source import GraphSource, GraphSourceError, write_graph_source
from gnn_assets.warehouse.bigquery import BigQueryWarehouse
from tests.support.deployments import BQ_PROJECT
from tests.support.graph_sources import enumerated_tables, hostile_source

pytestmark = pytest.mark.gcp

METADATA = "nodeTypes: [u]\nedgeTypes: [{srcNodeType: u, relation: r, dstNodeType: u}]\n"


@pytest.fixture
def warehouse(bigquery_emulator):
    return BigQueryWarehouse(BQ_PROJECT, f"ds_{uuid.uuid4().hex[:12]}")  # each test its own dataset


def _to_bigquery(warehouse: BigQueryWarehouse, tmp_path, nodes: pa.Table, edges: pa.Table) -> tuple[str, str]:
    """The source's tables loaded into BigQuery (features as ARRAY<FLOAT64>); their full names."""
    names = []
    for name, table in (("src_nodes", nodes), ("src_edges", edges)):
        if "features" in table.column_names:
            table = table.set_column(table.column_names.index("features"), "features", table["features"].cast(pa.list_(pa.float64())))
        pq.write_table(table, tmp_path / f"{name}.parquet")
        warehouse.load_parquet(name, [str(tmp_path / f"{name}.parquet")], table.schema)
        names.append(f"{BQ_PROJECT}.{warehouse.dataset}.{name}")
    return names[0], names[1]


def _bigquery_source(warehouse, tmp_path, nodes, edges, metadata_yaml: str = METADATA) -> StorageLayout:
    nodes_table, edges_table = _to_bigquery(warehouse, tmp_path, nodes, edges)
    layout = StorageLayout(str(tmp_path / "bq-root"))
    storage.write_text(
        storage.join(layout.graph_source_dir("g"), "graph_metadata.yaml"),
        metadata_yaml + f"bigquerySource: {{nodesTable: {nodes_table}, edgesTable: {edges_table}}}\n",
    )
    return layout


def _scratch_tables(warehouse) -> list[str]:
    return [t.table_id for t in warehouse.client.list_tables(warehouse.dataset) if t.table_id.startswith("gnn_enumeration_")]


def _assert_same_as_duckdb(warehouse, tmp_path, source: GraphSource) -> None:
    local = StorageLayout(str(tmp_path / "local-root"))
    write_graph_source(local.graph_source_dir("g"), source)
    expected_report = enumerate_graph_source(local, "g")
    layout = _bigquery_source(warehouse, tmp_path, source.nodes, source.edges, to_yaml(source.metadata))
    report = enumerate_graph_source(layout, "g", bigquery=warehouse)
    assert report.engine == "bigquery"
    assert (report.nodes, report.edges, report.duplicate_edges_dropped) == (
        expected_report.nodes, expected_report.edges, expected_report.duplicate_edges_dropped)
    got = enumerated_tables(layout.enumerated_graph_dir("g"), source.metadata)
    expected = enumerated_tables(local.enumerated_graph_dir("g"), source.metadata)
    assert {k: v.to_pydict() for k, v in got.items()} == {k: v.to_pydict() for k, v in expected.items()}
    assert all(got[k].schema.equals(expected[k].schema) for k in expected)
    assert "bigquery" not in storage.read_text(storage.join(layout.enumerated_graph_dir("g"), "graph_metadata.yaml")).lower()
    assert _scratch_tables(warehouse) == []


def test_a_bigquery_source_enumerates_as_duckdb_does_read_back_range_by_range(warehouse, tmp_path, small_typed_graph, monkeypatch):
    monkeypatch.setattr(bigquery_enumeration, "RANGE_ROWS", 7)  # many ordered range queries, several pages
    monkeypatch.setattr(bigquery_enumeration, "PAGE_ROWS", 5)
    _assert_same_as_duckdb(warehouse, tmp_path, small_typed_graph)


def test_hostile_ids_enumerate_bytewise_in_bigquery(warehouse, tmp_path):
    _assert_same_as_duckdb(warehouse, tmp_path, hostile_source())


def _nodes(ids, features=None, types=None) -> pa.Table:
    return pa.table({
        "node_id": pa.array(list(ids), pa.string()),
        "node_type": pa.array(list(types or ["u"] * len(ids)), pa.string()),
        "features": pa.array([list(f) for f in (features or [(float(i),) for i in range(len(ids))])], pa.list_(pa.float64())),
    })


def _edges(pairs, relation="r") -> pa.Table:
    return pa.table({"src": pa.array([s for s, _ in pairs], pa.string()), "dst": pa.array([d for _, d in pairs], pa.string()),
                     "edge_type": pa.array([relation] * len(pairs), pa.string())})


@pytest.mark.parametrize(
    "nodes, edges, message",
    [
        (_nodes([None, "b"]), _edges([("b", "b")]), r"src_nodes: 1 rows have a NULL node_id$"),
        (_nodes(["a", "b"], [(1.0,), (float("nan"),)]), _edges([("a", "b")]), r"1 nodes have NULL, NaN or infinite feature values, e\.g\. \['b'\]"),
        (_nodes(["a", "b"], [(1.0,), ()]), _edges([("a", "b")]), r"1 nodes have an empty feature vector, e\.g\. \['b'\]"),
        (_nodes(["a", "b", "a", "c", "c"]), _edges([("a", "b")]), r"2 node ids of type 'u' appear more than once, e\.g\. \['a', 'c'\]"),
        (_nodes(["a", "b"], types=["u", "w"]), _edges([("a", "a")]), r"node types \['w'\] are not in graph_metadata\.yaml"),
        (_nodes(["a", "b"]), _edges([("a", "zz")]), r"1 edges of type 'u-r-u' have a dst that is not a 'u' node, e\.g\. \['zz'\]"),
        (_nodes(["a", "b"]), _edges([("a", "b")], relation="q"), r"edge types \['q'\] are not in graph_metadata\.yaml"),
        (_nodes(["a", "b"], [(1.0,), (1.0, 2.0)]), _edges([("a", "b")]), r"feature vectors have different lengths \(1\.\.2\)"),
        (_nodes(["a"]).drop_columns(["features"]), _edges([("a", "a")]), r"missing columns \['features'\]"),
        (_nodes(["a", "b"]).append_column("label", pa.array([2.5, float("nan")])), _edges([("a", "b")]),
         r"src_nodes: column label has 1 NaN or infinite values, e\.g\. nodes \['b'\]"),
        (_nodes(["a", "b"]).append_column("label", pa.array(["x", "y"])), _edges([("a", "b")]), r"src_nodes: column label is STRING; a label is an integer"),
    ],
)
def test_every_source_error_is_one_line_from_bigquery_and_nothing_is_written(warehouse, tmp_path, nodes, edges, message):
    layout = _bigquery_source(warehouse, tmp_path, nodes, edges)
    with pytest.raises(GraphSourceError, match=message) as refused:
        enumerate_graph_source(layout, "g", bigquery=warehouse)
    assert "\n" not in str(refused.value)
    assert storage.child_names(layout.graph_dir("g")) == ["source"]
    assert _scratch_tables(warehouse) == []


def test_a_bigquery_source_needs_a_bigquery_deployment(warehouse, tmp_path):
    layout = _bigquery_source(warehouse, tmp_path, _nodes(["a"]), _edges([("a", "a")]))
    with pytest.raises(GraphSourceError, match=r"names BigQuery tables \(bigquerySource\), but this deployment's warehouse is not BigQuery"):
        enumerate_graph_source(layout, "g")


def test_a_malformed_bigquery_source_table_name_is_refused(tmp_path):
    from gnn_assets.graph.source import read_source_metadata

    layout = StorageLayout(str(tmp_path))
    storage.write_text(storage.join(layout.graph_source_dir("g"), "graph_metadata.yaml"),
                       METADATA + "bigquerySource: {nodesTable: 'p.d.n; DROP TABLE x', edgesTable: proj-x.d.e}\n")
    with pytest.raises(GraphSourceError, match=r"graph_metadata\.yaml: bigquerySource\.nodesTable: invalid BigQuery project id 'p'"):
        read_source_metadata(layout.graph_source_dir("g"))


def test_the_cli_enumerates_a_bigquery_source_and_loads_its_mapping(warehouse, tmp_path, small_typed_graph):
    import subprocess
    import sys
    from collections import Counter

    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.graph.enumeration import summarize_deployment_source

    layout = _bigquery_source(warehouse, tmp_path, small_typed_graph.nodes, small_typed_graph.edges, to_yaml(small_typed_graph.metadata))
    config = tmp_path / "resources.yaml"
    config.write_text(f"storage: {{root: '{layout.root}'}}\nlocalRunner: {{runningMode: in_memory}}\n"
                      f"bigquery: {{project: {BQ_PROJECT}, dataset: {warehouse.dataset}}}\n")
    summary = summarize_deployment_source(load_resource_config(str(config)), "g")
    assert summary.nodes_per_type == dict(sorted(Counter(small_typed_graph.nodes["node_type"].to_pylist()).items()))
    assert sum(summary.edges_per_type.values()) == small_typed_graph.edges.num_rows
    done = subprocess.run([sys.executable, "-m", "gnn_assets.cli", "enumerate", "--graph_name", "g", "--resource_config_uri", str(config)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for node_type in small_typed_graph.metadata.node_types:
        assert warehouse.row_count(f"g_{node_type}_node_id_mapping") == summary.nodes_per_type[node_type]
