"""Several models in one job, in `make bench`.

ab_vs_single: the sampled Beam job with a champion (two models on one read and decode of the
samples) ÷ twice the same job with its own model alone, wall time, both in this process on the
bench task's samples; rounds alternate the two and the ratio is the median of the rounds.

candidates_per_s: the link candidates stage's model (candidates/index.py: exact top-k by dot
product) over source batches of the stage's size, against 100,000 destinations of dimension 32
(the link prediction demo's embedding size; random embeddings, which cost what trained ones do),
beside brute force in numpy on the same batches (one matrix product, argpartition, sort of the k).
Sources are independent, so the rate holds for 1M sources; the bench measures a subset of them.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import say

CANDIDATES_K = 10
CANDIDATE_DIM = 32


def measure_ab(workdir: Path, frozen, rounds: int) -> dict:
    """frozen: a sampled job with samples and its model; the champion is a second model file."""
    from gnn_assets.outputs.champion import Champion
    from gnn_assets.config.task_config import freeze_task_config, load_task_config, write_frozen_config
    from gnn_assets.config.job import Job
    from gnn_assets.inference.pipeline import run_inference_job
    from gnn_assets.inference.protocol import load_state_dict
    from gnn_assets.inference.task_specs import write_untrained_model

    resources = _resources(workdir)
    champion_config = freeze_task_config(load_task_config(frozen.uri), resources, "champion")
    write_frozen_config(champion_config)
    write_untrained_model(champion_config, seed=1)
    champion = Champion("champion", champion_config, load_state_dict(champion_config.trained_model_uri, resources.model_policy).sha256)
    sha256 = load_state_dict(frozen.trained_model_uri, resources.model_policy).sha256
    quiet = lambda _: None  # noqa: E731
    singles, pairs = [], []
    for _ in range(rounds):
        started = time.monotonic()
        job = run_inference_job(Job.of(frozen, resources), model_sha256=sha256, progress=quiet)
        singles.append(time.monotonic() - started)
        started = time.monotonic()
        both = run_inference_job(Job.of(frozen, resources), model_sha256=sha256, progress=quiet, champion=champion)
        pairs.append(time.monotonic() - started)
        samples = sum(o.samples for o in job.outputs.values())
        assert sum(o.samples for o in both.outputs.values()) == samples  # one read for both models
    ratio = statistics.median(p / (2 * s) for p, s in zip(pairs, singles))
    say(f"A/B job: {statistics.median(pairs):.1f} s for two models vs {statistics.median(singles):.1f} s for one ({ratio:.2f} of two single jobs)")
    return {"metrics": {"ab_vs_single": ratio}, "measurements": {"samples": samples, "single_seconds": singles, "ab_seconds": pairs}}


def _resources(workdir: Path):
    from gnn_assets.config.resource_config import load_resource_config

    return load_resource_config(str(workdir / "resources.yaml"))


def _numpy_top_k(queries: np.ndarray, destinations: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ destinations.T
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1)


def measure_candidates(sources: int, destinations: int) -> dict:
    import torch

    from gnn_assets.candidates.index import CandidateIndex
    from gnn_assets.candidates.job import SOURCE_BATCH_ROWS

    rng = np.random.default_rng(0)
    dst = rng.normal(size=(destinations, CANDIDATE_DIM)).astype(np.float32)
    src = rng.normal(size=(sources, CANDIDATE_DIM)).astype(np.float32)
    index = CandidateIndex(torch.from_numpy(dst), CANDIDATES_K)
    batches = [(np.arange(s, min(s + SOURCE_BATCH_ROWS, sources)), src[s : s + SOURCE_BATCH_ROWS]) for s in range(0, sources, SOURCE_BATCH_ROWS)]
    timings = {"index": [], "numpy": []}
    for _ in range(2):  # alternated, best of two each
        started = time.monotonic()
        ours = [index.top_k(ids, torch.from_numpy(q)) for ids, q in batches]
        timings["index"].append(time.monotonic() - started)
        started = time.monotonic()
        theirs = [_numpy_top_k(q, dst, CANDIDATES_K) for _, q in batches]
        timings["numpy"].append(time.monotonic() - started)
    # The same answer (scores; ids may differ only among equal scores).
    got = np.concatenate([c.score.reshape(-1, CANDIDATES_K) for c in ours])
    expected = np.concatenate([s for _, s in theirs])
    assert np.allclose(got, expected, atol=1e-4), "the index and brute force disagree"
    ours_s, numpy_s = min(timings["index"]), min(timings["numpy"])
    say(f"link candidates: {sources / ours_s:,.0f} sources/s against {destinations:,} destinations (numpy brute force {sources / numpy_s:,.0f}/s)")
    return {
        "metrics": {"candidates_per_s": sources / ours_s, "candidates_vs_numpy_brute_force": numpy_s / ours_s},
        "measurements": {
            "sources": sources,
            "destinations": destinations,
            "k": CANDIDATES_K,
            "dim": CANDIDATE_DIM,
            "index_seconds": timings["index"],
            "numpy_seconds": timings["numpy"],
            "seconds_for_1m_sources": 1_000_000 / (sources / ours_s),
        },
    }
