"""A graph source in GCS (shard folders) is enumerated by DuckDB where it lies, out of core,
equal to the same graph enumerated from local files; its errors are the same one-line refusals."""

from __future__ import annotations

import glob
import os

import pytest

from gnn_assets import storage
from gnn_assets.config.layout import StorageLayout
from gnn_assets.graph.enumeration import enumerate_graph_source
from gnn_assets.graph.source import GraphSourceError, write_graph_source
from tests.support.graph_sources import bad_source, enumerated_tables, shard_source


def _upload(local_dir: str, remote_dir: str) -> None:
    for path in glob.glob(os.path.join(local_dir, "**"), recursive=True):
        if os.path.isfile(path):
            storage.write_bytes(storage.join(remote_dir, os.path.relpath(path, local_dir)), open(path, "rb").read())


def test_a_sharded_gcs_source_enumerates_as_the_same_local_one(tmp_path, gcs_emulator, small_typed_graph):
    local = StorageLayout(str(tmp_path / "root"))
    write_graph_source(local.graph_source_dir("g"), small_typed_graph)
    shard_source(local.graph_source_dir("g"), 3)
    remote = StorageLayout(gcs_emulator())
    _upload(local.graph_source_dir("g"), remote.graph_source_dir("g"))
    assert storage.glob(storage.join(remote.graph_source_dir("g"), "nodes", "*.parquet"))

    local_report = enumerate_graph_source(local, "g")
    remote_report = enumerate_graph_source(remote, "g")
    assert remote_report.source_files == {"nodes": 3, "edges": 3}
    assert (remote_report.nodes, remote_report.edges) == (local_report.nodes, local_report.edges)
    expected = enumerated_tables(local.enumerated_graph_dir("g"), small_typed_graph.metadata)
    got = enumerated_tables(remote.enumerated_graph_dir("g"), small_typed_graph.metadata)
    assert {k: v.to_pydict() for k, v in got.items()} == {k: v.to_pydict() for k, v in expected.items()}
    # Enumerated again, the folder is replaced whole: no staging folder is left beside it.
    enumerate_graph_source(remote, "g")
    assert not [p for p in storage.glob(storage.join(remote.graph_dir("g"), "**")) if ".staging-" in p or ".replaced-" in p]


def test_a_bad_gcs_source_is_refused_in_one_line_and_nothing_is_written(tmp_path, gcs_emulator):
    local = bad_source(tmp_path, edges=(("a", "zz"),))
    remote = StorageLayout(gcs_emulator())
    _upload(local.graph_source_dir("g"), remote.graph_source_dir("g"))
    with pytest.raises(GraphSourceError, match=r"1 edges of type 'u-r-u' have a dst that is not a 'u' node, e\.g\. \['zz'\]") as refused:
        enumerate_graph_source(remote, "g")
    assert "\n" not in str(refused.value)
    assert not [p for p in storage.glob(storage.join(remote.graph_dir("g"), "**")) if "/source/" not in p]
