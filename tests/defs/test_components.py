"""Tasks and graphs as Dagster Components, in temporary projects: `dg scaffold defs` writes a task
that loads and materializes, `dg check yaml` and `dg check defs` point at what is wrong, a new
model file leads through the AutomationConditions to a materialized chain, and the instances'
attributes (automation, freshness, runner overrides, group, owners) reach the assets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from dagster import AssetKey, evaluate_automation_conditions

from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.lib.common import add_job_partitions
from gnn_assets.lib.resources import GnnDeployment
from gnn_assets.training.run import train_model
from tests.support.deployments import TASK, execution_events, make_deployment, template_of

DG = os.path.join(os.path.dirname(sys.executable), "dg")
TASK_TYPE = "gnn_assets.lib.components.GnnTaskComponent"


def _dg(deployment, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DG, *args], cwd=deployment.root, env={**os.environ, **deployment.env()}, capture_output=True, text=True, timeout=300)


def _spec(defs, *path: str):
    key = AssetKey(list(path))
    return next(a.specs_by_key[key] for a in defs.assets if key in a.keys)


def test_dg_lists_the_component_types_with_their_attributes(tmp_path):
    deployment = make_deployment(tmp_path, tasks=())
    listed = _dg(deployment, "list", "components", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    types = {item["key"] for item in json.loads(listed.stdout)["items"]}
    assert {TASK_TYPE, "gnn_assets.lib.components.GnnGraphComponent", "gnn_assets.lib.components.GnnDeploymentComponent"} <= types
    schema = _dg(deployment, "utils", "inspect-component", TASK_TYPE, "--defs-yaml-json-schema")
    attributes = json.loads(schema.stdout)["properties"]["attributes"]
    assert attributes["required"] == ["template"]
    assert {"template", "automation", "freshness", "runner_overrides", "group", "tags", "owners"} <= set(attributes["properties"])


@pytest.mark.slow
def test_a_scaffolded_task_loads_and_materializes_its_chain(tmp_path):
    deployment = make_deployment(tmp_path, tasks=())
    graph = _dg(deployment, "scaffold", "defs", "gnn_assets.lib.components.GnnGraphComponent", "graphs/demo_homogeneous")
    assert graph.returncode == 0, graph.stderr[-2000:]
    assert "graph_name: demo_homogeneous" in (deployment.defs_dir / "graphs" / "demo_homogeneous" / "defs.yaml").read_text()
    scaffolded = _dg(deployment, "scaffold", "defs", TASK_TYPE, "tasks/my_task")
    assert scaffolded.returncode == 0, scaffolded.stderr[-2000:]
    instance_dir = deployment.defs_dir / "tasks" / "my_task"
    assert "template: my_task.yaml" in (instance_dir / "defs.yaml").read_text()
    assert (instance_dir / "my_task.yaml").read_text().startswith("# The GbmlConfig template of task my_task")
    assert _dg(deployment, "check", "yaml").returncode == 0
    checked = _dg(deployment, "check", "defs")
    assert checked.returncode == 0, checked.stderr[-2000:]

    defs = deployment.definitions()
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance).success
    add_job_partitions(deployment.instance, "my_task", ["first"])
    result = defs.resolve_job_def("my_task_inference").execute_in_process(instance=deployment.instance, partition_key="first")
    assert result.success
    materialized = {e.asset_key.path[1] for e in execution_events(result, "ASSET_MATERIALIZATION")}
    assert {"frozen_config", "trained_model", "sampled_subgraphs", "raw_embeddings", "embeddings", "predictions"} <= materialized
    assert _spec(defs, "my_task", "embeddings").freshness_policy.fail_window.to_timedelta() == timedelta(hours=26)


@pytest.mark.slow
def test_a_task_scaffolded_from_each_task_type_loads_and_a_regression_task_materializes(tmp_path):
    """--task-type picks the template, each on a demo graph; the node regression one trains and
    publishes a value per item on a first job."""
    deployment = make_deployment(tmp_path, tasks=())
    for graph in ("demo_typed", "demo_homogeneous"):
        assert _dg(deployment, "scaffold", "defs", "gnn_assets.lib.components.GnnGraphComponent", f"graphs/{graph}").returncode == 0
    kinds = {}
    for task_type in ("node_regression", "edge_classification", "edge_regression", "link_prediction"):
        scaffolded = _dg(deployment, "scaffold", "defs", TASK_TYPE, f"tasks/my_{task_type}", "--task-type", task_type)
        assert scaffolded.returncode == 0, scaffolded.stderr[-2000:]
        kinds[task_type] = load_task_config(str(deployment.defs_dir / "tasks" / f"my_{task_type}" / f"my_{task_type}.yaml")).task_kind.value
    assert kinds == {
        "node_regression": "supervised_node_regression", "edge_classification": "supervised_edge_classification",
        "edge_regression": "supervised_edge_regression", "link_prediction": "node_anchor_based_link_prediction",
    }  # fmt: skip
    refused = _dg(deployment, "scaffold", "defs", TASK_TYPE, "tasks/my_other", "--task-type", "edge_magic")
    assert refused.returncode != 0 and "'edge_regression' or 'link_prediction'" in refused.stdout + refused.stderr
    assert not (deployment.defs_dir / "tasks" / "my_other").exists()
    checked = _dg(deployment, "check", "defs")
    assert checked.returncode == 0, checked.stderr[-2000:]

    defs = deployment.definitions()
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance).success
    add_job_partitions(deployment.instance, "my_node_regression", ["first"])
    result = defs.resolve_job_def("my_node_regression_inference").execute_in_process(instance=deployment.instance, partition_key="first")
    assert result.success
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed for e in execution_events(result, "ASSET_CHECK_EVALUATION")}
    assert checks["model_beats_baseline"], checks


def test_a_wrong_attribute_is_reported_with_its_file_and_line(tmp_path):
    deployment = make_deployment(tmp_path)
    instance = deployment.defs_dir / "tasks" / TASK / "defs.yaml"
    instance.write_text(instance.read_text() + "  automaton: on_new_model\n")
    checked = _dg(deployment, "check", "yaml")
    output = checked.stdout + checked.stderr
    assert checked.returncode != 0
    assert f"tasks/{TASK}/defs.yaml:4" in output and "'automaton' was unexpected" in output
    instance.write_text(instance.read_text().replace("  automaton: on_new_model\n", "  freshness: {fail_window_hours: -1}\n"))
    checked = _dg(deployment, "check", "defs")  # a window's range is judged on loading, naming the field
    assert checked.returncode != 0 and "fail_window_hours" in checked.stdout + checked.stderr
    # A value no schema can tell (a string where a choice is due) fails loading, with the field.
    instance.write_text(instance.read_text().replace("  freshness: {fail_window_hours: -1}\n", "  automation: sometimes\n"))
    checked = _dg(deployment, "check", "defs")
    assert checked.returncode != 0 and "automation" in checked.stdout + checked.stderr


def test_attributes_reach_the_assets_and_bad_runner_overrides_take_only_their_task_out(tmp_path):
    deployment = make_deployment(tmp_path, tasks=())
    deployment.write_task(
        TASK,
        attributes=(
            "  group: papers\n  owners: [team:graph]\n  tags: {tier: gold}\n  automation: none\n"
            "  freshness: {fail_window_hours: 12, warn_window_hours: 6}\n  runner_overrides: {numWorkers: 2}\n"
        ),
    )
    deployment.write_task("demo_link_prediction", attributes="  runner_overrides: {numWorkerz: 2}\n")
    outside = tmp_path.parent / f"{tmp_path.name}_outside.yaml"
    outside.write_text(template_of(TASK).read_text())
    (deployment.defs_dir / "tasks" / "stray").mkdir()
    (deployment.defs_dir / "tasks" / "stray" / "defs.yaml").write_text(f"type: {TASK_TYPE}\nattributes:\n  template: {outside}\n")
    defs = deployment.definitions()
    embeddings = _spec(defs, TASK, "embeddings")
    assert embeddings.group_name == "papers" and embeddings.owners == ["team:graph"] and embeddings.tags["tier"] == "gold"
    assert embeddings.automation_condition is None  # automation: none
    assert embeddings.freshness_policy.warn_window.to_timedelta() == timedelta(hours=6)
    assert _spec(defs, TASK, "deployed_model").group_name == "serving"
    # The inference job still holds the whole chain, wherever its group is.
    assert AssetKey([TASK, "embeddings"]) in defs.resolve_job_def(f"{TASK}_inference").asset_layer.executable_asset_keys
    error = _spec(defs, "invalid_task_configs", "demo_link_prediction").description
    assert "runner overrides" in error and "numWorkerz" in error
    assert "lies outside the project" in _spec(defs, "invalid_task_configs", "stray").description


@pytest.mark.slow
def test_a_new_model_file_leads_to_a_materialized_chain_through_automation(tmp_path):
    """The sensor polls the model location and materializes frozen_config and trained_model; Dagster's
    evaluation of the AutomationConditions then requests the rest of the chain for that job only.
    A new graph source is enumerated by the graph's condition and, with automation on_new_model, the
    chains do not re-run for it."""
    from dagster import build_sensor_context

    deployment = make_deployment(tmp_path)
    defs = deployment.definitions()
    instance = deployment.instance
    assert defs.resolve_job_def("refresh_graphs").execute_in_process(instance=instance).success
    evaluation = evaluate_automation_conditions(defs=defs, instance=instance)
    assert evaluation.total_requested == 0  # nothing new

    frozen = freeze_task_config(load_task_config(str(deployment.template(TASK))), deployment.resources, "from-file")
    train_model(frozen, deployment.resources, progress=lambda _: None)  # a trainer elsewhere drops the file
    sensor = defs.resolve_sensor_def(f"{TASK}_new_trained_model")
    resources = {"deployment": GnnDeployment(resource_config_uri=str(deployment.resource_config))}
    cursor = None
    for _ in range(2):  # a local file is taken once it did not change between two ticks
        with build_sensor_context(instance=instance, cursor=cursor, resources=resources, definitions=defs) as context:
            tick = sensor(context)
        cursor = tick.cursor
    (request,) = tick.run_requests
    add_job_partitions(instance, TASK, ["from-file"])
    intake = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=request.partition_key, asset_selection=request.asset_selection
    )
    assert intake.success

    evaluation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=evaluation.cursor)
    chain = ["sampled_subgraphs", "raw_embeddings", "embeddings", "predictions"]
    for name in chain:
        assert evaluation.get_requested_partitions(AssetKey([TASK, name])) == {"from-file"}, name
    run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key="from-file", asset_selection=[AssetKey([TASK, name]) for name in chain]
    )
    assert run.success
    embeddings = instance.get_latest_materialization_event(AssetKey([TASK, "embeddings"])).asset_materialization
    assert embeddings.partition == "from-file" and embeddings.metadata["dagster/row_count"].value == 20_000
    evaluation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=evaluation.cursor)
    assert evaluation.total_requested == 0  # handled: nothing runs twice

    graph = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[AssetKey(["demo_homogeneous", "graph_source"])]
    )
    assert graph.success
    evaluation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=evaluation.cursor)
    assert evaluation.get_num_requested(AssetKey(["demo_homogeneous", "node_id_mapping"])) == 1
    assert all(evaluation.get_num_requested(AssetKey([TASK, name])) == 0 for name in chain)


@pytest.mark.parametrize(
    "attribute, field",
    [
        ("freshness: {fail_window_hours: .inf}", "fail_window_hours"),
        ("freshness: {fail_window_hours: 1e300}", "fail_window_hours"),
        ("freshness: {fail_window_hours: 1e-9}", "fail_window_hours"),
        ("freshness: {fail_window_hours: a day}", "fail_window_hours"),
        ("freshness: {fail_window_hours: 26, warn_window_hours: .nan}", "warn_window_hours"),
        ("tags: {gnn_assets/role: graph}", "gnn_assets/role"),
    ],
)
def test_values_no_window_or_project_tag_can_be_are_refused_naming_the_field(tmp_path, attribute, field):
    """Before: windows of .inf, 1e300 or 1e-9 hours took the location down naming no field; a
    user tag gnn_assets/role: graph on a task made refresh_graphs fail every run."""
    deployment = make_deployment(tmp_path)
    instance = deployment.defs_dir / "tasks" / TASK / "defs.yaml"
    instance.write_text(instance.read_text() + f"  {attribute}\n")
    with pytest.raises(Exception) as refused:
        deployment.definitions()
    chain, error = [], refused.value
    while error is not None:  # Dagster's loader wraps the validation error it met
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    assert field in " ".join(chain)


def test_scaffolding_outside_the_project_or_under_a_bad_name_is_refused_and_leaves_no_folder(tmp_path):
    """Before: `dg scaffold defs ... tasks/x/../../../../../escape` wrote outside the project, and
    refused names left empty folders behind."""
    deployment = make_deployment(tmp_path, tasks=())
    escaped = _dg(deployment, "scaffold", "defs", TASK_TYPE, "tasks/x/../../../../../escape")
    assert escaped.returncode != 0
    assert not list(tmp_path.rglob("escape")) and not (tmp_path.parent / "escape").exists()
    for bad in ("tasks/My-Task", "graphs/9lives"):
        kind = TASK_TYPE if bad.startswith("tasks") else "gnn_assets.lib.components.GnnGraphComponent"
        refused = _dg(deployment, "scaffold", "defs", kind, bad)
        assert refused.returncode != 0 and "must match [a-z][a-z0-9_]*" in refused.stdout + refused.stderr
        assert not (deployment.defs_dir / bad).exists()
