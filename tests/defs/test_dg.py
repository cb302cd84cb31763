"""Dagster's project conventions: `dg check defs`, `dg list defs` and `dg launch` find the code
location through [tool.dg] in pyproject.toml (`make dev` runs `dg dev`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from dagster import AssetKey

from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.lib.common import add_job_partitions
from tests.support.deployments import TASK, make_deployment

DG = os.path.join(os.path.dirname(sys.executable), "dg")


def _dg(deployment, *args: str) -> subprocess.CompletedProcess:
    """dg in the deployment's own project folder, as a user runs it in theirs."""
    return subprocess.run([DG, *args], cwd=deployment.root, env={**os.environ, **deployment.env()}, capture_output=True, text=True, timeout=300)


def test_dg_checks_and_lists_the_definitions(tmp_path):
    deployment = make_deployment(tmp_path)
    checked = _dg(deployment, "check", "defs")
    assert checked.returncode == 0 and "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = _dg(deployment, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    keys = {a["asset_key"] for a in json.loads(listed.stdout)["assets"]}
    assert {f"{TASK}/frozen_config", f"{TASK}/embeddings", "demo_homogeneous/graph_source"} <= keys


def test_dg_launch_materializes_a_partition(tmp_path):
    deployment = make_deployment(tmp_path)
    add_job_partitions(deployment.instance, TASK, ["dg-job"])
    launched = _dg(deployment, "launch", "--assets", f"{TASK}/frozen_config", "--partition", "dg-job")
    assert launched.returncode == 0, launched.stderr[-2000:]
    frozen = freeze_task_config(load_task_config(str(deployment.template(TASK))), deployment.resources, "dg-job")
    assert open(frozen.uri).read() == frozen.to_yaml()
    event = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "frozen_config"]))
    assert event.asset_materialization.partition == "dg-job"
    assert event.asset_materialization.metadata["sha256"].value == frozen.sha256
