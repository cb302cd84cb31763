"""The Dagster chain on GCP resources: gs:// storage and BigQuery, both emulated, with the
local Beam runner standing in for Dataflow."""

from __future__ import annotations

import textwrap

import pytest

from gnn_assets.lib.common import add_job_partitions
from gnn_assets import storage
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import BQ_PROJECT, TASK, execution_events, make_deployment

pytestmark = [pytest.mark.gcp, pytest.mark.slow]


def test_chain_materializes_on_gcs_and_bigquery(tmp_path, gcs_emulator, bigquery_emulator):
    bucket = gcs_emulator()
    resource_config = tmp_path / "gcp-emulated.yaml"
    resource_config.write_text(
        textwrap.dedent(
            f"""
            storage: {{root: '{bucket}/gnn', modelRoot: '{bucket}/models'}}
            localRunner: {{runningMode: in_memory}}
            bigquery: {{project: {BQ_PROJECT}, dataset: gnn_chain, labels: {{app: gnn-assets}}}}
            """
        )
    )
    deployment = make_deployment(tmp_path, resource_config=resource_config)
    instance = deployment.instance
    defs = deployment.definitions()

    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=instance).success
    resources = load_resource_config(str(resource_config))
    frozen = freeze_task_config(load_task_config(str(deployment.template(TASK))), resources, "on-gcp")
    assert frozen.trained_model_uri.startswith("gs://")  # no file there: trained_model trains and writes it to GCS
    add_job_partitions(instance, TASK, ["on-gcp"])
    result = defs.resolve_job_def(f"{TASK}_inference").execute_in_process(instance=instance, partition_key="on-gcp")

    assert result.success
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed for e in execution_events(result, "ASSET_CHECK_EVALUATION")}
    assert "model_beats_baseline" in checks and all(checks.values()), checks
    assert storage.exists(frozen.trained_model_uri)
    warehouse = open_warehouse(resources)
    assert warehouse.row_count(frozen.output_tables("paper")["embeddings"]) == 20_000
    assert warehouse.row_count(frozen.output_tables("paper")["predictions"]) == 20_000
