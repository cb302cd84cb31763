"""A task's runner overrides (GnnTaskComponent runner_overrides, the CLI's --runner_overrides):
merged into the deployment's runner, replacing lists and maps, validated with the rest."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gnn_assets.config.errors import ConfigError
from gnn_assets.config.resource_config import load_resource_config
from tests.support import REPO
from tests.support.deployments import write_local_resources

GCP = REPO / "resources" / "gcp.yaml"
GCP_ENV = {"GNN_GCS_BUCKET": "b", "GNN_GCP_PROJECT": "p", "GNN_WORKER_IMAGE": "i", "GNN_DATAFLOW_SERVICE_ACCOUNT": "s"}


def test_overrides_refine_the_deployments_runner_and_replace_lists(monkeypatch):
    for name, value in GCP_ENV.items():
        monkeypatch.setenv(name, value)
    base = load_resource_config(str(GCP)).proto.dataflow_runner
    runner = load_resource_config(str(GCP), {"maxNumWorkers": 200, "experiments": ["use_runner_v2", "x"], "labels": {"team": "g"}}).proto.dataflow_runner
    assert runner.max_num_workers == 200 and base.max_num_workers == 64
    assert list(runner.experiments) == ["use_runner_v2", "x"] and dict(runner.labels) == {"team": "g"}
    assert runner.machine_type == base.machine_type  # what is not overridden stays


def test_overrides_are_validated_like_the_file(tmp_path):
    uri = str(write_local_resources(tmp_path))
    assert load_resource_config(uri, {"numWorkers": 3}).proto.local_runner.num_workers == 3
    with pytest.raises(ConfigError, match="runningMode: 'fast' is not one of"):
        load_resource_config(uri, {"runningMode": "fast"})
    with pytest.raises(ConfigError, match="with runner overrides.*no field named \"project\""):
        load_resource_config(uri, {"project": "p"})  # a dataflowRunner field: it cannot switch the runner


def test_the_cli_refuses_overrides_that_are_not_a_json_object():
    result = subprocess.run(
        [sys.executable, "-m", "gnn_assets.inference", "--job_name", "j", "--task_config_uri", "t", "--resource_config_uri", "r",
         "--runner_overrides", "[1]"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode == 2 and "--runner_overrides: not a JSON object" in result.stderr


def test_the_cli_refuses_deeply_nested_overrides_in_one_line():
    """Before: --runner_overrides nested 500 deep ended in a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "gnn_assets.inference", "--job_name", "j", "--task_config_uri", "t", "--resource_config_uri", "r",
         "--runner_overrides", '{"labels": ' + "[" * 500 + "]" * 500 + "}"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode == 2 and "--runner_overrides: nested more than 8 deep" in result.stderr
    assert "Traceback" not in result.stderr
