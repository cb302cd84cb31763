import numpy as np
import pytest

from gnn_assets.graph import sampler as sampler_module
from gnn_assets.graph.enumeration import enumerate_graph
from gnn_assets.graph.packed import encode_packed
from gnn_assets.graph.sampler import NeighborSampler, _sample_without_replacement, default_shard_count, neighborhoods, write_samples
from gnn_assets.graph.tfrecord import iter_records


@pytest.fixture(scope="module")
def typed(small_typed_graph):
    return enumerate_graph(small_typed_graph)[0]


def _in_edges(graph, key):
    src, dst = graph.edges[key]
    out = {}
    for s, d in zip(src.tolist(), dst.tolist()):
        out.setdefault(d, set()).add(s)
    return out


def _edge_ids(graph, sample, c):
    """The sample's edges of condensed type c as (src id, dst id) pairs."""
    if c not in sample.edges:
        return set()
    src_type, _, dst_type = graph.edge_types[c]
    src, dst = sample.edges[c]
    types = graph.node_types
    return set(zip(sample.node_ids[types.index(src_type)][src].tolist(), sample.node_ids[types.index(dst_type)][dst].tolist()))


def test_full_fanout_takes_every_in_edge_of_every_hop(typed):
    sampler = NeighborSampler(typed, [-1, -1])
    roots = np.array([0, 5, 17])
    samples = list(neighborhoods(typed, "user", sampler.sample("user", roots, np.random.default_rng(0))))
    in_edges = {key: _in_edges(typed, key) for key in typed.edge_types}
    for sample in samples:
        expanded = {("user", sample.root_node_id)}
        # hop 1: every in-edge of the root, for each edge type into 'user'
        hop1 = set()
        for c, key in enumerate(typed.edge_types):
            got = _edge_ids(typed, sample, c)
            want = {(s, sample.root_node_id) for s in in_edges[key].get(sample.root_node_id, ())} if key[2] == "user" else set()
            assert want <= got
            hop1 |= {(key[0], s) for s, _ in want}
        # hop 2: every in-edge of every hop-1 node
        for c, key in enumerate(typed.edge_types):
            got = _edge_ids(typed, sample, c)
            for node_type, node in hop1 - expanded:
                if key[2] == node_type:
                    assert {(s, node) for s in in_edges[key].get(node, ())} <= got


def test_fanout_bounds_each_hop_and_edges_are_real(typed):
    fanout = [3, 2]
    sampler = NeighborSampler(typed, fanout)
    chunk = sampler.sample("item", np.arange(50), np.random.default_rng(1))
    real = {key: set(zip(*map(np.ndarray.tolist, typed.edges[key]))) for key in typed.edge_types}
    for sample in neighborhoods(typed, "item", chunk):
        for c, key in enumerate(typed.edge_types):
            edges = _edge_ids(typed, sample, c)
            assert edges <= real[key]
            if edges:
                _, per_dst = np.unique([d for _, d in edges], return_counts=True)
                assert per_dst.max() <= max(fanout)
        into_root = _edge_ids(typed, sample, typed.edge_types.index(("user", "buys", "item")))
        assert sum(d == sample.root_node_id for _, d in into_root) <= fanout[0]


def test_roots_spread_evenly_over_a_multiple_of_eight_shards(typed, tmp_path, monkeypatch):
    monkeypatch.setattr(sampler_module, "ROOTS_PER_SHARD", 4)
    assert [default_shard_count(n) for n in (1, 4, 5, 33, 64, 65)] == [1, 1, 8, 16, 16, 24]
    report = write_samples(
        NeighborSampler(typed, [2, 2]), "user", np.arange(20), str(tmp_path / "s-"), encode_packed, enumeration="", progress=lambda _: None
    )
    counts = []
    for path in report.shards:
        with open(path, "rb") as stream:
            counts.append(sum(1 for _ in iter_records(stream)))
    assert len(counts) == 8 and sum(counts) == 20 and max(counts) - min(counts) == 1


def test_sampling_is_seeded(typed):
    sampler = NeighborSampler(typed, [5, 5])
    a = sampler.sample("user", np.arange(100), np.random.default_rng(7))
    b = sampler.sample("user", np.arange(100), np.random.default_rng(7))
    c = sampler.sample("user", np.arange(100), np.random.default_rng(8))
    key = ("item", "bought_by", "user")
    assert all(np.array_equal(x, y) for x, y in zip(a.edges[key], b.edges[key]))
    assert not all(np.array_equal(x, y) for x, y in zip(a.edges[key], c.edges[key]))


def test_floyd_draws_distinct_positions_uniformly():
    rng = np.random.default_rng(0)
    degree = np.full(20_000, 10)
    chosen = _sample_without_replacement(degree, 3, rng)
    assert all(len(set(row)) == 3 for row in chosen[:500].tolist())
    assert chosen.min() >= 0 and chosen.max() <= 9
    counts = np.bincount(chosen.ravel(), minlength=10) / chosen.size
    assert np.abs(counts - 0.1).max() < 0.01


def test_sample_node_ids_are_sorted_per_type(typed):
    chunk = NeighborSampler(typed, [5, 5]).sample("user", np.arange(30), np.random.default_rng(2))
    for sample in neighborhoods(typed, "user", chunk):
        for ids in sample.node_ids.values():
            assert (np.diff(ids) > 0).all()
