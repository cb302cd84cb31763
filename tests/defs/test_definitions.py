"""The code location: one broken template leaves the rest loaded, a misspelt graph is flagged,
graphs are told apart, and loading it (or asking the CLI for help) imports no torch or Beam."""

from __future__ import annotations

import subprocess
import sys

from dagster import AssetKey

from tests.conftest import REPO, TASK, make_deployment, template_of


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
    assert defs.resolve_sensor_def("new_trained_model") and defs.resolve_schedule_def(f"{TASK}_daily_refresh")
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
