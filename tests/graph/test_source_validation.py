"""A graph source is checked where it enters: each problem is one line naming the file, with
counts and example ids (before, several of these were raw Arrow tracebacks or silent)."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gnn_assets.config.errors import ConfigError
from gnn_assets.config.layout import StorageLayout
from gnn_assets.graph.enumeration import enumerate_graph, enumerate_graph_source
from gnn_assets.graph.source import GraphSourceError, read_graph_source

METADATA = "nodeTypes: [u]\nedgeTypes: [{srcNodeType: u, relation: r, dstNodeType: u}]\n"


def _write(directory, ids, features, *, metadata=METADATA, edges=(("a", "b"),), types=None, labels=None):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "graph_metadata.yaml").write_text(metadata)
    nodes = pa.table(
        {
            "node_id": pa.array(ids, pa.string()),
            "node_type": pa.array(types or ["u"] * len(ids), pa.string()),
            "features": pa.array(features, pa.list_(pa.float32())),
        }
    )
    if labels is not None:
        nodes = nodes.append_column("label", pa.array(labels))
    pq.write_table(nodes, directory / "nodes.parquet")
    src, dst = zip(*edges) if edges else ((), ())
    pq.write_table(pa.table({"src": list(src), "dst": list(dst), "edge_type": ["r"] * len(edges)}, schema=pa.schema(
        [("src", pa.string()), ("dst", pa.string()), ("edge_type", pa.string())])), directory / "edges.parquet")
    return str(directory)


def test_a_clean_source_reads(tmp_path):
    source = read_graph_source(_write(tmp_path / "g", ["a", "b"], [[1.0], [2.0]]))
    assert source.nodes.num_rows == 2


@pytest.mark.parametrize(
    "features, message",
    [
        ([[1.0], [math.nan]], r"nodes\.parquet: 1 nodes have NULL, NaN or infinite feature values, e\.g\. \['b'\]"),
        ([[math.inf, 1.0], [-math.inf, 2.0]], r"2 nodes have NULL, NaN or infinite feature values, e\.g\. \['a', 'b'\]"),
        ([[1.0], [None]], r"1 nodes have NULL, NaN or infinite feature values, e\.g\. \['b'\]"),
        ([[1.0], []], r"1 nodes have an empty feature vector, e\.g\. \['b'\]"),
        ([[1.0], None], r"1 rows have a NULL features, e\.g\. rows \[1\]"),
    ],
)
def test_bad_features_are_refused_with_counts_and_ids(tmp_path, features, message):
    with pytest.raises(GraphSourceError, match=message):
        read_graph_source(_write(tmp_path / "g", ["a", "b"], features))


@pytest.mark.parametrize(
    "labels, message",
    [
        ([1.5, math.nan], r"nodes\.parquet: column label has 1 NaN or infinite values, e\.g\. nodes \['b'\]"),
        (["cat", "dog"], r"nodes\.parquet: column label is string; a label is an integer \(a class, for classification\)"),
    ],
)
def test_labels_that_are_not_finite_numbers_are_refused_naming_the_file_and_column(tmp_path, labels, message):
    with pytest.raises(GraphSourceError, match=message) as refused:
        read_graph_source(_write(tmp_path / "g", ["a", "b"], [[1.0], [2.0]], labels=labels))
    assert "\n" not in str(refused.value)


def test_floating_labels_are_values_and_integer_labels_classes(tmp_path):
    """A floating label column is kept as values (NULL: none), an integer one as classes (-1: none),
    by every enumeration alike."""
    for labels, expected in (([2.5, None], [2.5, math.nan]), ([3, None], [3, -1])):
        source = read_graph_source(_write(tmp_path / str(labels[0]), ["a", "b"], [[1.0], [2.0]], labels=labels))
        graph, _, _ = enumerate_graph(source)
        got = graph.labels["u"]
        assert got.dtype.kind == ("f" if isinstance(labels[0], float) else "i")
        assert [None if isinstance(v, float) and math.isnan(v) else v for v in got.tolist()] == [
            None if isinstance(v, float) and math.isnan(v) else v for v in expected
        ]


def test_a_null_node_id_is_one_line(tmp_path):
    with pytest.raises(GraphSourceError, match=r"nodes\.parquet: 1 rows have a NULL node_id, e\.g\. rows \[0\]"):
        read_graph_source(_write(tmp_path / "g", [None, "b"], [[1.0], [2.0]]))


def test_an_empty_graph_is_one_line(tmp_path):
    with pytest.raises(GraphSourceError, match=r"nodes\.parquet: the graph has no nodes"):
        read_graph_source(_write(tmp_path / "g", [], [], edges=()))


def test_duplicate_node_ids_are_named(tmp_path):
    source = read_graph_source(_write(tmp_path / "g", ["a", "b", "a", "c", "c"], [[1.0]] * 5))
    with pytest.raises(GraphSourceError, match=r"2 node ids of type 'u' appear more than once, e\.g\. \['a', 'c'\]"):
        enumerate_graph(source)


@pytest.mark.parametrize(
    "metadata",
    [
        "nodeTypes: ['../../x']\nedgeTypes: [{srcNodeType: '../../x', relation: r, dstNodeType: '../../x'}]\n",
        "nodeTypes: [u]\nedgeTypes: [{srcNodeType: u, relation: '../../../escape', dstNodeType: u}]\n",
    ],
)
def test_names_that_would_escape_the_storage_root_are_refused(tmp_path, metadata):
    """Before: enumeration wrote nodes_<type>.parquet / edges_<relation>.parquet outside the root."""
    layout = StorageLayout(str(tmp_path / "root"))
    _write(tmp_path / "root" / "graphs" / "g" / "source", ["a", "b"], [[1.0], [2.0]], metadata=metadata)
    with pytest.raises(GraphSourceError, match=r"graph_metadata\.yaml: invalid (node type|relation) '\.\./"):
        enumerate_graph_source(layout, "g")
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(p.startswith("root/graphs/g/source/") for p in written)


def test_a_graph_name_that_would_escape_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"invalid graph name '\.\./\.\./\.\./x'"):
        StorageLayout(str(tmp_path)).graph_source_dir("../../../x")


def test_edges_are_counted_per_edge_type_when_relation_names_repeat(tmp_path):
    """graph_source's metadata counted edges by relation name alone, merging every edge type called 'to'."""
    metadata = "nodeTypes: [u, v]\nedgeTypes: [{srcNodeType: u, relation: to, dstNodeType: v}, {srcNodeType: v, relation: to, dstNodeType: u}]\n"
    directory = _write(tmp_path / "g", ["a", "b"], [[1.0], [2.0]], metadata=metadata, types=["u", "v"], edges=())
    edges = pa.table(
        {"src": ["a", "a", "b"], "dst": ["b", "b", "a"], "edge_type": ["to"] * 3, "src_type": ["u", "u", "v"], "dst_type": ["v", "v", "u"]}
    )
    pq.write_table(edges, tmp_path / "g" / "edges.parquet")
    assert read_graph_source(directory).edges_per_type() == {("u", "to", "v"): 2, ("v", "to", "u"): 1}
