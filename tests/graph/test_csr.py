"""The in-edge CSR built by destination blocks from the edges file, mapped from disk: the same
arrays as the in-memory build, whatever the block size and the file's order."""

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gnn_assets.graph.csr import InEdges, build_in_edges, load_in_edges, write_in_edges
from gnn_assets.graph.enumerated_layout import keyed_edges_uri
from gnn_assets.graph.source import GraphSourceError

KEY = ("paper", "cites", "paper")


def _edges(num_nodes: int, num_edges: int, seed: int, *, sorted_by_source: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pairs = np.unique(rng.integers(0, num_nodes, (num_edges, 2)), axis=0)  # sorted by (src, dst), as enumerated
    hub = np.stack([np.arange(num_nodes), np.zeros(num_nodes, dtype=np.int64)], axis=1)  # node 0 larger than any block
    pairs = np.unique(np.concatenate([pairs, hub]), axis=0)
    if not sorted_by_source:
        pairs = pairs[rng.permutation(len(pairs))]
    return pairs[:, 0], pairs[:, 1]


def _write(directory, src, dst, row_group_size=257) -> str:
    uri = keyed_edges_uri(str(directory), KEY)
    pq.write_table(pa.table({"src": src, "dst": dst}), uri, row_group_size=row_group_size)
    return uri


@pytest.mark.parametrize("sorted_by_source", [True, False])
@pytest.mark.parametrize("build_bytes", [1, 4096, 1 << 30])
def test_built_by_blocks_equals_the_in_memory_build(tmp_path, sorted_by_source, build_bytes):
    num_nodes = 500
    src, dst = _edges(num_nodes, 6_000, seed=3, sorted_by_source=sorted_by_source)
    _write(tmp_path, src, dst)
    expected = build_in_edges(src, dst, num_nodes)
    built = load_in_edges(str(tmp_path), KEY, num_nodes, num_nodes, build_bytes)
    assert built.maps, "the CSR is read from mapped files"
    assert built.held_bytes == 0 and built.nbytes == expected.nbytes
    np.testing.assert_array_equal(built.indptr, expected.indptr)
    np.testing.assert_array_equal(built.sources, expected.sources)
    ids = np.array([0, 7, 499, 7])
    for got, want in zip(built.positions(ids), expected.positions(ids)):
        np.testing.assert_array_equal(got, want)
    built.release_pages()  # the data stays readable from the files
    np.testing.assert_array_equal(built.sources, expected.sources)


def test_the_cache_is_read_back_and_rebuilt_when_the_edges_change(tmp_path):
    src, dst = _edges(100, 800, seed=1, sorted_by_source=True)
    uri = _write(tmp_path, src, dst)
    first = load_in_edges(str(tmp_path), KEY, 100, 100)
    cache = os.path.join(tmp_path, "csr", "paper-cites-paper")
    stamp = os.stat(os.path.join(cache, "sources.npy")).st_mtime_ns
    again = load_in_edges(str(tmp_path), KEY, 100, 100)
    assert os.stat(os.path.join(cache, "sources.npy")).st_mtime_ns == stamp  # read, not rebuilt
    np.testing.assert_array_equal(again.sources, first.sources)
    os.remove(uri)
    src2, dst2 = src[: len(src) // 2], dst[: len(dst) // 2]
    _write(tmp_path, src2, dst2)
    rebuilt = load_in_edges(str(tmp_path), KEY, 100, 100)
    np.testing.assert_array_equal(rebuilt.sources, build_in_edges(src2, dst2, 100).sources)
    assert [n for n in os.listdir(os.path.join(tmp_path, "csr")) if n != "paper-cites-paper"] == []  # no building leftovers


def test_an_empty_edge_type_and_edges_out_of_range(tmp_path):
    _write(tmp_path, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    empty = load_in_edges(str(tmp_path), KEY, 10, 10)
    assert isinstance(empty, InEdges) and empty.num_edges == 0 and list(empty.indptr) == [0] * 11
    (tmp_path / "bad").mkdir()
    uri = _write(tmp_path / "bad", np.array([0, 3]), np.array([1, 10]))
    with pytest.raises(GraphSourceError, match="edge ends outside 0..9 / 0..9"):
        write_in_edges(uri, 10, 10, str(tmp_path))
