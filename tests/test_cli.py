"""The commands a user runs, as subprocesses, on the full demo graphs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import template_of, prepare_job, write_local_resources

GNN_ASSETS = [sys.executable, "-m", "gnn_assets.cli"]
INFERENCE = [sys.executable, "-m", "gnn_assets.inference"]


def _run(args, ok=True):
    result = subprocess.run(args, capture_output=True, text=True)
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def _prepare(resources: Path, graph: str, kind: str, task: Path, job: str) -> None:
    r = ["--resource_config_uri", str(resources)]
    _run([*GNN_ASSETS, "demo-graph", *r, "--graph_name", graph, "--kind", kind])
    _run([*GNN_ASSETS, "enumerate", *r, "--graph_name", graph])
    _run([*GNN_ASSETS, "sample", *r, "--task_config_uri", str(task), "--job_name", job])
    _run([*GNN_ASSETS, "init-model", *r, "--task_config_uri", str(task), "--job_name", job])


@pytest.mark.slow
@pytest.mark.parametrize(
    "graph, kind, task, tables",
    [
        ("demo_typed", "typed", "demo_link_prediction", {"demo_link_prediction_cli_job_user_embeddings": 12_000, "demo_link_prediction_cli_job_item_embeddings": 8_000}),
        ("demo_homogeneous", "homogeneous", "demo_node_classification", {"demo_node_classification_cli_job_paper_embeddings": 20_000, "demo_node_classification_cli_job_paper_predictions": 20_000}),
    ],
)
def test_cli_runs_end_to_end_and_reruns_replace_output(tmp_path, graph, kind, task, tables):
    resources = write_local_resources(tmp_path)
    task_uri = template_of(task)
    _prepare(resources, graph, kind, task_uri, "cli-job")
    command = [*INFERENCE, "--job_name", "cli-job", "--task_config_uri", str(task_uri), "--resource_config_uri", str(resources)]
    first = _run(command)
    assert "running Beam job" in first.stdout and "0 nodes without output" in first.stdout
    _run(command)  # the same job again: every row exactly once
    warehouse = open_warehouse(load_resource_config(str(resources)))
    for table, rows in tables.items():
        data = warehouse.read_table(table)
        assert data.num_rows == rows
        assert len(set(data["node_id"].to_pylist())) == rows
    first_table, rows = next(iter(tables.items()))
    assert warehouse.row_count(first_table.replace("_embeddings", "_raw_embeddings")) == rows


def test_cli_fails_with_a_clear_message(tmp_path):
    resources = write_local_resources(tmp_path)
    task_uri = template_of("demo_node_classification")
    base = ["--task_config_uri", str(task_uri), "--resource_config_uri", str(resources)]
    bad_name = _run([*INFERENCE, "--job_name", "Bad_Name", *base], ok=False)
    assert bad_name.returncode == 1 and "error: invalid job name 'Bad_Name'" in bad_name.stderr
    no_model = _run([*INFERENCE, "--job_name", "nothing-yet", *base], ok=False)
    assert no_model.returncode == 1 and "models/demo_node_classification/nothing-yet.pt cannot be read" in no_model.stderr
    assert "Traceback" not in no_model.stderr


@pytest.mark.slow
def test_terminating_the_cli_stops_the_beam_job(tmp_path, small_homogeneous_graph):
    """Dagster stops a run by terminating the Pipes subprocess: the job must stop and report nothing."""
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"inferencerConfig.inferenceBatchSize": 1})
    process = subprocess.Popen(
        [*INFERENCE, "--job_name", job.job_name, "--task_config_uri", job.task_config_uri, "--resource_config_uri", job.resources.uri],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in process.stdout:
        if "running Beam job" in line:
            break
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert not os.path.exists(job.resources.layout.job(job.frozen.task_name, job.job_name).inference_manifest_uri)


def test_apply_changes_writes_the_new_snapshot_and_enumerates_it(tmp_path):
    """A change log from the command line: the graph changes where it lies, and its enumeration
    (with the record of what changed) follows in the same command."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gnn_assets.graph.change_record import change_chain
    from gnn_assets.graph.enumerated_layout import enumeration_id

    resources_uri = write_local_resources(tmp_path)
    r = ["--resource_config_uri", str(resources_uri), "--graph_name", "g"]
    _run([*GNN_ASSETS, "demo-graph", *r, "--kind", "homogeneous", "--num_nodes", "300"])
    _run([*GNN_ASSETS, "enumerate", *r])
    layout = load_resource_config(str(resources_uri)).layout
    before = enumeration_id(layout.enumerated_graph_dir("g"))
    first = pq.read_table(os.path.join(layout.graph_source_dir("g"), "nodes.parquet"))
    changes = tmp_path / "changes"
    changes.mkdir()
    victim = first["node_id"][0].as_py()
    pq.write_table(pa.table({"node_id": [victim], "node_type": ["paper"], "op": ["remove"]}), changes / "nodes.parquet")
    applied = _run([*GNN_ASSETS, "apply-changes", *r, "--changes", str(changes)])
    assert "nodes +0 -1 ~0" in applied.stdout and "299 nodes" in applied.stdout and "enumerated g" in applied.stdout
    (record,) = change_chain(layout.enumerated_graph_dir("g"), before)
    assert record.from_id == before
    refused = _run([*GNN_ASSETS, "apply-changes", *r, "--changes", str(changes)], ok=False)  # the same log again: the node is gone
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "nodes to remove or update are not in the graph" in refused.stderr
