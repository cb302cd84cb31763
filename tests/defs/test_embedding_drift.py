"""embedding_drift in Dagster: the inference job ran the champion's model on the same samples; a
job whose champion has the same model reports overlap 1.0 and full agreement, a model of another
seed moves the neighbourhoods, and the pictures exist. A job is not its own champion."""

from __future__ import annotations

import pytest
from dagster import AssetKey

from gnn_assets import storage
from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.lib.common import add_job_partitions
from gnn_assets.training.run import train_model
from tests.support.deployments import execution_events, make_deployment

TASK = "demo_node_classification"


@pytest.mark.slow
def test_drift_against_the_champion_job(tmp_path):
    deployment = make_deployment(tmp_path)
    deployment.write_task(TASK, **{"gnnAssetsConfig.champion": "first", "gnnAssetsConfig.drift": {"sampleNodes": 500}})
    defs = deployment.definitions()
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance).success
    template = load_task_config(str(deployment.template(TASK)))
    first = freeze_task_config(template, deployment.resources, "first")
    train_model(first, deployment.resources, progress=lambda _: None)
    model_bytes = storage.read_bytes(first.trained_model_uri)
    # "same" gets the champion's model file; "reseeded" a model trained from another seed.
    same = freeze_task_config(template, deployment.resources, "same")
    storage.write_bytes(same.trained_model_uri, model_bytes)
    deployment.write_task(TASK, **{
        "gnnAssetsConfig.champion": "first", "gnnAssetsConfig.drift": {"sampleNodes": 500}, "trainerConfig.trainerArgs.seed": "5",
    })
    reseeded = freeze_task_config(load_task_config(str(deployment.template(TASK))), deployment.resources, "reseeded")
    train_model(reseeded, deployment.resources, progress=lambda _: None)
    deployment.write_task(TASK, **{"gnnAssetsConfig.champion": "first", "gnnAssetsConfig.drift": {"sampleNodes": 500}})

    drift = {}
    for job in ("first", "same", "reseeded"):
        add_job_partitions(deployment.instance, TASK, [job])
        result = defs.resolve_job_def(f"{TASK}_inference").execute_in_process(instance=deployment.instance, partition_key=job, raise_on_error=False)
        assert result.success, job
        checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data for e in execution_events(result, "ASSET_CHECK_EVALUATION")}
        assert "neighbour_overlap_above_floor" in checks
        event = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "embedding_drift"])).asset_materialization
        assert event.partition == job
        drift[job] = {k: v.value for k, v in event.metadata.items()}
    assert drift["first"]["compared"] is False  # a job is not its own champion
    same_paper = drift["same"]["drift"]["paper"]
    assert same_paper["mean_overlap"] == 1.0 and same_paper["prediction_agreement"] == 1.0 and same_paper["sampled"] == 500
    assert drift["same"]["champion_job"] == "first"
    moved = drift["reseeded"]["drift"]["paper"]
    assert moved["mean_overlap"] < 1.0 and moved["most_changed"][0]["overlap"] <= moved["mean_overlap"]
    assert drift["reseeded"]["mean_overlap (paper)"] == moved["mean_overlap"]  # a number per node type, plotted
    assert all(m["node_id"].startswith("paper_") for m in moved["most_changed"])  # original ids
    for name in ("paper_overlap", "paper_projection"):
        assert storage.read_bytes(drift["reseeded"][f"picture_{name}"])[:4] == b"\x89PNG"

    # PREVIOUS: the task's other job whose output was committed last ("reseeded").
    deployment.write_task(TASK, **{"gnnAssetsConfig.champion": "PREVIOUS", "gnnAssetsConfig.drift": {"sampleNodes": 500}})
    later = freeze_task_config(load_task_config(str(deployment.template(TASK))), deployment.resources, "later")
    storage.write_bytes(later.trained_model_uri, storage.read_bytes(reseeded.trained_model_uri))
    add_job_partitions(deployment.instance, TASK, ["later"])
    defs = deployment.definitions()
    assert defs.resolve_job_def(f"{TASK}_inference").execute_in_process(instance=deployment.instance, partition_key="later").success
    event = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "embedding_drift"])).asset_materialization
    assert event.metadata["champion_job"].value == "reseeded" and event.metadata["mean_overlap"].value["paper"] == 1.0
