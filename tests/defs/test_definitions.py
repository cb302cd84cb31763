"""The code location: one broken template leaves the rest loaded, a misspelt graph is flagged,
graphs are told apart, and loading it (or asking the CLI for help) imports no torch or Beam."""

from __future__ import annotations

import subprocess
import sys

import pytest
from dagster import AssetKey

from gnn_assets.config.errors import ConfigError

from tests.support import REPO
from tests.support.deployments import TASK, make_deployment, template_of


def _descriptions(defs) -> dict[tuple[str, ...], str]:
    return {tuple(k.path): a.specs_by_key[k].description for a in defs.assets for k in a.keys}


def test_a_broken_template_leaves_the_others_loaded_and_shows_its_error(tmp_path):
    """Before: one typo in one task config took the whole code location down."""
    deployment = make_deployment(tmp_path)
    text = template_of("demo_link_prediction").read_text().replace("inferenceBatchSize", "inferenceBatchSzie")
    deployment.write_task("broken_task", text=text)
    defs = deployment.definitions()
    descriptions = _descriptions(defs)
    assert (TASK, "embeddings") in descriptions  # the good task is all there
    assert defs.resolve_sensor_def(f"{TASK}_new_trained_model") and defs.resolve_schedule_def(f"{TASK}_daily_refresh")
    error = descriptions[("invalid_task_configs", "broken_task")]
    assert "broken_task.yaml" in error and "inferenceBatchSzie" in error
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(asset_selection=[AssetKey(["invalid_task_configs", "broken_task"])], raise_on_error=False)
    assert not result.success


def test_a_graph_name_without_a_graph_instance_takes_only_its_task_out(tmp_path):
    """Before: a misspelt graphName silently made a new, empty graph and rewired the chain."""
    deployment = make_deployment(tmp_path, tasks=())
    deployment.write_graph("demo_homogeneous")
    text = template_of(TASK).read_text().replace("graphName: demo_homogeneous", "graphName: demo_homogenous")
    deployment.write_task(TASK, text=text, graph=False)
    descriptions = _descriptions(deployment.definitions())
    error = descriptions[("invalid_task_configs", TASK)]
    assert f"{TASK}.yaml" in error and "gnnAssetsConfig.graphName 'demo_homogenous' names no graph instance" in error
    assert "demo_homogeneous" in error  # the graphs there are
    assert ("demo_homogenous", "graph_source") not in descriptions


def test_a_graph_without_a_source_is_flagged(tmp_path):
    deployment = make_deployment(tmp_path, tasks=())
    deployment.write_graph("papers")
    spec = next(a.specs_by_key[k] for a in deployment.definitions().assets for k in a.keys if k == AssetKey(["papers", "graph_source"]))
    assert spec.description.startswith("NO GRAPH SOURCE FOUND for 'papers'") and spec.tags["gnn_assets/graph_source"] == "missing"


def test_graphs_are_told_apart_in_lineage_and_steps_share_one_process(tmp_path):
    """Before: global lineage showed two 'graph_source' nodes in one group that could not be told apart."""
    deployment = make_deployment(tmp_path, tasks=(TASK, "demo_link_prediction"))
    defs = deployment.definitions()
    groups = {tuple(k.path): a.group_names_by_key[k] for a in defs.assets for k in a.keys}
    assert groups[("demo_typed", "graph_source")] == "graph_demo_typed"
    assert groups[("demo_homogeneous", "graph_source")] == "graph_demo_homogeneous"
    # A chain launched from the UI ran each step in a process of its own, each importing torch, PyG and Beam.
    assert defs.resolve_job_def(f"{TASK}_inference").executor_def.name == "in_process"
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "in_process"


def _imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('IMPORTED:' + ' '.join(m for m in ('torch', 'apache_beam', 'torch_geometric') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return set(out.rsplit("IMPORTED:", 1)[1].split())


def test_the_code_location_and_the_cli_start_without_torch_or_beam():
    """Before: loading the code location, `gnn-assets --help` and every config error imported torch,
    PyG and Beam (about 5 s); the assets that use them import them when they run."""
    assert _imported_after("import gnn_assets.definitions") == set()
    assert _imported_after("from gnn_assets import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass") == set()
    bad = "from gnn_assets.jobs import driver\ndriver.main(['--job_name', 'Bad_Name', '--task_config_uri', 'x', '--resource_config_uri', 'y'])"
    assert _imported_after(bad) == set()


def test_a_demo_graph_made_by_the_cli_is_kept_when_graph_source_is_materialized(tmp_path):
    """Before: materializing demo_homogeneous/graph_source silently regenerated a source the CLI had
    made with another --num_nodes."""
    deployment = make_deployment(tmp_path)
    made = subprocess.run(
        [sys.executable, "-m", "gnn_assets.cli", "demo-graph", "--resource_config_uri", str(deployment.resource_config),
         "--graph_name", "demo_homogeneous", "--kind", "homogeneous", "--num_nodes", "500"],
        capture_output=True, text=True,
    )
    assert made.returncode == 0, made.stderr
    result = deployment.definitions().resolve_implicit_global_asset_job_def().execute_in_process(
        instance=deployment.instance, asset_selection=[AssetKey(["demo_homogeneous", "graph_source"])]
    )
    (materialization,) = result.asset_materializations_for_node("demo_homogeneous__graph_source")
    assert materialization.metadata["nodes"].value == 500


def test_two_instances_of_one_task_name_take_out_only_themselves_naming_both_folders(tmp_path):
    """Before: `cp -r tasks/demo_node_classification tasks/my_copy` (the template keeps its file
    name, so its task name) took the code location down with 'Duplicate asset key'."""
    import shutil

    deployment = make_deployment(tmp_path, tasks=(TASK, "demo_link_prediction"))
    shutil.copytree(deployment.defs_dir / "tasks" / TASK, deployment.defs_dir / "tasks" / "my_copy")
    # Two broken instances whose templates share a file name.
    text = template_of("demo_link_prediction").read_text().replace("inferenceBatchSize", "inferenceBatchSzie")
    for folder in ("broken_a", "broken_b"):
        (deployment.defs_dir / "tasks" / folder).mkdir()
        (deployment.defs_dir / "tasks" / folder / "same.yaml").write_text(text)
        (deployment.defs_dir / "tasks" / folder / "defs.yaml").write_text("type: gnn_assets.lib.components.GnnTaskComponent\nattributes:\n  template: same.yaml\n")
    defs = deployment.definitions()
    descriptions = _descriptions(defs)
    assert ("demo_link_prediction", "embeddings") in descriptions  # the other task is all there
    assert defs.resolve_sensor_def("demo_link_prediction_new_trained_model")
    assert (TASK, "embeddings") not in descriptions
    for folder in (TASK, "my_copy"):
        error = descriptions[("invalid_task_configs", folder)]
        assert f"task name {TASK!r} is claimed by 2 instances (tasks/{TASK}, tasks/my_copy)" in error
    assert all("inferenceBatchSzie" in descriptions[("invalid_task_configs", f)] for f in ("broken_a", "broken_b"))


def _bomb(levels: int = 9) -> str:
    """A few hundred bytes of YAML that expand to 9**levels strings through nested aliases."""
    lines = ['    a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"    a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines)


@pytest.mark.parametrize("under", ["tags", "runner_overrides"])
def test_an_alias_bomb_in_an_instance_file_is_refused_in_one_line(tmp_path, under):
    """Before: 700 bytes under `tags` drove `dg check defs` to 3.3 GB and a MemoryError; under
    runner_overrides it spun for minutes."""
    deployment = make_deployment(tmp_path)
    defs_yaml = deployment.defs_dir / "tasks" / TASK / "defs.yaml"
    defs_yaml.write_text(defs_yaml.read_text() + f"  {under}:\n{_bomb()}\n")
    with pytest.raises(ConfigError, match=r"defs\.yaml: expands to more than 100,000 YAML nodes through its aliases") as refused:
        deployment.definitions()
    assert "\n" not in str(refused.value)


def test_a_duplicate_key_or_an_oversized_instance_file_is_refused_naming_the_line(tmp_path):
    """Before: a duplicate `automation:` key silently won; a 60 MB defs.yaml loaded in 83 s."""
    deployment = make_deployment(tmp_path)
    defs_yaml = deployment.defs_dir / "tasks" / TASK / "defs.yaml"
    original = defs_yaml.read_text()
    defs_yaml.write_text(original + "  automation: none\n  automation: on_new_model\n")
    with pytest.raises(ConfigError, match=r"defs\.yaml:5: the key 'automation' is given twice in one mapping"):
        deployment.definitions()
    defs_yaml.write_text(original + "  tags:\n" + "".join(f"    t{i}: '{'v' * 40}'\n" for i in range(8000)))
    with pytest.raises(ConfigError, match=r"bytes; an instance file holds at most 262,144"):
        deployment.definitions()


def test_a_run_of_the_code_location_prints_no_preview_warning_of_what_the_project_uses_knowingly():
    """Before, a run launched from the UI printed Dagster's PreviewWarning for the Pipes reader's
    expected_writer_count (read by Dagster's own handler): the README said those are silenced,
    and the tests, which ignore PreviewWarning everywhere, could not see it. A fresh process with
    every warning shown, as a run worker is, after loading the code location."""
    script = (
        "import gnn_assets.definitions\n"
        "from dagster import AssetCheckSpec, AssetKey, DynamicPartitionsDefinition, PipesTempFileMessageReader\n"
        "PipesTempFileMessageReader().expected_writer_count\n"
        "AssetCheckSpec('c', asset=AssetKey('a'), partitions_def=DynamicPartitionsDefinition(name='p'))\n"
    )
    result = subprocess.run([sys.executable, "-W", "always", "-c", script], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "PreviewWarning" not in result.stderr, result.stderr[-2000:]


def test_the_instances_the_project_writes_show_no_community_dialog_and_no_paused_automation(tmp_path):
    """`make dev` / `make demo`'s instance, written by the Makefile's own rule, and the docker one."""
    import yaml
    from dagster import DagsterInstance

    home = tmp_path / "home"
    made = subprocess.run(["make", f"DAGSTER_HOME={home}", f"{home}/dagster.yaml"], cwd=REPO, capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    instance = DagsterInstance.from_config(str(home))
    assert instance.get_settings("nux") == {"enabled": False}
    assert instance.daemon_cursor_storage.get_cursor_values({"ASSET_DAEMON_PAUSED"}) == {"ASSET_DAEMON_PAUSED": "false"}
    docker = yaml.safe_load((REPO / "docker" / "dagster.yaml").read_text())
    assert docker["nux"] == {"enabled": False}


def test_trained_model_plots_the_figures_a_trainer_reported_and_no_more():
    """A trainer of the user's may report no loss history or validation figure: before, looking
    them up failed the asset."""
    from types import SimpleNamespace

    from gnn_assets.lib.inference.assets import _training_numbers

    ours = SimpleNamespace(history=[{"epoch": 1, "loss": 0.9}, {"epoch": 2, "loss": 0.5}], metrics={"validation_recall@10": 0.4, "validation_random_baseline": 0.01, "validation_edges": 90})
    assert {k: v.value for k, v in _training_numbers(ours).items()} == {"final_training_loss": 0.5, "validation_recall@10": 0.4, "validation_baseline": 0.01}
    assert _training_numbers(SimpleNamespace(history=[], metrics={"score": "good"})) == {}
