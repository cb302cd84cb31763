"""The node regression demo task in Dagster: a new partition with no model file trains its model
in the run, publishes a value per item, and its held-out RMSE beats predicting the mean (the
margin model_beats_baseline states) in numbers Dagster can plot."""

from __future__ import annotations

import pytest
from dagster import AssetKey

from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.lib.common import add_job_partitions
from gnn_assets.training.evaluation import REGRESSION_MARGIN
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import execution_events, make_deployment

TASK = "demo_node_regression"


@pytest.mark.slow
def test_a_new_partition_trains_publishes_values_and_beats_the_mean(tmp_path):
    deployment = make_deployment(tmp_path, tasks=(TASK,))
    defs = deployment.definitions()
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance).success
    add_job_partitions(deployment.instance, TASK, ["first"])
    frozen = freeze_task_config(load_task_config(str(deployment.template(TASK))), deployment.resources, "first")
    result = defs.resolve_job_def(f"{TASK}_inference").execute_in_process(instance=deployment.instance, partition_key="first", raise_on_error=False)
    assert result.success
    materialized = {e.asset_key.path[1] for e in execution_events(result, "ASSET_MATERIALIZATION")}
    assert materialized == {"frozen_config", "trained_model", "raw_embeddings", "embeddings", "predictions"}
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed for e in execution_events(result, "ASSET_CHECK_EVALUATION")}
    assert "model_beats_baseline" in checks and all(checks.values()), checks

    predictions = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "predictions"])).asset_materialization
    meta = {k: v.value for k, v in predictions.metadata.items()}
    assert meta["held_out_rmse (item)"] < REGRESSION_MARGIN * meta["baseline_rmse (item)"] and meta["held_out_r2 (item)"] > 0.6
    assert [c.type for c in meta["dagster/column_schema"].columns] == ["string", "float64"]
    table = open_warehouse(deployment.resources).read_table(frozen.output_tables("item")["predictions"])
    assert table.num_rows == 8_000 and str(table.schema.field("pred").type) == "double"
    trained = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "trained_model"])).asset_materialization
    assert "validation_r2" in trained.metadata
