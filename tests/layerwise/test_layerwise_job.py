"""inferenceMode LAYERWISE through the CLI's code path: exact against PyG's full-graph forward and
against the sampled job with full neighbourhoods on the same job; spills when the budget is
small; refuses an unsplittable model before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gnn_assets import storage
from gnn_assets.graph.feature_rows import feature_rows_uri
from gnn_assets.jobs import driver
from gnn_assets.outputs.published import read_committed, read_output_files
from gnn_assets.layerwise.split import UnsplittableModel
from tests.support.deployments import prepare_job, write_task_config
from tests.support.exactness import FULL, assert_matches_full_graph_forward, assert_matches_hetero_full_graph_forward, final_rows

LAYERWISE = {"gnnAssetsConfig.inferenceMode": "LAYERWISE"}


def _run(job):
    return driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)


def _rewrite_template(job, base: str, **overrides) -> None:
    """The job's template, in place (same task, same job name), with other fields."""
    write_task_config(Path(job.task_config_uri).parent, base, **overrides)


@pytest.mark.slow
def test_layerwise_equals_the_sampled_job_with_full_neighbourhoods_and_the_full_graph_forward(tmp_path, small_homogeneous_graph):
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **FULL)
    _run(job)
    sampled = final_rows(job, "paper"), final_rows(job, "paper", "predictions")

    _rewrite_template(job, "demo_node_classification", **FULL, **LAYERWISE)
    run = _run(job)
    assert run.job.mode == "LAYERWISE" and run.job.details["layers"] == 2
    assert read_committed(job.resources.layout.job(job.frozen.task_name, job.job_name)).run_id == run.job.run_id
    embeddings = assert_matches_full_graph_forward(job, small_homogeneous_graph, predictions=True)
    assert embeddings.keys() == sampled[0].keys()
    got = np.array(list(embeddings.values()), dtype=np.float32)
    from_samples = np.array([sampled[0][n] for n in embeddings], dtype=np.float32)
    assert np.abs(got - from_samples).max() < 1e-4
    assert final_rows(job, "paper", "predictions") == sampled[1]


@pytest.mark.slow
def test_layerwise_heterogeneous_link_prediction_matches_full_graph_forward(tmp_path, small_typed_graph):
    job = prepare_job(tmp_path, "demo_link_prediction", small_typed_graph, **LAYERWISE)
    _run(job)
    assert_matches_hetero_full_graph_forward(job, small_typed_graph, ["user", "item"])


@pytest.mark.slow
@pytest.mark.parametrize("outgrow_page_cache", [False, True])
def test_a_budget_below_the_states_spills_and_stays_exact(tmp_path, small_homogeneous_graph, monkeypatch, outgrow_page_cache):
    """Spilled states that fit in the page cache are gathered by chunk; states that outgrow it
    (here: said to) are streamed to the GraphSAGE layers in passes. Both equal the job in memory."""
    monkeypatch.setattr("gnn_assets.layerwise.local.states_outgrow_page_cache", lambda states, budget: outgrow_page_cache)
    job = prepare_job(
        tmp_path, "demo_node_classification", small_homogeneous_graph,
        **LAYERWISE, **{"gnnAssetsConfig.layerwise.memoryBudgetMb": 1, "inferencerConfig.inferencerArgs.hid_dim": "256"},
    )
    run = _run(job)
    details = run.job.details
    assert details["spilled"] and details["states_bytes"] > details["budget_bytes"] == 1 << 20
    assert details["spill_bytes"] >= details["states_bytes"] and max(s["chunks"] for s in details["stages"]) > 1
    assert (max(s["streamed_passes"] for s in details["stages"]) > 0) == outgrow_page_cache
    run_dir = job.resources.layout.job(job.frozen.task_name, job.job_name).inference_run_dir(run.job.run_id)
    assert not storage.exists(storage.join(run_dir, "layerwise_states"))  # the spill files are gone
    assert storage.exists(storage.join(job.resources.layout.enumerated_graph_dir(job.frozen.graph_name), "csr", "paper-cites-paper", "sources.npy"))

    assert_matches_full_graph_forward(job, small_homogeneous_graph)
    layout = job.resources.layout.job(job.frozen.task_name, job.job_name)
    spilled = {k: read_output_files(read_committed(layout).outputs["paper"].files[k], v) for k, v in (("embeddings", "emb"), ("predictions", "pred"))}

    def assert_same_as_spilled():
        for kind, value in (("embeddings", "emb"), ("predictions", "pred")):
            ids, values = read_output_files(read_committed(layout).outputs["paper"].files[kind], value)
            np.testing.assert_array_equal(ids, spilled[kind][0])
            np.testing.assert_allclose(values, spilled[kind][1], rtol=0, atol=1e-6)

    # The same job with the budget it picks itself: states in memory, the same numbers.
    _rewrite_template(job, "demo_node_classification", **LAYERWISE, **{"inferencerConfig.inferencerArgs.hid_dim": "256"})
    assert not _run(job).job.details["spilled"]
    assert_same_as_spilled()
    # An enumeration without feature rows to map (made before them): the nodes file is read instead.
    os.remove(feature_rows_uri(job.resources.layout.enumerated_graph_dir(job.frozen.graph_name), "paper"))
    _run(job)
    assert_same_as_spilled()


@pytest.mark.slow
def test_a_model_that_cannot_be_split_is_refused_before_the_job(tmp_path, small_homogeneous_graph, capsys):
    job = prepare_job(
        tmp_path, "demo_node_classification", small_homogeneous_graph, allowed_class_prefixes=["gnn_assets.", "tests."],
        **LAYERWISE, **{"inferencerConfig.inferencerClsPath": "tests.support.models.UnsplittableTaskSpec"},
    )
    code = driver.main(
        ["--job_name", job.job_name, "--task_config_uri", job.task_config_uri, "--resource_config_uri", job.resources.uri]
    )
    error = capsys.readouterr().err.strip()
    assert code == 1 and error.count("\n") == 0
    assert "_CentredSage" in error and "differs from its own forward on a probe graph" in error
    layout = job.resources.layout.job(job.frozen.task_name, job.job_name)
    assert not storage.exists(layout.inference_manifest_uri) and not storage.glob(storage.join(layout.inference_dir, "runs", "*"))
    with pytest.raises(UnsplittableModel):
        _run(job)


def test_sampling_a_layerwise_task_is_refused_in_one_line(tmp_path, small_homogeneous_graph):
    from gnn_assets.config.errors import ConfigError
    from gnn_assets.graph.sampler import sample_job

    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph)
    _rewrite_template(job, "demo_node_classification", **LAYERWISE)
    from gnn_assets.config.task_config import freeze_task_config, load_task_config

    frozen = freeze_task_config(load_task_config(job.task_config_uri), job.resources, job.job_name)
    with pytest.raises(ConfigError, match="LAYERWISE, which reads the graph itself"):
        sample_job(frozen, job.resources, progress=lambda _: None)
