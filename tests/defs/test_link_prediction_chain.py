"""The link prediction demo chain in Dagster, twice: the second job runs the first one's model
beside its own (champion PREVIOUS) and compares them in embedding_drift; both publish
link_candidates with original ids, and every check passes."""

from __future__ import annotations

import pytest
from dagster import AssetKey

from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.lib.common import add_job_partitions
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import execution_events, make_deployment

TASK = "demo_link_prediction"


@pytest.mark.slow
def test_two_jobs_with_champion_and_link_candidates(tmp_path):
    deployment = make_deployment(tmp_path)
    deployment.write_task(TASK, **{"gnnAssetsConfig.drift": {"sampleNodes": 300}})
    defs = deployment.definitions()
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance).success
    metadata = {}
    for job in ("monday", "tuesday"):
        add_job_partitions(deployment.instance, TASK, [job])
        result = defs.resolve_job_def(f"{TASK}_inference").execute_in_process(instance=deployment.instance, partition_key=job, raise_on_error=False)
        assert result.success, job
        materialized = {e.event_specific_data.materialization.asset_key.path[-1] for e in execution_events(result, "ASSET_MATERIALIZATION")}
        assert {"link_candidates", "embedding_drift", "embeddings"} <= materialized
        checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data for e in execution_events(result, "ASSET_CHECK_EVALUATION")}
        assert checks["k_candidates_per_source"].passed and checks["model_beats_baseline"].passed
        assert all(c.passed for name, c in checks.items() if name != "neighbour_overlap_above_floor"), {n: c.passed for n, c in checks.items()}
        metadata[job] = {
            name: {k: v.value for k, v in deployment.instance.get_latest_materialization_event(AssetKey([TASK, name])).asset_materialization.metadata.items()}
            for name in ("link_candidates", "embedding_drift", "raw_embeddings")
        }
    assert metadata["monday"]["embedding_drift"]["compared"] is False  # the task's first job has no PREVIOUS
    assert metadata["tuesday"]["raw_embeddings"]["champion"]["job_name"] == "monday"
    drift = metadata["tuesday"]["embedding_drift"]
    assert drift["compared"] is True and drift["champion_job"] == "monday"
    assert set(drift["mean_overlap"]) == {"user", "item"}
    candidates = metadata["tuesday"]["link_candidates"]
    assert candidates["k"] == 10 and candidates["held_out_recall"]["user-buys-item"]["count"] > 0
    recall = candidates["held_out_recall"]["user-buys-item"]
    assert recall["value"] > recall["baseline"]  # a trained model ranks held-out purchases above random
    frozen = freeze_task_config(load_task_config(str(deployment.template(TASK))), deployment.resources, "tuesday")
    table = open_warehouse(deployment.resources).read_table(frozen.link_candidates_tables()[("user", "buys", "item")], limit=5).to_pydict()
    assert table["src_node_id"][0].startswith("user_") and table["dst_node_id"][0].startswith("item_")  # original ids
