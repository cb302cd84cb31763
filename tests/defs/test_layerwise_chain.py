"""The LAYERWISE demo task in Dagster, on either engine: no samples in its chain, the model trained
in the run (no model file for the job), every check passes."""

from __future__ import annotations

import pytest
from dagster import AssetKey

from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.lib.common import add_job_partitions
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import execution_events, make_deployment

TASK = "demo_node_classification_layerwise"


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["LOCAL", "BEAM"])
def test_layerwise_demo_chain_materializes_without_samples_and_checks_pass(tmp_path, engine):
    deployment = make_deployment(tmp_path, tasks=())
    if engine == "LOCAL":
        deployment.write_task(TASK)
    else:
        deployment.write_task(TASK, **{"gnnAssetsConfig.layerwise": {"engine": "BEAM", "blockNodes": 4096}})
    defs = deployment.definitions()
    keys = {tuple(k.path) for k in defs.resolve_all_asset_keys()}
    assert (TASK, "sampled_subgraphs") not in keys and (TASK, "raw_embeddings") in keys
    raw_deps = defs.resolve_assets_def(AssetKey([TASK, "raw_embeddings"])).asset_deps[AssetKey([TASK, "raw_embeddings"])]
    assert AssetKey(["demo_homogeneous", "node_id_mapping"]) in raw_deps and AssetKey([TASK, "trained_model"]) in raw_deps

    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance).success
    add_job_partitions(deployment.instance, TASK, ["exact-1"])
    frozen = freeze_task_config(load_task_config(str(deployment.template(TASK))), deployment.resources, "exact-1")
    result = defs.resolve_job_def(f"{TASK}_inference").execute_in_process(
        instance=deployment.instance, partition_key="exact-1", raise_on_error=False
    )
    assert result.success
    materialized = {e.asset_key.path[1] for e in execution_events(result, "ASSET_MATERIALIZATION")}
    assert materialized == {"frozen_config", "trained_model", "raw_embeddings", "embeddings", "predictions"}
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed for e in execution_events(result, "ASSET_CHECK_EVALUATION")}
    assert "model_beats_baseline" in checks and all(checks.values()), checks

    raw = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "raw_embeddings"])).asset_materialization
    meta = {k: v.value for k, v in raw.metadata.items()}
    assert meta["inference_mode"] == "LAYERWISE" and meta["layers"] == 2 and meta["device"] == "cpu"
    assert meta["layerwise_engine"] == engine and meta["spill_bytes"] == 0 and meta["dagster/row_count"] == 20_000
    assert meta["chunks"] == 5 if engine == "BEAM" else meta["chunks"] >= 2  # BEAM: blocks of 4,096 of the 20,000 papers
    assert open_warehouse(deployment.resources).row_count(frozen.output_tables("paper")["predictions"]) == 20_000


@pytest.mark.slow
def test_a_new_graph_snapshot_reruns_the_job_incrementally_and_raw_embeddings_say_so(tmp_path):
    """keepStates and incremental.baseJob SELF in the template: the job's second run, after the
    graph changed and was enumerated again, starts from its first run's states."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    deployment = make_deployment(tmp_path, tasks=())
    deployment.write_task(TASK, **{"gnnAssetsConfig.layerwise": {"keepStates": True}, "gnnAssetsConfig.incremental": {"baseJob": "SELF"}})
    defs = deployment.definitions()
    instance = deployment.instance
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=instance).success
    add_job_partitions(instance, TASK, ["daily"])

    def run_chain():
        result = defs.resolve_job_def(f"{TASK}_inference").execute_in_process(instance=instance, partition_key="daily", raise_on_error=False)
        assert result.success
        raw = instance.get_latest_materialization_event(AssetKey([TASK, "raw_embeddings"])).asset_materialization
        return {k: v.value for k, v in raw.metadata.items()}

    first = run_chain()
    assert "incremental_base_job" not in first
    nodes_file = f"{deployment.resources.layout.graph_source_dir('demo_homogeneous')}/nodes.parquet"
    nodes = pq.read_table(nodes_file)
    features = nodes["features"].to_pylist()
    for row in np.random.default_rng(0).choice(nodes.num_rows, 20, replace=False):
        features[row] = [v + 1.0 for v in features[row]]
    pq.write_table(nodes.set_column(nodes.column_names.index("features"), "features", pa.array(features, nodes.schema.field("features").type)), nodes_file)
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=instance).success

    again = run_chain()
    assert again["incremental_base_job"] == "daily" and again["incremental_ran_whole_job"] is False
    assert again["incremental_changes"]["features_changed"] == {"paper": 20}
    assert 20 <= again["incremental_recomputed_per_layer"]["2"]["paper"] < 20_000
    assert again["dagster/row_count"] == 20_000
