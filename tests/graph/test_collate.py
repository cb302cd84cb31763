import numpy as np

from gnn_assets.graph.samples import Neighborhood, SampleBatch
from gnn_assets.graph.collate import GraphTypes, collate, collate_merged

HOMOGENEOUS = GraphTypes(["n"], [("n", "e", "n")], [1])


def _sample(root, nodes, edges):
    """edges as (src id, dst id) pairs, stored as positions into nodes."""
    ids = np.array(nodes)
    src = np.array([nodes.index(s) for s, _ in edges])
    dst = np.array([nodes.index(d) for _, d in edges])
    return Neighborhood(root, 0, {0: ids}, {0: ids.astype(np.float32)[:, None]}, {0: (src, dst)})


def test_overlapping_neighborhoods_stay_apart():
    """Before: shared nodes were merged, so node 2 below got the union of the in-edges both
    samples drew for it and root 1's answer depended on root 3 sharing its batch."""
    a = _sample(1, [1, 2, 3], [(2, 1), (3, 2)])
    b = _sample(3, [2, 3, 5], [(2, 3), (5, 2)])
    batch = collate(SampleBatch.from_neighborhoods([a, b]), HOMOGENEOUS)
    ids = batch.data.n_id.tolist()
    assert ids == [1, 2, 3, 2, 3, 5]
    assert batch.data.x[:, 0].tolist() == [1.0, 2.0, 3.0, 2.0, 3.0, 5.0]
    edges = sorted(tuple(e) for e in batch.data.edge_index.t().tolist())
    assert edges == [(1, 0), (2, 1), (3, 4), (5, 3)]  # a's edges among a's rows, b's among b's
    assert batch.root_index.tolist() == [0, 4]
    assert batch.root_node_ids.tolist() == [1, 3]


def test_a_root_answers_the_same_alone_and_in_a_batch():
    a = _sample(1, [1, 2, 3], [(2, 1), (3, 2)])
    b = _sample(2, [2, 5], [(5, 2)])
    alone = collate(SampleBatch.from_neighborhoods([a]), HOMOGENEOUS)
    together = collate(SampleBatch.from_neighborhoods([b, a]), HOMOGENEOUS)
    offset = 2  # b's two nodes come first
    assert (together.data.edge_index[:, 1:] - offset).tolist() == alone.data.edge_index.tolist()
    assert together.root_index.tolist() == [0, offset + alone.root_index.item()]


def test_every_type_is_present_in_heterogeneous_batches():
    types = GraphTypes(["a", "b"], [("a", "to", "b"), ("b", "to2", "a")], [2, 3])
    sample = Neighborhood(7, 0, {0: np.array([7])}, {0: np.zeros((1, 2), np.float32)}, {})
    batch = collate(SampleBatch.from_neighborhoods([sample]), types)
    assert batch.data["b"].x.shape == (0, 3)
    assert batch.data["a", "to", "b"].edge_index.shape == (2, 0)


def test_training_batches_merge_shared_nodes_once():
    a = _sample(1, [1, 2, 3], [(2, 1), (3, 2)])
    b = _sample(3, [3, 2, 5], [(2, 3), (3, 2), (5, 3)])
    batch = collate_merged(SampleBatch.from_neighborhoods([a, b]), HOMOGENEOUS)
    ids = batch.data.n_id.tolist()
    assert ids == [1, 2, 3, 5]
    edges = sorted((ids[s], ids[d]) for s, d in batch.data.edge_index.t().tolist())
    assert edges == [(2, 1), (2, 3), (3, 2), (5, 3)]
    assert [ids[i] for i in batch.root_index.tolist()] == [1, 3]
