"""A change log applied to a graph source: the snapshot it implies, refusals before any write,
and a swap cut short finished before anything reads the source."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gnn_assets import storage
from gnn_assets.graph.change_log import ChangeLogError, apply_change_log
from gnn_assets.graph.demo import write_demo_shards
from gnn_assets.graph.sql_enumeration import enumerate_source_sql
from gnn_assets.graph.source import GraphSource, read_graph_source, read_source_metadata, write_graph_source
from tests.support.change_logs import changed, content, write_change_log

P0, P1 = "paper_00000000", "paper_9e3779b1"  # nodes of the 50-node demo graph (seed 1)


def _snapshot(directory) -> GraphSource:
    return read_graph_source(str(directory))


def test_a_log_of_every_kind_gives_the_snapshot_it_implies(tmp_path, small_homogeneous_graph):
    write_graph_source(str(tmp_path / "graph"), small_homogeneous_graph)
    target = changed(small_homogeneous_graph, "all")
    kinds = write_change_log(small_homogeneous_graph, target, tmp_path / "changes")
    report = apply_change_log(str(tmp_path / "graph"), str(tmp_path / "changes"))
    assert content(_snapshot(tmp_path / "graph")) == content(target)
    assert (report.nodes_added, report.nodes_removed, report.nodes_updated) == (kinds["nodes_add"], kinds["nodes_remove"], kinds["nodes_update"])
    assert report.edges_added == kinds["edges_add"] and report.edges_of_removed_nodes > 0
    assert report.nodes == target.nodes.num_rows
    assert not storage.glob(str(tmp_path / "graph" / "*.next")) and not (tmp_path / "graph" / "change_log_swap.json").exists()


def test_a_typed_graph_and_a_sharded_source(tmp_path, small_typed_graph):
    """Relations named by their end types (src_type/dst_type), and a source of shard folders
    (written as single files after; the folders go)."""
    nodes = small_typed_graph.nodes
    users = [n for n, t in zip(nodes["node_id"].to_pylist(), nodes["node_type"].to_pylist()) if t == "user"]
    gone = users[0]
    target_nodes = nodes.filter(pa.compute.not_equal(nodes["node_id"], gone))
    edges = small_typed_graph.edges
    keep = [gone not in (s, d) for s, d in zip(edges["src"].to_pylist(), edges["dst"].to_pylist())]
    target = GraphSource(small_typed_graph.metadata, target_nodes, edges.filter(pa.array(keep)))
    write_graph_source(str(tmp_path / "graph"), small_typed_graph)
    write_change_log(small_typed_graph, target, tmp_path / "changes")
    apply_change_log(str(tmp_path / "graph"), str(tmp_path / "changes"))
    assert content(_snapshot(tmp_path / "graph")) == content(target)

    sharded = str(tmp_path / "sharded")
    write_demo_shards(sharded, 3000, seed=3)
    before = enumerate_source_sql(sharded, read_source_metadata(sharded), str(tmp_path / "before"))
    width = before.feature_dims["paper"]
    (tmp_path / "more").mkdir()
    pq.write_table(
        pa.table({"node_id": ["extra"], "node_type": ["paper"], "op": ["add"], "features": pa.array([[0.5] * width], pa.list_(pa.float32()))}),
        tmp_path / "more" / "nodes.parquet",
    )
    apply_change_log(sharded, str(tmp_path / "more"))
    assert not (tmp_path / "sharded" / "nodes").exists() and (tmp_path / "sharded" / "nodes.parquet").exists()
    assert enumerate_source_sql(sharded, read_source_metadata(sharded), str(tmp_path / "after")).nodes["paper"] == before.nodes["paper"] + 1


def _log(tmp_path, nodes: list[dict] | None = None, edges: list[dict] | None = None):
    folder = tmp_path / "bad"
    folder.mkdir(exist_ok=True)
    if nodes is not None:
        pq.write_table(pa.Table.from_pylist(nodes), folder / "nodes.parquet")
    if edges is not None:
        pq.write_table(pa.Table.from_pylist(edges), folder / "edges.parquet")
    return str(folder)


def _edge(src, dst, op="add"):
    return {"src": src, "dst": dst, "edge_type": "cites", "op": op}


@pytest.mark.parametrize(
    "nodes, edges, message",
    [
        ([{"node_id": "p0", "node_type": "paper", "op": "upsert"}], None, r"nodes.parquet: column op holds \['upsert'\]"),
        ([{"node_id": None, "node_type": "paper", "op": "remove"}], None, "nodes.parquet: 1 rows have a NULL node_id"),
        ([{"node_id": "x", "node_type": "author", "op": "remove"}], None, r"nodes.parquet: node types \['author'\] are not in graph_metadata.yaml"),
        ([{"node_id": P0, "node_type": "paper", "op": "add", "features": [1.0] * 32}], None, "nodes to add are in the graph already"),
        ([{"node_id": "nobody", "node_type": "paper", "op": "update", "features": [1.0] * 32}], None, "nodes to remove or update are not in the graph"),
        ([{"node_id": P0, "node_type": "paper", "op": "update", "features": [1.0] * 3}], None, r"column features of node 'paper_00000000' \(paper\) holds 3 values"),
        ([{"node_id": P0, "node_type": "paper", "op": "update", "features": [float("nan")] * 32}], None, "column features holds NULL, NaN or infinite values"),
        ([{"node_id": "new", "node_type": "paper", "op": "add", "features": None}], None, "added or updated nodes have no features"),
        ([{"node_id": P0, "node_type": "paper", "op": "remove"}, {"node_id": P0, "node_type": "paper", "op": "remove"}], None, "nodes appear more than once"),
        (None, [_edge(P0, "nobody")], "edges to add have a dst that is not a node of the new graph"),
        (None, [_edge(P0, P1, "remove"), _edge(P0, P1, "remove")], "appear more than once in the log"),
        (None, [{"src": P0, "dst": P1, "edge_type": "likes", "op": "add"}], r"edge types \['likes'\] are not in graph_metadata.yaml"),
        (None, [{"src": P0, "dst": P1, "op": "add"}], r"edges.parquet: missing columns \['edge_type'\]"),
    ],
)
def test_a_bad_log_is_refused_in_one_line_and_the_source_is_untouched(tmp_path, nodes, edges, message):
    from gnn_assets.graph.demo import generate_homogeneous_demo_graph

    graph = generate_homogeneous_demo_graph(50, seed=1)
    ids = graph.nodes["node_id"].to_pylist()
    assert P0 in ids or pytest.fail(f"the demo graph's ids are {ids[:3]}...")
    source = tmp_path / "graph"
    write_graph_source(str(source), graph)
    stamps = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in source.iterdir()}
    with pytest.raises(ChangeLogError, match=message) as refused:
        apply_change_log(str(source), _log(tmp_path, nodes, edges))
    assert "\n" not in str(refused.value)
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in source.iterdir()} == stamps


def test_removing_an_edge_the_graph_lacks_is_refused(tmp_path, small_homogeneous_graph):
    source = tmp_path / "graph"
    write_graph_source(str(source), small_homogeneous_graph)
    present = set(zip(small_homogeneous_graph.edges["src"].to_pylist(), small_homogeneous_graph.edges["dst"].to_pylist()))
    ids = small_homogeneous_graph.nodes["node_id"].to_pylist()
    absent = next((a, b) for a in ids for b in ids if (a, b) not in present and a != b)
    with pytest.raises(ChangeLogError, match="edges to remove are not in the graph"):
        apply_change_log(str(source), _log(tmp_path, edges=[_edge(*absent, "remove")]))


def test_a_swap_cut_short_is_finished_before_the_source_is_read(tmp_path, small_homogeneous_graph, monkeypatch):
    """Killed between putting the new nodes file in place and the edges file: the next
    enumeration finishes the swap first, so it never reads one snapshot's nodes with another's edges."""
    from gnn_assets.graph import change_log

    source = tmp_path / "graph"
    write_graph_source(str(source), small_homogeneous_graph)
    target = changed(small_homogeneous_graph, "remove_nodes")
    write_change_log(small_homogeneous_graph, target, tmp_path / "changes")
    moved = []
    real = change_log._move

    def killed_after_one_move(src, dst):
        if moved:
            raise SystemExit(137)
        moved.append(dst)
        real(src, dst)

    monkeypatch.setattr(change_log, "_move", killed_after_one_move)
    with pytest.raises(SystemExit):
        apply_change_log(str(source), str(tmp_path / "changes"))
    monkeypatch.setattr(change_log, "_move", real)
    assert (source / "change_log_swap.json").exists()
    from gnn_assets.graph.enumeration import enumerate_graph_source
    from gnn_assets.config.layout import StorageLayout

    layout = StorageLayout(str(tmp_path / "root"))
    os.makedirs(os.path.dirname(layout.graph_source_dir("g")), exist_ok=True)
    os.replace(source, layout.graph_source_dir("g"))
    report = enumerate_graph_source(layout, "g")
    assert report.nodes["paper"] == target.nodes.num_rows
    assert content(_snapshot(layout.graph_source_dir("g"))) == content(target)
    assert read_source_metadata(layout.graph_source_dir("g")) == small_homogeneous_graph.metadata


def test_an_update_without_a_label_keeps_the_node_s_label(tmp_path):
    from gnn_assets.graph.demo import generate_homogeneous_demo_graph

    graph = generate_homogeneous_demo_graph(50, seed=1)
    labels = dict(zip(graph.nodes["node_id"].to_pylist(), graph.nodes["label"].to_pylist()))
    assert labels[P0] is not None
    write_graph_source(str(tmp_path / "graph"), graph)
    apply_change_log(str(tmp_path / "graph"), _log(tmp_path, nodes=[{"node_id": P0, "node_type": "paper", "op": "update", "features": [2.0] * 32}]))
    after = _snapshot(tmp_path / "graph").nodes.to_pylist()
    (changed_row,) = [r for r in after if r["node_id"] == P0]
    assert changed_row["label"] == labels[P0] and changed_row["features"] == [2.0] * 32


def test_a_log_s_labels_are_read_as_the_graph_s_own_values_not_cut_to_integers(tmp_path, small_typed_graph):
    """The typed demo graph's labels are values (item prices): a log's label for an item is kept as
    the number it is (before, every log label was read as BIGINT)."""
    items = [n for n, t in zip(small_typed_graph.nodes["node_id"].to_pylist(), small_typed_graph.nodes["node_type"].to_pylist()) if t == "item"]
    width = len(small_typed_graph.nodes.filter(pa.compute.equal(small_typed_graph.nodes["node_id"], items[0]))["features"][0])
    write_graph_source(str(tmp_path / "graph"), small_typed_graph)
    updates = [{"node_id": items[0], "node_type": "item", "op": "update", "features": [1.0] * width, "label": 12.75},
               {"node_id": items[1], "node_type": "item", "op": "update", "features": [1.0] * width, "label": 3}]
    apply_change_log(str(tmp_path / "graph"), _log(tmp_path, nodes=updates))
    after = {r["node_id"]: r["label"] for r in _snapshot(tmp_path / "graph").nodes.to_pylist()}
    assert after[items[0]] == 12.75 and after[items[1]] == 3.0
    assert pq.read_schema(tmp_path / "graph" / "nodes.parquet").field("label").type == pa.float64()


def test_edge_labels_survive_a_log_and_an_added_edge_brings_its_own(tmp_path, small_typed_graph):
    """The typed demo graph's purchases carry ratings (edge labels): the edges a log keeps keep
    theirs, an added purchase has the log's, and one removed is gone with its rating."""
    edges = small_typed_graph.edges
    rated = edges.filter(pa.compute.is_valid(edges["label"])).to_pylist()
    gone, kept = rated[0], rated[1]
    users = [n for n, t in zip(small_typed_graph.nodes["node_id"].to_pylist(), small_typed_graph.nodes["node_type"].to_pylist()) if t == "user"]
    pairs = {(e["src"], e["dst"]) for e in rated}
    new_src = next(u for u in users if (u, gone["dst"]) not in pairs)
    write_graph_source(str(tmp_path / "graph"), small_typed_graph)
    ends = {"edge_type": "buys", "src_type": "user", "dst_type": "item"}
    _log(tmp_path, edges=[{"src": gone["src"], "dst": gone["dst"], **ends, "op": "remove", "label": None},
                          {"src": new_src, "dst": gone["dst"], **ends, "op": "add", "label": 4.25}])
    apply_change_log(str(tmp_path / "graph"), str(tmp_path / "bad"))
    after = {(e["src"], e["dst"], e["edge_type"]): e["label"] for e in _snapshot(tmp_path / "graph").edges.to_pylist()}
    assert (gone["src"], gone["dst"], "buys") not in after
    assert after[(kept["src"], kept["dst"], "buys")] == kept["label"] and after[(new_src, gone["dst"], "buys")] == 4.25
    assert pq.read_schema(tmp_path / "graph" / "edges.parquet").field("label").type == pa.float64()
