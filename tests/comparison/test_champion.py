"""A job that names a champion runs both models on one read of its input: each sample shard is
opened once, its own output equals the single-model run's, the champion's equals the champion
job's own output on the same samples, and the Beam metrics show each model apart. Layer-wise jobs
run the champion layer-wise too. Champions that cannot run are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from gnn_assets import storage
from gnn_assets.comparison.drift import aligned
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.task_config import freeze_task_config, load_task_config, write_frozen_config
from gnn_assets.graph.sampler import sample_job
from gnn_assets.jobs import driver
from gnn_assets.outputs.published import read_committed
from gnn_assets.inference.task_specs import write_untrained_model
from tests.support.deployments import prepare_job, write_task_config

FULL = {"gnnAssetsConfig.sampler.fanout": [-1, -1], "inferencerConfig.inferenceBatchSize": 64}
TASK = "demo_node_classification"


def _run(job, job_name: str):
    return driver.run(job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None).job


def _add_job(job, job_name: str, model_seed: int, sampled: bool = True) -> None:
    frozen = freeze_task_config(load_task_config(job.task_config_uri), job.resources, job_name)
    write_frozen_config(frozen)
    if sampled:
        sample_job(frozen, job.resources, progress=lambda _: None)
    write_untrained_model(frozen, model_seed, job.resources.model_policy)


def _same(files_a, files_b, value="emb", tolerance=1e-6) -> int:
    ids, a, b = aligned(files_a, files_b, value)
    if value == "emb":
        assert np.abs(a - b).max() < tolerance
    else:
        assert np.array_equal(a, b)
    return len(ids)


@pytest.mark.slow
def test_ab_job_reads_once_and_equals_single_model_runs(tmp_path, small_homogeneous_graph, monkeypatch):
    job = prepare_job(tmp_path, TASK, small_homogeneous_graph, job_name="champ", model_seed=1, **FULL)
    champ = _run(job, "champ")
    _add_job(job, "chall", model_seed=0)
    single = _run(job, "chall")
    assert not single.champion and not single.champion_outputs
    single_files = {k: list(v) for k, v in single.outputs["paper"].files.items()}
    kept = {k: [storage.read_bytes(f) for f in v] for k, v in single_files.items()}

    write_task_config(tmp_path, tmp_path / f"{TASK}.yaml", **{"gnnAssetsConfig.champion": "champ"})
    opened: dict[str, int] = {}
    real_open = storage.open_read

    def counting_open(uri, *args, **kwargs):
        if uri.endswith(".tfrecord"):
            opened[uri] = opened.get(uri, 0) + 1
        return real_open(uri, *args, **kwargs)

    monkeypatch.setattr(storage, "open_read", counting_open)
    ab = _run(job, "chall")
    monkeypatch.undo()

    frozen = load_task_config(job.resources.layout.job(TASK, "chall").frozen_config_uri)
    shards = [shard for prefix in frozen.sample_prefixes("paper") for shard in storage.glob(prefix + "*.tfrecord")]
    assert sorted(opened) == sorted(shards) and set(opened.values()) == {1}  # every shard opened once, for both models
    assert ab.champion["job_name"] == "champ" and ab.champion["model_sha256"] == champ.model_sha256
    ours, theirs = ab.outputs["paper"], ab.champion_outputs["paper"]
    assert ours.samples == theirs.samples == single.outputs["paper"].samples == len(small_homogeneous_graph.nodes)
    # Each model's Beam metrics apart.
    assert ab.metrics["gnn_assets.paper/embeddings_rows_written"] == ab.metrics["gnn_assets.paper.champion/embeddings_rows_written"] == ours.samples
    assert ab.metrics["gnn_assets.paper.champion/num_inferences"] > 0

    # The job's own output equals the single-model run's (kept from before it was superseded) ...
    for kind, contents in kept.items():
        again = [storage.join(str(tmp_path), f"single-{kind}-{i}.parquet") for i in range(len(contents))]
        for uri, data in zip(again, contents):
            storage.write_bytes(uri, data)
        assert _same(again, ours.files[kind], "emb" if kind == "embeddings" else "pred") == ours.samples
    # ... and the champion's equals the champion job's own run over the same samples.
    assert _same(champ.outputs["paper"].files["embeddings"], theirs.files["embeddings"]) == ours.samples
    assert _same(champ.outputs["paper"].files["predictions"], theirs.files["predictions"], "pred") == ours.samples
    manifest = read_committed(job.resources.layout.job(TASK, "chall"))
    assert manifest.champion == ab.champion and manifest.champion_outputs["paper"].files == theirs.files


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["LOCAL", "BEAM"])
def test_layerwise_job_runs_its_champion_layerwise(tmp_path, small_typed_graph, engine):
    layerwise = {"gnnAssetsConfig.inferenceMode": "LAYERWISE", "gnnAssetsConfig.layerwise": {"engine": engine, "blockNodes": 128}}
    job = prepare_job(tmp_path, "demo_link_prediction", small_typed_graph, job_name="champ", model_seed=1, **layerwise)
    champ = _run(job, "champ")
    write_task_config(tmp_path, tmp_path / "demo_link_prediction.yaml", **layerwise, **{"gnnAssetsConfig.champion": "PREVIOUS"})
    _add_job(job, "chall", model_seed=0, sampled=False)
    ab = _run(job, "chall")
    assert ab.champion["job_name"] == "champ"
    for node_type in ("user", "item"):
        assert _same(champ.outputs[node_type].files["embeddings"], ab.champion_outputs[node_type].files["embeddings"]) > 0
        ids, a, b = aligned(ab.outputs[node_type].files["embeddings"], ab.champion_outputs[node_type].files["embeddings"])
        assert np.abs(a - b).max() > 1e-3  # two different models


@pytest.mark.slow
def test_a_regression_challenger_is_compared_by_the_difference_of_its_values(tmp_path, small_typed_graph):
    """Node regression's champion and challenger: embedding_drift reports the mean absolute
    difference of the two models' predicted values (agreement of equal values would say nothing)."""
    from gnn_assets.comparison.drift import drift_of_run

    layerwise = {"gnnAssetsConfig.layerwise": {"blockNodes": 128}}
    job = prepare_job(tmp_path, "demo_node_regression", small_typed_graph, job_name="champ", model_seed=1, **layerwise)
    _run(job, "champ")
    write_task_config(tmp_path, tmp_path / "demo_node_regression.yaml", **layerwise, **{"gnnAssetsConfig.champion": "PREVIOUS"})
    _add_job(job, "chall", model_seed=0, sampled=False)
    ab = _run(job, "chall")
    frozen = freeze_task_config(load_task_config(job.task_config_uri), job.resources, "chall")
    (drift,) = [d.drift for d in drift_of_run(frozen, job.resources, ab).values()]
    ids, champion, challenger = aligned(ab.champion_outputs["item"].files["predictions"], ab.outputs["item"].files["predictions"], "pred")
    assert drift.prediction_agreement is None and drift.prediction_mean_abs_difference == pytest.approx(np.abs(champion - challenger).mean())
    assert drift.prediction_mean_abs_difference > 0


def test_champion_without_committed_output_is_refused(tmp_path, small_homogeneous_graph):
    job = prepare_job(tmp_path, TASK, small_homogeneous_graph, job_name="chall", **{"gnnAssetsConfig.champion": "never-run"})
    with pytest.raises(ConfigError, match=r"gnnAssetsConfig.champion never-run: job 'never-run' cannot be the champion") as error:
        _run(job, "chall")
    assert "\n" not in str(error.value)
    assert not storage.exists(job.resources.layout.job(TASK, "chall").inference_manifest_uri)  # nothing ran


def test_deployed_and_previous_champions_resolve_from_storage(tmp_path, small_homogeneous_graph):
    from gnn_assets.comparison.champion import resolve_champion
    from gnn_assets.serving.deployment import write_deployment

    job = prepare_job(tmp_path, TASK, small_homogeneous_graph, job_name="champ", **FULL)
    champ = _run(job, "champ")
    template = lambda champion: freeze_task_config(  # noqa: E731
        load_task_config(str(write_task_config(tmp_path, tmp_path / f"{TASK}.yaml", **{"gnnAssetsConfig.champion": champion}))),
        job.resources,
        "chall",
    )
    assert resolve_champion(template("DEPLOYED"), job.resources) is None  # nothing deployed yet
    write_deployment(job.resources.layout, TASK, "champ", champ.model_sha256)
    deployed = resolve_champion(template("DEPLOYED"), job.resources)
    assert (deployed.job_name, deployed.model_sha256) == ("champ", champ.model_sha256)
    previous = resolve_champion(template("PREVIOUS"), job.resources)
    assert previous.job_name == "champ" and previous.config.job_name == "champ"
    assert resolve_champion(freeze_task_config(load_task_config(job.task_config_uri), job.resources, "champ"), job.resources) is None  # not its own
