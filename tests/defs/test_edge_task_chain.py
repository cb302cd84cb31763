"""The edge task demos in Dagster: a new partition with no model file trains its model in the run,
embeds every node layer-wise, and edge_predictions scores every supervision edge, publishes it by
original src and dst ids and beats its trivial baseline on the withheld edge labels."""

from __future__ import annotations

import pytest
from dagster import AssetKey

from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.lib.common import add_job_partitions
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import execution_events, make_deployment


@pytest.mark.slow
@pytest.mark.parametrize("task, edge_type, metric", [
    ("demo_edge_regression", "user-buys-item", "rmse"), ("demo_edge_classification", "paper-cites-paper", "accuracy"),
])  # fmt: skip
def test_a_new_partition_trains_and_publishes_a_prediction_per_edge(tmp_path, task, edge_type, metric):
    deployment = make_deployment(tmp_path, tasks=(task,))
    defs = deployment.definitions()
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance).success
    add_job_partitions(deployment.instance, task, ["first"])
    frozen = freeze_task_config(load_task_config(str(deployment.template(task))), deployment.resources, "first")
    result = defs.resolve_job_def(f"{task}_inference").execute_in_process(instance=deployment.instance, partition_key="first", raise_on_error=False)
    assert result.success
    materialized = {e.asset_key.path[1] for e in execution_events(result, "ASSET_MATERIALIZATION")}
    assert materialized == {"frozen_config", "trained_model", "raw_embeddings", "embeddings", "edge_predictions"}
    checks = {
        (e.asset_check_evaluation_data.asset_key.path[1], e.asset_check_evaluation_data.check_name): e.asset_check_evaluation_data.passed
        for e in execution_events(result, "ASSET_CHECK_EVALUATION")
    }
    assert {("edge_predictions", "every_edge_predicted"), ("edge_predictions", "model_beats_baseline")} <= set(checks) and all(checks.values()), checks
    assert ("embeddings", "model_beats_baseline") not in checks  # an edge task is judged on its edges
    event = deployment.instance.get_latest_materialization_event(AssetKey([task, "edge_predictions"])).asset_materialization
    meta = {k: v.value for k, v in event.metadata.items()}
    assert f"held_out_{metric} ({edge_type})" in meta and f"baseline_{metric} ({edge_type})" in meta
    (table,) = frozen.edge_predictions_tables().values()
    assert meta["dagster/table_name"] == table and open_warehouse(deployment.resources).row_count(table) == meta["dagster/row_count"] > 0
