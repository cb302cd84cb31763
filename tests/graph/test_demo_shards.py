"""The demo graph of any size, written as shard folders a slice at a time: deterministic, a
valid graph source the SQL enumeration reads, and the CLI's choice above STREAM_ABOVE nodes."""

import glob
import os

import numpy as np
import pyarrow.parquet as pq

from gnn_assets import cli
from gnn_assets.graph import demo
from gnn_assets.graph.demo import write_demo_shards
from gnn_assets.graph.source import read_source_metadata
from gnn_assets.graph.sql_enumeration import enumerate_source_sql


def _read(directory, name):
    return pq.read_table(sorted(glob.glob(os.path.join(directory, name, "*.parquet"))))


def test_shards_are_deterministic_and_enumerate(tmp_path):
    first, second = str(tmp_path / "a"), str(tmp_path / "b")
    counts = write_demo_shards(first, 3_000, feature_dim=8, slice_nodes=1_000)
    assert write_demo_shards(second, 3_000, feature_dim=8, slice_nodes=1_000) == counts
    assert len(glob.glob(os.path.join(first, "nodes", "*.parquet"))) == 3
    for name in ("nodes", "edges"):
        assert _read(first, name).equals(_read(second, name))
    assert pq.read_table(os.path.join(first, "evaluation_labels.parquet")).equals(pq.read_table(os.path.join(second, "evaluation_labels.parquet")))
    other = write_demo_shards(str(tmp_path / "c"), 3_000, feature_dim=8, slice_nodes=1_000, seed=12)
    assert not _read(str(tmp_path / "c"), "edges").equals(_read(first, "edges")) and other[0] == 3_000

    nodes, edges = _read(first, "nodes"), _read(first, "edges")
    assert nodes.num_rows == 3_000 and len(set(nodes["node_id"].to_pylist())) == 3_000
    assert edges.num_rows == counts[1] and 5 * 3_000 < counts[1] < 11 * 3_000  # about 8 per node, duplicates dropped
    pairs = list(zip(edges["src"].to_pylist(), edges["dst"].to_pylist()))
    assert len(set(pairs)) == len(pairs) and all(s != d for s, d in pairs)
    assert set(edges["dst"].to_pylist()) <= set(nodes["node_id"].to_pylist())

    found = enumerate_source_sql(first, read_source_metadata(first), str(tmp_path / "enumerated"))
    assert found.nodes == {"paper": 3_000} and found.feature_dims == {"paper": 8}
    assert found.edges == {"paper-cites-paper": counts[1]} and found.duplicate_edges_dropped == {"paper-cites-paper": 0}
    assert found.source_files == {"nodes": 3, "edges": 3}
    labels = nodes["label"].to_numpy(zero_copy_only=False)
    held_out = pq.read_table(os.path.join(first, "evaluation_labels.parquet"))
    assert held_out.num_rows == int(np.isnan(labels).sum()) > 0


def test_the_cli_writes_shards_above_the_threshold_and_replaces_a_single_file_source(tmp_path, monkeypatch):
    resources = tmp_path / "resources.yaml"
    resources.write_text(f"storage: {{root: {tmp_path / 'data'}}}\nlocalRunner: {{}}\nduckdb: {{}}\n")
    args = ["demo-graph", "--resource_config_uri", str(resources), "--graph_name", "big", "--kind", "homogeneous"]
    assert cli.main([*args, "--num_nodes", "300"]) in (0, None)
    source = glob.glob(str(tmp_path / "data" / "**" / "nodes.parquet"), recursive=True)
    assert len(source) == 1
    monkeypatch.setattr(demo, "STREAM_ABOVE", 500)
    assert cli.main([*args, "--num_nodes", "600"]) in (0, None)
    directory = os.path.dirname(source[0])
    assert not os.path.exists(source[0]) and _read(directory, "nodes").num_rows == 600
