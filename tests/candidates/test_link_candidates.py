"""Link candidates equal an exact brute-force top-k: the index alone (exclusions, self pairs,
slices, cosine) and the whole stage (Beam job, commit, both ids un-enumerated in the warehouse)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gnn_assets.candidates.index as index_module
from gnn_assets.candidates.index import CandidateIndex
from gnn_assets.config.errors import ConfigError
from gnn_assets.graph.csr import build_in_edges
from gnn_assets.jobs import driver
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import prepare_job


def _brute_force(queries: np.ndarray, destinations: np.ndarray, k: int, excluded: set[tuple[int, int]]) -> list[list[int]]:
    scores = queries @ destinations.T
    for i, j in excluded:
        scores[i, j] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # equal scores: lower id first
    return [[int(j) for j in row if np.isfinite(scores[i, j])] for i, row in enumerate(order)]


@pytest.mark.parametrize("cosine", [False, True])
def test_index_equals_brute_force_with_exclusions_and_slices(monkeypatch, cosine):
    rng = np.random.default_rng(0)
    destinations, queries = rng.normal(size=(700, 8)).astype(np.float32), rng.normal(size=(60, 8)).astype(np.float32)
    src, dst = rng.integers(0, 60, 400), rng.integers(0, 700, 400)
    monkeypatch.setattr(index_module, "SCORE_BYTES_PER_SLICE", 4 * 60 * 53)  # many slices of 53 destinations
    index = CandidateIndex(torch.from_numpy(destinations), 7, cosine=cosine, exclude=build_in_edges(dst, src, 60), exclude_self=True, absent=np.array([3, 650]))
    found = index.top_k(np.arange(60), torch.from_numpy(queries))
    if cosine:
        destinations = destinations / np.linalg.norm(destinations, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    excluded = set(zip(src.tolist(), dst.tolist())) | {(i, i) for i in range(60)} | {(i, j) for i in range(60) for j in (3, 650)}
    expected = _brute_force(queries, destinations, 7, excluded)
    got = [found.dst[found.src == i].tolist() for i in range(60)]
    assert got == expected
    assert all(found.rank[found.src == i].tolist() == list(range(1, 8)) for i in range(60))
    assert not np.any(found.src == found.dst)


def test_a_source_with_fewer_eligible_destinations_gets_fewer_rows():
    index = CandidateIndex(torch.eye(4), 3, exclude=build_in_edges(np.array([0, 1]), np.array([0, 0]), 1))
    found = index.top_k(np.array([0]), torch.ones(1, 4))
    assert found.dst.tolist() == [2, 3] and found.rank.tolist() == [1, 2]


@pytest.mark.slow
def test_stage_equals_brute_force_on_published_embeddings(tmp_path, small_typed_graph):
    job = prepare_job(
        tmp_path, "demo_link_prediction", small_typed_graph, **{"gnnAssetsConfig.linkCandidates": {"k": 5, "score": "COSINE"}}
    )
    run = driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    warehouse = open_warehouse(job.resources)
    table = warehouse.read_table(job.frozen.link_candidates_tables()[("user", "buys", "item")]).to_pydict()

    def embeddings(node_type):
        data = warehouse.read_table(job.frozen.output_tables(node_type)["embeddings"]).to_pydict()
        return data["node_id"], np.array(data["emb"], dtype=np.float32)

    users, user_emb = embeddings("user")
    items, item_emb = embeddings("item")
    item_row = {n: i for i, n in enumerate(items)}
    edges = small_typed_graph.edges.to_pydict()
    existing = {(u, i) for u, i, t in zip(edges["src"], edges["dst"], edges["edge_type"]) if t == "buys"}
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    scores = unit(user_emb) @ unit(item_emb).T
    got = {}
    for src, dst, rank in zip(table["src_node_id"], table["dst_node_id"], table["rank"]):
        got.setdefault(src, {})[rank] = dst
    assert set(got) == set(users) and all(len(ranked) == 5 for ranked in got.values())  # k rows per source, original ids
    for row, user in enumerate(users):
        allowed = [(scores[row, item_row[i]], i) for i in items if (user, i) not in existing]
        best = sorted(allowed, key=lambda pair: -pair[0])[:5]
        ranked = [got[user][r] for r in range(1, 6)]
        assert [round(float(s), 5) for s, _ in best] == [round(float(scores[row, item_row[i]]), 5) for i in ranked]
    quality = warehouse.candidate_quality(job.frozen.link_candidates_tables()[("user", "buys", "item")])
    assert quality.rows == 5 * len(users) and quality.min_per_source == quality.max_per_source == 5 and quality.self_pairs == 0
    recall = run.candidate_recall["user-buys-item"]
    assert recall["metric"] == "recall@5" and recall["count"] > 0 and 0.0 <= recall["value"] <= 1.0


def test_link_candidates_need_a_link_prediction_task(tmp_path, small_homogeneous_graph):
    with pytest.raises(ConfigError, match="gnnAssetsConfig.linkCandidates.k: link candidates need a link prediction task"):
        prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"gnnAssetsConfig.linkCandidates": {"k": 5}})


@pytest.mark.slow
def test_k_beyond_the_destinations_says_so(tmp_path, small_typed_graph):
    """Before: k larger than the destinations gave fewer rows per source without a word."""
    job = prepare_job(tmp_path, "demo_link_prediction", small_typed_graph, **{"gnnAssetsConfig.linkCandidates": {"k": 1000}})
    lines = []
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lines.append)
    (warning,) = [line for line in lines if "linkCandidates.k is 1,000" in line]
    assert "there are only 400 item nodes: each source gets at most 400 candidates" in warning
