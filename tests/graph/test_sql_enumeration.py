"""Enumeration in SQL (DuckDB, out of core) equals the in-memory enumeration byte for byte, reads
shard folders as it reads single files, refuses every bad source in one line, and completes
under a memory limit smaller than the graph."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gnn_assets import storage
from gnn_assets.config.layout import StorageLayout
from gnn_assets.errors import UserError
from gnn_assets.graph.enumerated_layout import mapping_uri, nodes_uri
from gnn_assets.graph.feature_rows import feature_rows_file, feature_rows_uri
from gnn_assets.graph.out_edges import open_out_edges, out_edges_uris
from gnn_assets.graph.enumeration import enumerate_graph, enumerate_graph_source, write_enumerated_graph
from gnn_assets.graph.source import GraphSource, GraphSourceError, write_graph_source
from gnn_assets.graph.sql_enumeration import SqlEngineSettings
from tests.support.graph_sources import HOSTILE, bad_source, enumerated_tables, hostile_source, shard_source


def _assert_same_enumeration(source: GraphSource, tmp_path, *, shards: int = 0) -> None:
    layout = StorageLayout(str(tmp_path / "root"))
    source_dir = layout.graph_source_dir("g")
    write_graph_source(source_dir, source)
    if shards:
        shard_source(source_dir, shards)
    enumerate_graph_source(layout, "g")
    graph, mappings, _ = enumerate_graph(source)
    oracle = str(tmp_path / "oracle")
    write_enumerated_graph(oracle, graph, mappings)
    got, expected = enumerated_tables(layout.enumerated_graph_dir("g"), source.metadata), enumerated_tables(oracle, source.metadata)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name].to_pydict() == expected[name].to_pydict(), name
    for e in source.metadata.edge_types:  # the out-edges by source hold the edges file's edges
        key = (e.src_node_type, e.relation, e.dst_node_type)
        edges = got[f"edges {key}"]
        src, dst = edges["src"].to_numpy(), edges["dst"].to_numpy()
        num_src = got[f"mapping {key[0]}"].num_rows
        out_edges = open_out_edges(layout.enumerated_graph_dir("g"), key, num_src)
        np.testing.assert_array_equal(out_edges.indptr, np.concatenate([[0], np.cumsum(np.bincount(src, minlength=num_src))]))
        np.testing.assert_array_equal(out_edges.neighbours(np.arange(num_src)), dst[np.lexsort((dst, src))])
        some = np.array([num_src - 1, 0, num_src // 2, 0])  # any order, repeats kept
        np.testing.assert_array_equal(out_edges.neighbours(some), np.concatenate([np.sort(dst[src == s]) for s in some]))
    for node_type in source.metadata.node_types:  # the mapped feature rows hold the nodes file's features
        features = got[f"nodes {node_type}"]["features"].combine_chunks()
        values = features.flatten().to_numpy().reshape(len(features), features.type.list_size)
        rows_file = feature_rows_file(layout.enumerated_graph_dir("g"), node_type, values.shape)
        np.testing.assert_array_equal(np.fromfile(rows_file, np.float32).reshape(values.shape), values)


@pytest.mark.slow
def test_sql_equals_memory_on_the_demo_graphs(tmp_path, small_typed_graph, small_homogeneous_graph):
    _assert_same_enumeration(small_typed_graph, tmp_path / "typed")
    _assert_same_enumeration(small_homogeneous_graph, tmp_path / "homogeneous")


def test_a_sharded_source_equals_the_same_graph_in_single_files(tmp_path, small_typed_graph):
    _assert_same_enumeration(small_typed_graph, tmp_path, shards=5)


def test_hostile_ids_enumerate_bytewise_as_in_memory(tmp_path):
    _assert_same_enumeration(hostile_source(), tmp_path)
    mapping = storage.read_parquet(mapping_uri(StorageLayout(str(tmp_path / "root")).enumerated_graph_dir("g"), "u"))
    assert mapping["node_id"].to_pylist() == sorted(HOSTILE, key=lambda s: s.encode())


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"ids": (None, "b")}, r"nodes/part-0\.parquet: 1 rows have a NULL node_id, e\.g\. rows \[0\]"),
        ({"features": ((1.0,), (float("nan"),))}, r"1 nodes have NULL, NaN or infinite feature values, e\.g\. \['b'\]"),
        ({"features": ((1.0,), ())}, r"1 nodes have an empty feature vector, e\.g\. \['b'\]"),
        ({"features": ((1.0,), None)}, r"part-1\.parquet: 1 rows have a NULL features, e\.g\. rows \[0\]"),
        ({"ids": ("a", "b", "a", "c", "c"), "features": ((1.0,),) * 5}, r"2 node ids of type 'u' appear more than once, e\.g\. \['a', 'c'\]"),
        ({"types": ("u", "w")}, r"node types \['w'\] are not in graph_metadata\.yaml"),
        ({"edges": (("a", "zz"),)}, r"1 edges of type 'u-r-u' have a dst that is not a 'u' node, e\.g\. \['zz'\]"),
        ({"ids": (), "features": (), "edges": ()}, r"the graph has no nodes"),
        ({"features": ((1.0,), (1.0, 2.0))}, r"feature vectors have different lengths \(1\.\.2\)"),
        ({"labels": (1.5, float("nan"))}, r"nodes/: column label has 1 NaN or infinite values, e\.g\. nodes \['b'\]"),
        ({"labels": (float("inf"), None)}, r"nodes/: column label has 1 NaN or infinite values, e\.g\. nodes \['a'\]"),
        ({"labels": ("cat", "dog")}, r"nodes/: column label is VARCHAR; a label is an integer \(a class, for classification\) or a floating"),
    ],
)
def test_every_source_error_is_one_line_from_shards_and_nothing_is_written(tmp_path, bad, message):
    layout = bad_source(tmp_path, **bad)
    with pytest.raises(GraphSourceError, match=message) as refused:
        enumerate_graph_source(layout, "g")
    assert "\n" not in str(refused.value)
    assert not list((tmp_path / "root" / "graphs" / "g").glob("enumerated*"))


def test_a_refused_source_leaves_the_last_enumeration_in_place(tmp_path, small_typed_graph):
    layout = StorageLayout(str(tmp_path / "root"))
    write_graph_source(layout.graph_source_dir("g"), small_typed_graph)
    enumerate_graph_source(layout, "g")
    before = enumerated_tables(layout.enumerated_graph_dir("g"), small_typed_graph.metadata)
    edges = pq.read_table(f"{layout.graph_source_dir('g')}/edges.parquet")
    dangling = pa.table({c: pa.array([edges[c][0].as_py() if c != "dst" else "no-such-node"]) for c in edges.column_names})
    pq.write_table(pa.concat_tables([edges, dangling.cast(edges.schema)]), f"{layout.graph_source_dir('g')}/edges.parquet")
    with pytest.raises(GraphSourceError, match="is not a 'item' node|is not a 'user' node"):
        enumerate_graph_source(layout, "g")
    after = enumerated_tables(layout.enumerated_graph_dir("g"), small_typed_graph.metadata)
    assert all(after[k].equals(before[k]) for k in before)


@pytest.mark.slow
def test_a_graph_larger_than_the_memory_limit_enumerates(tmp_path):
    """Nodes table of about 300 MB (600,000 nodes, 128 features) under a 256 MB DuckDB limit."""
    layout = StorageLayout(str(tmp_path / "root"))
    source_dir = layout.graph_source_dir("g")
    storage.write_text(f"{source_dir}/graph_metadata.yaml", "nodeTypes: [u]\nedgeTypes: [{srcNodeType: u, relation: r, dstNodeType: u}]\n")
    n = 600_000
    duckdb.sql(
        f"COPY (SELECT 'n' || lpad((hash(i) % {n * 10})::VARCHAR, 9, '0') || '_' || i::VARCHAR AS node_id, 'u' AS node_type, "
        "list_transform(range(128), j -> ((hash(i * 131 + j) % 1000) / 1000.0)::FLOAT) AS features FROM range(" + str(n) + ") t(i)) "
        f"TO '{source_dir}/nodes.parquet' (FORMAT parquet)"
    )
    duckdb.sql(
        f"COPY (SELECT 'n' || lpad((hash(i) % {n * 10})::VARCHAR, 9, '0') || '_' || i::VARCHAR AS src, "
        f"'n' || lpad((hash((i * 7 + 3) % {n}) % {n * 10})::VARCHAR, 9, '0') || '_' || ((i * 7 + 3) % {n})::VARCHAR AS dst, "
        f"'r' AS edge_type FROM range({n}) t(i)) TO '{source_dir}/edges.parquet' (FORMAT parquet)"
    )
    settings = SqlEngineSettings(memory_limit_mb=256, temp_directory=str(tmp_path / "spill"), threads=2)
    report = enumerate_graph_source(layout, "g", settings)
    assert report.nodes == {"u": n} and report.edges == {"u-r-u": n}
    mapping = storage.read_parquet(mapping_uri(layout.enumerated_graph_dir("g"), "u"))
    ids = mapping["node_id"].to_pylist()
    assert ids == sorted(ids) and mapping["int_id"].to_pylist() == list(range(n))
    nodes = pq.ParquetFile(nodes_uri(layout.enumerated_graph_dir("g"), "u"))
    assert nodes.metadata.num_rows == n and nodes.schema_arrow.field("features").type == pa.list_(pa.float32(), 128)


def test_feature_rows_of_another_shape_are_refused_in_one_line(tmp_path, small_typed_graph):
    layout = StorageLayout(str(tmp_path / "root"))
    write_graph_source(layout.graph_source_dir("g"), small_typed_graph)
    report = enumerate_graph_source(layout, "g")
    directory, node_type = layout.enumerated_graph_dir("g"), small_typed_graph.metadata.node_types[0]
    written = [p for p in Path(directory).iterdir() if p.suffix in (".parquet", ".f32", ".i64")]
    assert {p.name for p in written if p.suffix == ".f32"} == {f"features_{t}.f32" for t in small_typed_graph.metadata.node_types}
    assert report.enumerated_bytes == sum(p.stat().st_size for p in written)  # feature rows and out-edges counted with the rest
    features = storage.read_parquet(nodes_uri(directory, node_type))["features"]
    shape = (len(features), features.type.list_size)
    assert feature_rows_file(directory, node_type, shape) == feature_rows_uri(directory, node_type)
    with open(feature_rows_uri(directory, node_type), "r+b") as cut:
        cut.truncate(4 * shape[1] * (shape[0] - 1))
    with pytest.raises(UserError, match=r"features_.*\.f32: holds .* bytes, .* nodes of .* float32 features are .*; enumerate the graph again"):
        feature_rows_file(directory, node_type, shape)


def test_out_edges_that_disagree_with_the_graph_are_refused_in_one_line(tmp_path, small_typed_graph):
    layout = StorageLayout(str(tmp_path / "root"))
    write_graph_source(layout.graph_source_dir("g"), small_typed_graph)
    report = enumerate_graph_source(layout, "g")
    directory = layout.enumerated_graph_dir("g")
    e = small_typed_graph.metadata.edge_types[0]
    key = (e.src_node_type, e.relation, e.dst_node_type)
    num_src = report.nodes[key[0]]
    indptr_uri, dst_uri = out_edges_uris(directory, key)
    with pytest.raises(UserError, match=r"\.indptr\.i64: holds .* bytes, .* sources need .*; enumerate the graph again"):
        open_out_edges(directory, key, num_src + 1)
    with open(dst_uri, "r+b") as cut:
        cut.truncate(Path(dst_uri).stat().st_size - 8)
    with pytest.raises(UserError, match=r"\.dst\.i64: holds .* bytes, its indptr says .* edges; enumerate the graph again"):
        open_out_edges(directory, key, num_src)
    Path(dst_uri).unlink()
    assert open_out_edges(directory, key, num_src) is None  # an enumeration by an earlier version


@pytest.mark.parametrize("forged", [-5, 10**9])
def test_an_indptr_pointing_outside_the_destinations_is_refused_where_it_is_read(tmp_path, small_typed_graph, forged):
    """A forged middle entry of the indptr (its ends still agree with the files) would gather
    wrapped or missing destinations: refused in one line when a lookup reads it."""
    layout = StorageLayout(str(tmp_path / "root"))
    write_graph_source(layout.graph_source_dir("g"), small_typed_graph)
    report = enumerate_graph_source(layout, "g")
    directory = layout.enumerated_graph_dir("g")
    e = small_typed_graph.metadata.edge_types[0]
    key = (e.src_node_type, e.relation, e.dst_node_type)
    num_src = report.nodes[key[0]]
    indptr_uri, _ = out_edges_uris(directory, key)
    indptr = np.fromfile(indptr_uri, dtype="<i8")
    indptr[2] = forged
    indptr.tofile(indptr_uri)
    out_edges = open_out_edges(directory, key, num_src)
    np.testing.assert_array_equal(out_edges.neighbours(np.array([5])), out_edges.destinations[indptr[5] : indptr[6]])  # untouched rows read
    with pytest.raises(UserError, match=r"\.dst\.i64: its indptr decreases or points outside its .* destinations; enumerate the graph again"):
        out_edges.neighbours(np.array([1, 2]))
