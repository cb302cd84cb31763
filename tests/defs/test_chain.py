"""The chain materialized in a temporary instance, and its checks on planted bad data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import duckdb
import pytest
from dagster import AssetCheckKey, AssetKey, AssetSelection, Definitions, define_asset_job

from gnn_assets import storage
from gnn_assets.lib.common import add_job_partitions, job_partitions, partition_job_name
from gnn_assets.config import ConfigError
from gnn_assets.warehouse import open_warehouse
from tests.support import REPO
from tests.support.deployments import PARTITION, TASK, execution_events

CHAIN = ["frozen_config", "trained_model", "sampled_subgraphs", "raw_embeddings", "embeddings", "predictions"]
EMBEDDING_CHECKS = ["one_row_per_node", "all_values_finite", "dimension_matches_model", "every_row_unenumerated"]


def test_definitions_validate_with_the_dagster_cli():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "gnn_assets.definitions"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Validation successful" in result.stderr + result.stdout


def test_definitions_hold_assets_checks_sensor_and_schedules():
    from gnn_assets.definitions import defs

    keys = {tuple(k.path) for k in defs.resolve_all_asset_keys()}
    for graph in ("demo_typed", "demo_homogeneous"):
        assert {(graph, "graph_source"), (graph, "node_id_mapping")} <= keys
    assert {("demo_link_prediction", name) for name in CHAIN if name != "predictions"} <= keys
    assert ("demo_link_prediction", "predictions") not in keys
    assert {("demo_node_classification", name) for name in CHAIN} <= keys
    checks = {(tuple(k.asset_key.path), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert (("demo_node_classification", "raw_embeddings"), "dead_letters_within_threshold") in checks
    assert {(("demo_link_prediction", "embeddings"), name) for name in EMBEDDING_CHECKS} <= checks
    assert defs.resolve_sensor_def(f"{TASK}_new_trained_model")
    assert defs.resolve_schedule_def("demo_link_prediction_daily_refresh").default_status.value == "STOPPED"


def test_partition_keys_must_be_valid_job_names():
    assert partition_job_name("daily-1") == "daily-1"
    with pytest.raises(ConfigError, match=r"partition 'Daily_1': invalid job name .*\[a-z\]"):
        partition_job_name("Daily_1")


def test_chain_materializes_a_new_partition_and_checks_pass(materialized, deployment):
    result, frozen = materialized
    assert result.success
    materialized_keys = {tuple(e.asset_key.path) for e in execution_events(result, "ASSET_MATERIALIZATION")}
    assert materialized_keys == {(TASK, name) for name in CHAIN}
    evaluations = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed for e in execution_events(result, "ASSET_CHECK_EVALUATION")}
    assert evaluations == {name: True for name in [*EMBEDDING_CHECKS, "dead_letters_within_threshold", "model_beats_baseline"]}

    warehouse = open_warehouse(deployment.resources)
    assert warehouse.row_count(frozen.output_tables("paper")["embeddings"]) == 20_000
    assert warehouse.row_count(frozen.output_tables("paper")["predictions"]) == 20_000

    raw = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "raw_embeddings"])).asset_materialization
    assert raw.partition == PARTITION
    meta = {k: v.value for k, v in raw.metadata.items()}
    assert meta["runner"] == "FnApiRunner" and meta["beam_job_id"].startswith("local-")
    assert meta["dead_letters"] == 0 and meta["dagster/row_count"] == 20_000
    assert meta["beam_metrics"]["gnn_assets.paper/num_inferences"] == 20_000

    model = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "trained_model"])).asset_materialization
    assert model.metadata["parameters"].value > 0 and len(model.metadata["sha256"].value) == 64
    assert "trained_here" not in model.metadata  # the file dropped before the run was used, not retrained
    predictions = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "predictions"])).asset_materialization
    quality = predictions.metadata["held_out_quality"].value["paper"]
    assert quality["source"] == "evaluation_labels.parquet" and quality["value"] > quality["baseline"] + 0.3
    # The figures as numbers per node type, which the asset page plots across materializations.
    from dagster import FloatMetadataValue, IntMetadataValue

    assert isinstance(predictions.metadata["held_out_accuracy (paper)"], FloatMetadataValue)
    assert predictions.metadata["held_out_accuracy (paper)"].value == quality["value"]
    assert predictions.metadata["baseline_accuracy (paper)"].value == quality["baseline"]
    assert isinstance(raw.metadata["rows (paper)"], IntMetadataValue) and raw.metadata["rows (paper)"].value == 20_000
    assert predictions.metadata["rows (paper)"].value == 20_000
    assert model.tags["dagster/data_version"] == model.metadata["sha256"].value[:16]

    embeddings = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "embeddings"])).asset_materialization
    lineage = embeddings.metadata["dagster/column_lineage"].value
    assert lineage.deps_by_column["node_id"][0].asset_key == AssetKey(["demo_homogeneous", "node_id_mapping"])
    assert lineage.deps_by_column["emb"][0].asset_key == AssetKey([TASK, "raw_embeddings"])
    assert embeddings.metadata["dagster/table_name"].value == frozen.output_tables("paper")["embeddings"]


def _materialize(deployment, *names):
    defs = deployment.definitions()
    job = define_asset_job("some", selection=AssetSelection.assets(*[AssetKey([TASK, n]) for n in names]), partitions_def=job_partitions(TASK))
    defs = Definitions(assets=defs.assets, asset_checks=defs.asset_checks, jobs=[job], resources=defs.resources)
    return defs.resolve_job_def("some").execute_in_process(instance=deployment.instance, partition_key=PARTITION, raise_on_error=False)


def _failure_messages(result) -> str:
    return " ".join(e.event_specific_data.error.to_string() for e in execution_events(result, "STEP_FAILURE"))


def test_embeddings_alone_without_raw_output_fails_and_keeps_the_tables(materialized, deployment, tmp_path):
    """Before: materializing embeddings alone while the raw output was missing replaced 20,000 rows
    with 0, and the blocking check failed only afterwards."""
    _, frozen = materialized
    inference_dir = deployment.resources.layout.job(TASK, PARTITION).inference_dir
    aside = tmp_path / "inference"
    shutil.move(inference_dir, aside)
    try:
        result = _materialize(deployment, "embeddings", "predictions")
        assert not result.success and "no committed inference output" in _failure_messages(result)
    finally:
        shutil.move(aside, inference_dir)
    warehouse = open_warehouse(deployment.resources)
    assert warehouse.row_count(frozen.output_tables("paper")["embeddings"]) == 20_000


def test_a_frozen_config_rewritten_in_storage_is_refused(materialized, deployment):
    """Before: assets and checks used whatever frozen config was in storage now."""
    _, frozen = materialized
    original = storage.read_text(frozen.uri)
    tampered = original.replace("NodeClassificationTaskSpec", "NodeAnchorBasedLinkPredictionTaskSpec")
    assert tampered != original
    storage.write_text(frozen.uri, tampered)
    try:
        result = _materialize(deployment, "trained_model")
        assert not result.success and "changed since frozen_config recorded it" in _failure_messages(result)
    finally:
        storage.write_text(frozen.uri, original)
    assert _materialize(deployment, "trained_model").success


def _run_checks(deployment, names, asset="embeddings"):
    defs = deployment.definitions()
    checks_only = define_asset_job(
        "checks_only",
        selection=AssetSelection.checks(*[AssetCheckKey(AssetKey([TASK, asset]), name) for name in names]),
        partitions_def=job_partitions(TASK),
    )
    defs = Definitions(assets=defs.assets, asset_checks=defs.asset_checks, jobs=[checks_only], resources=defs.resources)
    # A job of checks alone has no asset to infer its partitions from, so the partition goes in as a tag.
    result = defs.resolve_job_def("checks_only").execute_in_process(
        instance=deployment.instance, tags={"dagster/partition": PARTITION}, raise_on_error=False
    )
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed for e in execution_events(result, "ASSET_CHECK_EVALUATION")}


def test_checks_fail_on_planted_bad_data(materialized, deployment):
    _, frozen = materialized
    table = frozen.output_tables("paper")["embeddings"]
    raw_table = table.replace("_paper_embeddings", "_paper_raw_embeddings")
    assert _run_checks(deployment, EMBEDDING_CHECKS) == {name: True for name in EMBEDDING_CHECKS}
    with duckdb.connect(deployment.resources.duckdb_path) as con:
        ids = [r[0] for r in con.execute(f'SELECT node_id FROM "{table}" ORDER BY node_id LIMIT 3').fetchall()]
        con.execute(f"""UPDATE "{table}" SET emb = list_transform(emb, v -> 'nan'::FLOAT) WHERE node_id = ?""", [ids[0]])
        con.execute(f'DELETE FROM "{table}" WHERE node_id = ?', [ids[1]])
        con.execute(f'UPDATE "{table}" SET emb = emb[1:3] WHERE node_id = ?', [ids[2]])
        # The raw table is a view over the run's files: planted as the same view with one more row.
        (view,) = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [raw_table]).fetchone()
        planted = view.rstrip().rstrip(";").replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1)
        con.execute(f"{planted} UNION ALL SELECT 99999999::BIGINT, [0.0]::FLOAT[]")
    assert _run_checks(deployment, EMBEDDING_CHECKS) == {name: False for name in EMBEDDING_CHECKS}

    manifest_uri = deployment.resources.layout.job(TASK, PARTITION).inference_manifest_uri
    manifest = json.loads(storage.read_text(manifest_uri))
    manifest["outputs"]["paper"]["dead_letters"] = 5
    storage.write_text(manifest_uri, json.dumps(manifest))
    assert _run_checks(deployment, ["dead_letters_within_threshold"], asset="raw_embeddings") == {"dead_letters_within_threshold": False}


def test_a_job_without_a_model_file_or_a_trainer_fails_at_trained_model_in_one_line(tmp_path):
    """Before: the chain sampled every root, then failed at trained_model; now trained_model
    runs first and says both ways to get a model."""
    from tests.support.deployments import make_deployment

    deployment = make_deployment(tmp_path)
    deployment.write_task(TASK, trainerConfig={})
    defs = deployment.definitions()
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance).success
    add_job_partitions(deployment.instance, TASK, ["no-model"])
    result = defs.resolve_job_def(f"{TASK}_inference").execute_in_process(
        instance=deployment.instance, partition_key="no-model", raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in execution_events(result, "STEP_FAILURE"))
    message = failure.event_specific_data.error.cause.message  # the step error wraps ours
    assert "no model file for job 'no-model'" in message and f"sensor {TASK}_new_trained_model" in message and "trainerConfig" in message
    materialized = {e.asset_key.path[1] for e in execution_events(result, "ASSET_MATERIALIZATION")}
    assert "sampled_subgraphs" not in materialized and "trained_model" not in materialized


def test_a_corrupt_model_file_is_refused_not_trained_over(tmp_path):
    from gnn_assets.config.task_config import freeze_task_config, load_task_config
    from tests.support.deployments import make_deployment

    deployment = make_deployment(tmp_path)
    defs = deployment.definitions()
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance).success
    add_job_partitions(deployment.instance, TASK, ["corrupt"])
    frozen = freeze_task_config(load_task_config(str(deployment.template(TASK))), deployment.resources, "corrupt")
    storage.write_bytes(frozen.trained_model_uri, b"not a model")
    result = defs.resolve_job_def(f"{TASK}_inference").execute_in_process(
        instance=deployment.instance, partition_key="corrupt", raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in execution_events(result, "STEP_FAILURE"))
    assert "trained_model" in failure.step_key and "is not a torch.save archive" in failure.event_specific_data.error.cause.message
    assert storage.read_bytes(frozen.trained_model_uri) == b"not a model"  # left as it was for its owner to see
