"""Incremental exact inference on both layer-wise engines (LOCAL, BEAM): after a graph change, a job that
starts from a base job's kept states and recomputes only what the change can reach publishes the
same tables as a whole job on the new graph (1e-4, predictions equal), and recomputes fewer
nodes than the graph has. A base it cannot start from is refused in one line, nothing written."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from gnn_assets import storage
from gnn_assets.config import tables
from gnn_assets.config.task_config import freeze_task_config, load_task_config, write_frozen_config
from gnn_assets.graph.enumeration import enumerate_graph_source
from gnn_assets.graph.source import GraphSource, write_graph_source
from gnn_assets.incremental.errors import IncrementalRefused
from gnn_assets.jobs import driver
from gnn_assets.jobs.unenumerate import load_node_id_mappings
from gnn_assets.warehouse import open_warehouse
from tests.support.change_logs import changed, write_change_log
from tests.support.deployments import prepare_job, write_task_config
from tests.support.exactness import final_rows
from tests.support.models import SPECS

pytestmark = pytest.mark.slow


def _typed_changed(source: GraphSource) -> GraphSource:
    """The typed demo graph after every kind of change at once, each edge between nodes of its types."""
    rng = np.random.default_rng(11)
    nodes, edges = source.nodes, source.edges
    features = nodes["features"].to_pylist()
    for row in rng.choice(nodes.num_rows, 4, replace=False):
        features[row] = [v - 0.5 for v in features[row]]
    nodes = nodes.set_column(nodes.column_names.index("features"), "features", pa.array(features, nodes.schema.field("features").type))
    keep = np.ones(edges.num_rows, dtype=bool)
    keep[rng.choice(edges.num_rows, 6, replace=False)] = False
    by_type = {t: [n for n, k in zip(nodes["node_id"].to_pylist(), nodes["node_type"].to_pylist()) if k == t] for t in ("user", "item")}
    moved = edges.take(pa.array(rng.choice(edges.num_rows, 4, replace=False))).to_pylist()
    for edge in moved:  # an edge of the same type to another node
        edge["dst"] = by_type[edge["dst_type"]][int(rng.integers(len(by_type[edge["dst_type"]])))]
    gone = {by_type["user"][3], by_type["item"][5]}
    new_node = {**nodes.slice(0, 1).to_pylist()[0], "node_id": "user_new"}
    to_new = {**edges.filter(pa.compute.equal(edges["dst_type"], "user")).slice(0, 1).to_pylist()[0], "dst": "user_new"}
    edges = pa.concat_tables([edges.filter(pa.array(keep)), pa.Table.from_pylist([*moved, to_new], schema=edges.schema)])
    edges = edges.filter(pa.array([s not in gone and d not in gone for s, d in zip(edges["src"].to_pylist(), edges["dst"].to_pylist())]))
    nodes = pa.concat_tables([nodes.filter(pa.array([n not in gone for n in nodes["node_id"].to_pylist()])), pa.Table.from_pylist([new_node], schema=nodes.schema)])
    return GraphSource(source.metadata, nodes, edges)


def _reenumerate(job, source: GraphSource) -> None:
    layout, graph = job.resources.layout, job.frozen.graph_name
    write_graph_source(layout.graph_source_dir(graph), source)
    report = enumerate_graph_source(layout, graph)
    load_node_id_mappings(open_warehouse(job.resources), job.resources, graph, list(report.nodes))


def _run_job(job, job_name: str, **overrides):
    """Another job of the same task, on the same model file as the base."""
    write_task_config(Path(job.task_config_uri).parent, job.template, **{**job.overrides, **overrides})
    frozen = freeze_task_config(load_task_config(job.task_config_uri), job.resources, job_name)
    write_frozen_config(frozen)
    storage.write_bytes(frozen.trained_model_uri, storage.read_bytes(job.frozen.trained_model_uri))
    run = driver.run(job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    return run, frozen


def _base_job(tmp_path, graph, kind: str, template: str = "demo_node_classification", storage_root: str = "data", bigquery_dataset=None, **extra):
    overrides = {"gnnAssetsConfig.inferenceMode": "LAYERWISE", "gnnAssetsConfig.layerwise.keepStates": True, **extra}
    if kind in SPECS:
        overrides["inferencerConfig.inferencerClsPath"] = SPECS[kind]
    job = prepare_job(
        tmp_path, template, graph, job_name="base", allowed_class_prefixes=["gnn_assets.", "tests."], storage_root=storage_root,
        bigquery_dataset=bigquery_dataset, **overrides,
    )  # fmt: skip
    job.overrides, job.template = overrides, template
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    return job


def _rows(job, frozen, node_type="paper"):
    view = SimpleNamespace(resources=job.resources, frozen=frozen)  # final_rows reads a job's tables
    return final_rows(view, node_type), final_rows(view, node_type, "predictions")


# Engine BEAM in pieces of a few dozen nodes and blocks of 96 (the small graph has several).
ON_BEAM = {"gnnAssetsConfig.layerwise.engine": "BEAM", "gnnAssetsConfig.layerwise.blockNodes": 96, "gnnAssetsConfig.layerwise.pieceKb": 4}


def _assert_incremental_equals_full(tmp_path, graph, kind: str, change: str, base_overrides: dict | None = None, **overrides) -> dict:
    job = _base_job(tmp_path, graph, kind, **(base_overrides or {}))
    _reenumerate(job, changed(graph, change))
    incremental, inc_frozen = _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base", **overrides})
    full, full_frozen = _run_job(job, "full")
    details = incremental.job.details["incremental"]
    assert details["base_job"] == "base" and not details["ran_whole_job"], details
    (inc_emb, inc_pred), (full_emb, full_pred) = _rows(job, inc_frozen), _rows(job, full_frozen)
    assert inc_emb.keys() == full_emb.keys()
    ids = sorted(full_emb)
    difference = np.abs(np.array([inc_emb[n] for n in ids]) - np.array([full_emb[n] for n in ids])).max()
    assert difference < 1e-4, (kind, change, difference)
    assert [inc_pred[n] for n in ids] == [full_pred[n] for n in ids]
    recomputed = details["recomputed_per_stage"]
    assert max(sum(v.values()) for v in recomputed.values()) < len(ids)
    return details


@pytest.mark.parametrize("change", ["features", "add_edges", "remove_edges", "add_nodes", "remove_nodes", "all"])
def test_incremental_graphsage_equals_a_full_job_after_each_change(tmp_path, small_homogeneous_graph, change):
    details = _assert_incremental_equals_full(tmp_path, small_homogeneous_graph, "sage_mean", change)
    if change == "features":
        assert details["features_changed"] == {"paper": 4} and details["edges_added"] == {"paper-cites-paper": 0}
    if change == "add_nodes":
        assert details["nodes_added"] == {"paper": 2}


def test_raw_embeddings_of_an_incremental_job_report_its_base_changes_and_recomputed_nodes(tmp_path, small_homogeneous_graph):
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    _reenumerate(job, changed(small_homogeneous_graph, "features"))
    run, _ = _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "PREVIOUS"})
    metadata = driver.materialization_metadata(run)
    assert metadata["incremental_base_job"]["raw_value"] == "base"
    assert metadata["incremental_ran_whole_job"]["raw_value"] is False
    assert metadata["incremental_changes"]["raw_value"]["features_changed"] == {"paper": 4}
    per_layer = metadata["incremental_recomputed_per_layer"]["raw_value"]
    assert per_layer["0"] == {"paper": 4} and 4 < per_layer["2"]["paper"] < small_homogeneous_graph.nodes.num_rows
    assert metadata["incremental_seconds_vs_base"]["type"] == "float"


@pytest.mark.parametrize("kind, change", [("sage_max", "all"), ("gin", "all"), ("gat", "all"), ("gcn", "remove_edges"), ("gcn", "add_nodes")])
def test_incremental_equals_a_full_job_for_other_convolutions(tmp_path, small_homogeneous_graph, kind, change):
    # GCN's normalization reaches every out-neighbour of a node whose degree changed, at every
    # layer: on this small graph that is most of it, so the share limit is lifted to test exactness.
    _assert_incremental_equals_full(tmp_path, small_homogeneous_graph, kind, change, **{"gnnAssetsConfig.incremental.maxAffectedFraction": 1.0})


@pytest.mark.parametrize("engine", ["LOCAL", "BEAM"])
@pytest.mark.parametrize("kind", ["hetero_graphsage", "to_hetero"])
def test_incremental_heterogeneous_models_equal_a_full_job(tmp_path, small_typed_graph, kind, engine):
    job = _base_job(tmp_path, small_typed_graph, kind, "demo_link_prediction", **(ON_BEAM if engine == "BEAM" else {}))
    if kind == "to_hetero":  # the base again, with the to_hetero layers
        job.overrides["inferencerConfig.inferencerClsPath"] = "tests.support.models.ToHeteroSpec"
        _run_job(job, "base")
    _reenumerate(job, _typed_changed(small_typed_graph))
    incremental, inc_frozen = _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base",
                                                            "gnnAssetsConfig.incremental.maxAffectedFraction": 1.0})
    _, full_frozen = _run_job(job, "full")
    details = incremental.job.details["incremental"]
    assert incremental.job.details["engine"] == engine and not details["ran_whole_job"]
    assert details["nodes_added"] == {"user": 1, "item": 0} and details["nodes_removed"] == {"user": 1, "item": 1}
    view = lambda frozen: SimpleNamespace(resources=job.resources, frozen=frozen)  # noqa: E731
    for node_type in ("user", "item"):
        got, expected = final_rows(view(inc_frozen), node_type), final_rows(view(full_frozen), node_type)
        assert got.keys() == expected.keys()
        ids = sorted(expected)
        assert np.abs(np.array([got[n] for n in ids]) - np.array([expected[n] for n in ids])).max() < 1e-4
    assert max(sum(v.values()) for v in details["recomputed_per_stage"].values()) < small_typed_graph.nodes.num_rows


@pytest.mark.parametrize("engine", ["LOCAL", "BEAM"])
def test_incremental_node_regression_publishes_the_values_of_a_full_job(tmp_path, small_typed_graph, engine):
    """The recomputed items' predicted values come from the head as a whole job's do."""
    job = _base_job(tmp_path, small_typed_graph, "regression", "demo_node_regression", **(ON_BEAM if engine == "BEAM" else {}))
    _reenumerate(job, _typed_changed(small_typed_graph))
    incremental, inc_frozen = _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base",
                                                            "gnnAssetsConfig.incremental.maxAffectedFraction": 1.0})
    _, full_frozen = _run_job(job, "full")
    assert not incremental.job.details["incremental"]["ran_whole_job"]
    (inc_emb, inc_values), (full_emb, full_values) = _rows(job, inc_frozen, "item"), _rows(job, full_frozen, "item")
    assert inc_values.keys() == full_values.keys() == full_emb.keys()
    ids = sorted(full_values)
    assert np.abs(np.array([inc_values[n] for n in ids]) - np.array([full_values[n] for n in ids])).max() < 1e-4
    assert np.abs(np.array([inc_emb[n] for n in ids]) - np.array([full_emb[n] for n in ids])).max() < 1e-4


def test_a_base_that_kept_nothing_or_ran_another_model_is_refused_in_one_line(tmp_path, small_homogeneous_graph):
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    # A job that did not keep its states cannot be a base.
    _run_job(job, "plain", **{"gnnAssetsConfig.layerwise.keepStates": False})
    with pytest.raises(IncrementalRefused, match=r"job 'plain' did not keep its states; run it with gnnAssetsConfig\.layerwise\.keepStates: true") as refused:
        _run_job(job, "from-plain", **{"gnnAssetsConfig.incremental.baseJob": "plain"})
    assert "\n" not in str(refused.value)
    layout = job.resources.layout.job(job.frozen.task_name, "from-plain")
    assert not storage.exists(layout.inference_manifest_uri) and not storage.glob(storage.join(layout.inference_dir, "runs", "*"))
    # Another model file.
    write_task_config(Path(job.task_config_uri).parent, "demo_node_classification", **{**job.overrides, "gnnAssetsConfig.incremental.baseJob": "base"})
    frozen = freeze_task_config(load_task_config(job.task_config_uri), job.resources, "other-model")
    write_frozen_config(frozen)
    from gnn_assets.inference.task_specs import write_untrained_model

    write_untrained_model(frozen, seed=1, policy=job.resources.model_policy)
    with pytest.raises(IncrementalRefused, match=r"job 'base' ran another model file"):
        driver.run("other-model", job.task_config_uri, job.resources.uri, progress=lambda _: None)
    # A base that does not exist.
    with pytest.raises(IncrementalRefused, match=r"job 'ghost' cannot be the base"):
        _run_job(job, "from-ghost", **{"gnnAssetsConfig.incremental.baseJob": "ghost"})


@pytest.mark.parametrize("fraction", [0.001, 0])
def test_a_change_that_reaches_most_nodes_runs_the_whole_job(tmp_path, small_homogeneous_graph, fraction):
    """maxAffectedFraction 0: any change runs the whole job (before: 0 was read as the default 0.5)."""
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    _reenumerate(job, changed(small_homogeneous_graph, "all"))
    run, _ = _run_job(job, "whole", **{"gnnAssetsConfig.incremental.baseJob": "PREVIOUS", "gnnAssetsConfig.incremental.maxAffectedFraction": fraction})
    assert run.job.details["incremental"]["ran_whole_job"] and run.job.details["incremental"]["base_job"] == "base"


def test_a_scheduled_rerun_of_the_same_job_starts_from_its_own_last_run(tmp_path, small_homogeneous_graph):
    """baseJob SELF: the job's first run computes everything; re-run on a changed graph, it starts
    from its own committed states, and keeps its new ones for the next run."""
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    first, _ = _run_job(job, "daily", **{"gnnAssetsConfig.incremental.baseJob": "SELF"})
    assert "incremental" not in first.job.details and "kept" in first.job.details
    _reenumerate(job, changed(small_homogeneous_graph, "all"))
    again, frozen = _run_job(job, "daily", **{"gnnAssetsConfig.incremental.baseJob": "SELF"})
    assert again.job.details["incremental"]["base_job"] == "daily" and not again.job.details["incremental"]["ran_whole_job"]
    _, full_frozen = _run_job(job, "full")
    (got, _), (expected, _) = _rows(job, frozen), _rows(job, full_frozen)
    ids = sorted(expected)
    assert np.abs(np.array([got[n] for n in ids]) - np.array([expected[n] for n in ids])).max() < 1e-4
    # Its kept states: the first run's layer, read where it is, and the rows it recomputed; no other layer stays.
    layers = again.job.details["kept"]["layers"]
    assert [layer["whole"] for layer in layers] == [True, False]
    layout = again.job_layout
    assert [layer["directory"] for layer in layers] == [storage.join(layout.kept_dir, r.job.run_id) for r in (first, again)]
    assert storage.child_names(layout.kept_dir) == sorted([first.job.run_id, again.job.run_id])


def test_a_base_that_kept_its_layers_in_its_run_folder_has_them_linked_and_the_chain_goes_on(tmp_path, small_homogeneous_graph):
    """Runs kept their layers in their own folder before (removed with it once a later run
    commits, and recorded without versions): a run built on such a base links them into the job's
    kept folder (hashing them first), and the chain goes on exactly from it."""
    import json

    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    daily = {"gnnAssetsConfig.incremental.baseJob": "SELF"}
    first, _ = _run_job(job, "daily", **daily)
    layout = first.job_layout
    legacy = storage.join(layout.inference_run_dir(first.job.run_id), "kept", "layer-0")
    os.renames(storage.join(layout.kept_dir, first.job.run_id), legacy)
    manifest = json.loads(storage.read_text(layout.inference_manifest_uri))
    kept = manifest["details"]["kept"]
    moved = {k: k.replace(storage.join(layout.kept_dir, first.job.run_id), legacy) for k in kept["file_hashes"]}
    kept["layers"][0]["directory"] = legacy
    kept["file_hashes"] = {moved[k]: v for k, v in kept["file_hashes"].items()}
    kept.pop("file_versions")  # as records from before versions
    storage.write_text(layout.inference_manifest_uri, json.dumps(manifest))
    graph = changed(small_homogeneous_graph, "features")
    _reenumerate(job, graph)
    again, frozen = _run_job(job, "daily", **daily)
    assert not again.job.details["incremental"]["ran_whole_job"] and again.job.details["incremental"]["kept_files_hashed"] == len(moved)
    mine = [storage.join(layout.kept_dir, f"{again.job.run_id}-base-0"), storage.join(layout.kept_dir, again.job.run_id)]
    assert [(layer["directory"], layer["whole"]) for layer in again.job.details["kept"]["layers"]] == list(zip(mine, [True, False]))
    _reenumerate(job, changed(graph, "remove_edges"))
    third, frozen = _run_job(job, "daily", **daily)
    assert [layer["directory"] for layer in third.job.details["kept"]["layers"]] == mine + [storage.join(layout.kept_dir, third.job.run_id)]
    # The legacy folder went with the first run (at again's publication): the links' inode change
    # time moved, so they are read once more, and their versions recorded anew for the runs after.
    assert third.job.details["incremental"]["kept_files_hashed"] == len(moved)
    _reenumerate(job, changed(graph, "add_nodes"))
    fourth, frozen = _run_job(job, "daily", **daily)
    assert fourth.job.details["incremental"]["kept_files_hashed"] == 0
    _, full_frozen = _run_job(job, "full")
    (got, _), (expected, _) = _rows(job, frozen), _rows(job, full_frozen)
    ids = sorted(expected)
    assert np.abs(np.array([got[n] for n in ids]) - np.array([expected[n] for n in ids])).max() < 1e-4


def test_increments_in_a_row_stay_exact_publish_by_delta_and_compact_past_the_layer_limit(tmp_path, small_homogeneous_graph, monkeypatch):
    """A daily job (baseJob SELF) after five changes in a row, of every kind: each run equals a
    whole job on its graph, keeps and outputs only the rows it recomputed over its base's layers
    (kept layers read in place, output layers linked into its own folder), publishes them by delta (its raw table holds only those rows),
    and past MAX_LAYERS (3 here) writes every row again as one layer."""
    from gnn_assets.layerwise import local
    from gnn_assets.warehouse import open_warehouse

    monkeypatch.setattr(local, "MAX_LAYERS", 3)
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    daily = {"gnnAssetsConfig.incremental.baseJob": "SELF"}
    _run_job(job, "daily", **daily)
    graph, layers = small_homogeneous_graph, []
    for step, change in enumerate(["features", "add_nodes", "remove_edges", "all", "remove_nodes"]):
        graph = changed(graph, change, seed=step)
        _reenumerate(job, graph)
        run, frozen = _run_job(job, "daily", **daily)
        details = run.job.details
        assert not details["incremental"]["ran_whole_job"], (step, details["incremental"])
        _, full_frozen = _run_job(job, "full")
        (got, got_pred), (expected, expected_pred) = _rows(job, frozen), _rows(job, full_frozen)
        assert got.keys() == expected.keys() and got_pred == expected_pred, step
        ids = sorted(expected)
        assert np.abs(np.array([got[n] for n in ids]) - np.array([expected[n] for n in ids])).max() < 1e-4, step
        kept = details["kept"]["layers"]
        layers.append(len(kept))
        output = run.job.outputs["paper"]
        if len(kept) > 1:  # layered: its output holds the last stage's recomputed rows, published by delta
            last = details["incremental"]["recomputed_per_stage"][str(len(details["incremental"]["recomputed_per_stage"]) - 1)]["paper"]
            assert output.rows == last < len(ids) and len(output.base_layers) == len(kept) - 1
            raw = open_warehouse(job.resources).row_count(tables.raw_output_table(frozen.task_name, "daily", "paper", "embeddings"))
            assert raw == last
        else:
            assert output.rows == len(ids) and not output.base_layers
    assert layers == [2, 3, 1, 2, 3]


def test_an_incremental_job_killed_while_publishing_leaves_the_tables_and_its_base_as_they_were(tmp_path, small_homogeneous_graph, monkeypatch):
    from gnn_assets.outputs.published import published_run
    from gnn_assets.warehouse import duckdb as duckdb_warehouse

    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    daily = {"gnnAssetsConfig.incremental.baseJob": "SELF"}
    first, frozen = _run_job(job, "daily", **daily)
    published = _rows(job, frozen)
    _reenumerate(job, changed(small_homogeneous_graph, "all"))
    real = duckdb_warehouse._apply_delta

    def killed_after_the_delete(con, r, held_dir):
        real(con, r, held_dir)
        raise SystemExit(137)  # as if killed before the transaction commits

    monkeypatch.setattr(duckdb_warehouse, "_apply_delta", killed_after_the_delete)
    with pytest.raises(SystemExit):
        _run_job(job, "daily", **daily)
    layout = job.resources.layout.job(job.frozen.task_name, "daily")
    assert _rows(job, frozen) == published and published_run(layout) == first.job.run_id
    warehouse = open_warehouse(job.resources)

    def held_files() -> list[str]:
        return sorted(os.path.relpath(os.path.join(d, f), warehouse.deltas_dir) for d, _, fs in os.walk(warehouse.deltas_dir) for f in fs)

    assert len(held_files()) == 1  # the killed publication's linked file, read by no view
    monkeypatch.setattr(duckdb_warehouse, "_apply_delta", real)
    # The committed run is published again (by delta onto the same base) and is exact.
    from gnn_assets.config.job import Job
    from gnn_assets.jobs.unenumerate import unenumerate_outputs

    unenumerate_outputs(Job.of(frozen, job.resources), warehouse, progress=lambda _: None)
    tables_by_delta = {tables.output_table(frozen.task_name, "daily", "paper", kind) for kind in ("embeddings", "predictions")}
    assert {os.path.dirname(f) for f in held_files()} == tables_by_delta and len(held_files()) == 2  # the orphan released
    _, full_frozen = _run_job(job, "full")
    (got, got_pred), (expected, expected_pred) = _rows(job, frozen), _rows(job, full_frozen)
    ids = sorted(expected)
    assert got.keys() == expected.keys() and got_pred == expected_pred
    assert np.abs(np.array([got[n] for n in ids]) - np.array([expected[n] for n in ids])).max() < 1e-4


def test_incremental_with_spilled_states_equals_a_full_job(tmp_path, small_homogeneous_graph):
    """A budget below the states: the base's states are copied into memory-mapped files."""
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean", **{"inferencerConfig.inferencerArgs.hid_dim": "256"})
    _reenumerate(job, changed(small_homogeneous_graph, "all"))
    budget = {"gnnAssetsConfig.layerwise.memoryBudgetMb": 1}
    incremental, inc_frozen = _run_job(job, "incremental", **budget, **{"gnnAssetsConfig.incremental.baseJob": "base"})
    assert incremental.job.details["spilled"] and not incremental.job.details["incremental"]["ran_whole_job"]
    _, full_frozen = _run_job(job, "full")
    (got, _), (expected, _) = _rows(job, inc_frozen), _rows(job, full_frozen)
    ids = sorted(expected)
    assert np.abs(np.array([got[n] for n in ids]) - np.array([expected[n] for n in ids])).max() < 1e-4


@pytest.mark.parametrize(
    "kind, change", [("sage_mean", "all"), ("sage_max", "add_nodes"), ("gin", "remove_nodes"), ("gat", "all"), ("gcn", "remove_edges")]
)
def test_incremental_on_the_beam_engine_equals_a_full_job(tmp_path, small_homogeneous_graph, kind, change):
    """Base, incremental and full job on engine BEAM: the gathers send only the in-edges of the
    nodes a stage recomputes, the other rows of each piece are the base's."""
    details = _assert_incremental_equals_full(
        tmp_path, small_homogeneous_graph, kind, change, base_overrides=ON_BEAM, **{"gnnAssetsConfig.incremental.maxAffectedFraction": 1.0}
    )
    assert sum(details["recomputed_per_stage"]["0"].values()) < small_homogeneous_graph.nodes.num_rows


def test_one_kept_layout_for_both_engines_a_beam_base_serves_a_local_incremental_job(tmp_path, small_homogeneous_graph):
    _assert_incremental_equals_full(
        tmp_path, small_homogeneous_graph, "sage_mean", "all", base_overrides=ON_BEAM, **{"gnnAssetsConfig.layerwise.engine": "LOCAL"}
    )


def test_an_incremental_job_that_dies_part_way_leaves_its_published_tables_as_they_were(tmp_path, small_homogeneous_graph, monkeypatch):
    from gnn_assets.layerwise.executor import LayerwiseExecutor
    from gnn_assets.outputs.published import read_committed

    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    _reenumerate(job, changed(small_homogeneous_graph, "features"))
    first, frozen = _run_job(job, "daily", **{"gnnAssetsConfig.incremental.baseJob": "base"})
    published = _rows(job, frozen)
    _reenumerate(job, changed(small_homogeneous_graph, "all"))
    real = LayerwiseExecutor._run_stage

    def dies_at_the_last_stage(self, stage, node_type, nodes):
        if self.recompute is not None and stage == len(self.program.stages) - 1:
            raise SystemExit(137)  # as if killed
        return real(self, stage, node_type, nodes)

    monkeypatch.setattr(LayerwiseExecutor, "_run_stage", dies_at_the_last_stage)
    with pytest.raises(SystemExit):
        _run_job(job, "daily", **{"gnnAssetsConfig.incremental.baseJob": "base"})
    layout = job.resources.layout.job(job.frozen.task_name, "daily")
    assert read_committed(layout).run_id == first.job.run_id
    assert _rows(job, frozen) == published


@pytest.mark.gcp
def test_kept_states_on_gcs_serve_an_incremental_job(tmp_path, gcs_emulator, small_homogeneous_graph):
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean", storage_root=f"{gcs_emulator()}/root")
    assert job.resources.layout.root.startswith("gs://")
    _reenumerate(job, changed(small_homogeneous_graph, "all"))
    incremental, inc_frozen = _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base"})
    assert not incremental.job.details["incremental"]["ran_whole_job"]
    _, full_frozen = _run_job(job, "full")
    (got, _), (expected, _) = _rows(job, inc_frozen), _rows(job, full_frozen)
    ids = sorted(expected)
    assert np.abs(np.array([got[n] for n in ids]) - np.array([expected[n] for n in ids])).max() < 1e-4


@pytest.mark.gcp
def test_on_bigquery_a_daily_job_publishes_by_delta_and_equals_a_whole_job(tmp_path, bigquery_emulator, small_homogeneous_graph):
    """The BigQuery warehouse publishes a daily run's recomputed rows (and removes the removed
    nodes' rows) in one transaction: after changes of every kind, twice in a row, its tables equal
    a whole job's, and its raw table holds only the rows the run recomputed."""
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean", bigquery_dataset="incremental")
    daily = {"gnnAssetsConfig.incremental.baseJob": "SELF"}
    _run_job(job, "daily", **daily)
    graph = small_homogeneous_graph
    for step, change in enumerate(["all", "remove_nodes"]):
        graph = changed(graph, change, seed=step)
        _reenumerate(job, graph)
        run, frozen = _run_job(job, "daily", **daily)
        assert not run.job.details["incremental"]["ran_whole_job"] and run.job.outputs["paper"].base_layers, step
        _, full_frozen = _run_job(job, "full")
        (got, got_pred), (expected, expected_pred) = _rows(job, frozen), _rows(job, full_frozen)
        assert got.keys() == expected.keys() and got_pred == expected_pred, step
        ids = sorted(expected)
        assert np.abs(np.array([got[n] for n in ids]) - np.array([expected[n] for n in ids])).max() < 1e-4, step
        raw = open_warehouse(job.resources).row_count(tables.raw_output_table(frozen.task_name, "daily", "paper", "embeddings"))
        assert raw == run.job.outputs["paper"].rows < len(ids), step


def _kept_files(job) -> list[str]:
    """The kept state files of job 'base' (one whole layer)."""
    from gnn_assets.outputs.published import read_committed

    (layer,) = read_committed(job.resources.layout.job(job.frozen.task_name, "base")).details["kept"]["layers"]
    return storage.glob(storage.join(layer["directory"], "states", "*.npy"))


def _tamper_state(path: str, how: str) -> None:
    values = np.load(path)
    forged = {"zeros": np.zeros_like(values), "scaled": values * np.float32(1.001), "nan": np.full_like(values, np.nan)}[how]
    np.save(path, forged)


@pytest.mark.parametrize("how", ["zeros", "scaled", "nan"])
def test_a_tampered_kept_state_is_refused_in_one_line_before_any_work(tmp_path, small_homogeneous_graph, how):
    """Before: a kept state rewritten with zeros, x1.001 or NaN (same shape and dtype) gave exit 0
    and up to 1,998 of 2,000 wrong rows, NaN embeddings published."""
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    _tamper_state(_kept_files(job)[0], how)
    _reenumerate(job, changed(small_homogeneous_graph, "features"))
    with pytest.raises(IncrementalRefused, match=r"changed since its run wrote it \(content hash\); run the base job again") as refused:
        _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base"})
    assert "\n" not in str(refused.value)
    layout = job.resources.layout.job(job.frozen.task_name, "incremental")
    assert not storage.exists(layout.inference_manifest_uri)


def test_a_kept_state_rewritten_with_its_size_and_times_restored_is_refused(tmp_path, small_homogeneous_graph):
    """A base's kept files are hashed again only where their version changed since it was recorded
    (the bench's 2 GB of kept states were most of a 0.01% change's job): a rewrite that restores
    the size and the modification time still changes the inode change time, so it is hashed and
    refused; an untouched base's files are not hashed at all."""
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    _reenumerate(job, changed(small_homogeneous_graph, "features"))
    clean, _ = _run_job(job, "clean", **{"gnnAssetsConfig.incremental.baseJob": "base"})
    assert clean.job.details["incremental"]["kept_files_hashed"] == 0
    layers = clean.job.details["kept"]["layers"]  # job base's layer linked into clean's kept folder, then its own
    assert [layer["whole"] for layer in layers] == [True, False]
    rows = storage.glob(storage.join(layers[-1]["directory"], "states", "*.rows.npy"))[0]  # written by "clean", linked by no one since
    before = os.stat(rows)
    _tamper_state(rows, "scaled")
    os.utime(rows, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (os.stat(rows).st_size, os.stat(rows).st_mtime_ns, os.stat(rows).st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    _reenumerate(job, changed(small_homogeneous_graph, "remove_edges"))
    with pytest.raises(IncrementalRefused, match=r"rows.npy changed since its run wrote it \(content hash\)"):
        _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "clean"})


def test_an_incremental_job_from_a_change_log_equals_a_whole_job_on_the_graph_it_implies(tmp_path, small_homogeneous_graph):
    """The change itself as input (every kind at once, by original id): applied to the source, the
    graph enumerated, the daily job's output equals a whole job's on the new snapshot."""
    from gnn_assets.graph.change_log import apply_change_log

    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    kinds = write_change_log(small_homogeneous_graph, changed(small_homogeneous_graph, "all"), tmp_path / "changes")
    assert {"nodes_add", "nodes_remove", "nodes_update", "edges_add", "edges_remove"} <= kinds.keys()
    layout, graph = job.resources.layout, job.frozen.graph_name
    apply_change_log(layout.graph_source_dir(graph), str(tmp_path / "changes"))
    report = enumerate_graph_source(layout, graph)
    load_node_id_mappings(open_warehouse(job.resources), job.resources, graph, list(report.nodes))
    incremental, inc_frozen = _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base"})
    details = incremental.job.details["incremental"]
    assert not details["ran_whole_job"] and details["recomputed_per_stage"]["0"]["paper"] < report.nodes["paper"]
    _, full_frozen = _run_job(job, "full")
    (got, got_pred), (expected, expected_pred) = _rows(job, inc_frozen), _rows(job, full_frozen)
    assert got.keys() == expected.keys() and got_pred == expected_pred
    ids = sorted(expected)
    assert np.abs(np.array([got[n] for n in ids]) - np.array([expected[n] for n in ids])).max() < 1e-4


def test_a_job_that_falls_back_to_the_whole_job_reads_none_of_its_base_s_kept_files(tmp_path, small_homogeneous_graph, monkeypatch):
    """Before, every kept file was read and hashed before the plan decided (2 GB at 1M nodes for
    the bench model): a cost the 1% fallback paid for states it never used."""
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    _tamper_state(_kept_files(job)[0], "zeros")  # not read, so not refused either
    _reenumerate(job, changed(small_homogeneous_graph, "features"))
    hashed = []
    real = storage.content_hash
    monkeypatch.setattr(storage, "content_hash", lambda uri: hashed.append(uri) or real(uri))
    run, frozen = _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base", "gnnAssetsConfig.incremental.maxAffectedFraction": 0})
    assert run.job.details["incremental"]["ran_whole_job"] and run.job.details["incremental"]["why_whole_job"] == "share"
    assert hashed == []
    _, full_frozen = _run_job(job, "full")
    assert _rows(job, frozen) == _rows(job, full_frozen)


def test_a_tampered_change_record_is_refused_in_one_line(tmp_path, small_homogeneous_graph):
    """The enumeration's record of what changed is what an incremental job recomputes by: one
    rewritten (here: the feature change wiped, which would leave 4 nodes' rows stale) is refused."""
    from gnn_assets.graph.change_record import ChangeRecordError

    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    _reenumerate(job, changed(small_homogeneous_graph, "features"))
    (arrays,) = storage.glob(storage.join(job.resources.layout.enumerated_graph_dir(job.frozen.graph_name), "changes", "*", "arrays.npz"))
    with np.load(arrays) as held:
        wiped = {k: (np.zeros(0, np.int64) if k.startswith("features") else held[k]) for k in held.files}
    np.savez(arrays, **wiped)
    with pytest.raises(ChangeRecordError, match=r"changed since its enumeration wrote it \(content hash\); enumerate the graph again") as refused:
        _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base"})
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("lacking, why", [("changes", "no_change_record"), ("out_edges", "no_out_edges")])
def test_a_graph_without_a_record_back_to_the_base_or_its_out_edges_runs_the_whole_job(tmp_path, small_homogeneous_graph, lacking, why):
    """Enumerated by an older version (no change records, or no out-edges by source), or more
    times than the records kept."""
    from gnn_assets.graph.out_edges import out_edges_uris

    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    _reenumerate(job, changed(small_homogeneous_graph, "features"))
    graph_dir = job.resources.layout.enumerated_graph_dir(job.frozen.graph_name)
    if lacking == "changes":
        storage.delete_tree(storage.join(graph_dir, "changes"))
    else:
        for e in small_homogeneous_graph.metadata.edge_types:
            os.remove(out_edges_uris(graph_dir, (e.src_node_type, e.relation, e.dst_node_type))[0])
    run, frozen = _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base"})
    details = run.job.details["incremental"]
    assert details["ran_whole_job"] and details["why_whole_job"] == why
    _, full_frozen = _run_job(job, "full")
    assert _rows(job, frozen)[1] == _rows(job, full_frozen)[1]


def test_a_malformed_or_missing_kept_state_is_refused_in_one_line(tmp_path, small_homogeneous_graph):
    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    first, second = _kept_files(job)[:2]
    storage.write_bytes(first, b"not numpy")
    _reenumerate(job, changed(small_homogeneous_graph, "features"))
    with pytest.raises(IncrementalRefused, match="changed since its run wrote it") as refused:
        _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base"})
    assert "\n" not in str(refused.value)
    storage.delete_tree(first)
    storage.delete_tree(second)
    with pytest.raises(IncrementalRefused, match="is gone; run the base job again"):
        _run_job(job, "incremental", **{"gnnAssetsConfig.incremental.baseJob": "base"})


def test_a_base_kept_by_an_earlier_version_runs_the_whole_job_and_keeps_anew(tmp_path, small_homogeneous_graph):
    """A daily job (baseJob SELF) whose last run kept its states in the layout before layers (a
    graph record and one file per state): refusing it would stop the job for good."""
    import json

    from gnn_assets.outputs.published import read_committed

    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    daily = {"gnnAssetsConfig.incremental.baseJob": "SELF"}
    _run_job(job, "daily", **daily)
    layout = job.resources.layout.job(job.frozen.task_name, "daily")
    manifest = json.loads(storage.read_text(layout.inference_manifest_uri))
    manifest["details"]["kept"] = {"graph_dir": "kept/graph", "states_dir": "kept/states", "model_sha256": "x", "states": {}, "file_sha256": {}}
    storage.write_text(layout.inference_manifest_uri, json.dumps(manifest))
    _reenumerate(job, changed(small_homogeneous_graph, "features"))
    whole, _ = _run_job(job, "daily", **daily)
    assert "incremental" not in whole.job.details and [layer["whole"] for layer in whole.job.details["kept"]["layers"]] == [True]
    _reenumerate(job, changed(small_homogeneous_graph, "all"))
    again, _ = _run_job(job, "daily", **daily)
    assert not again.job.details["incremental"]["ran_whole_job"] and read_committed(layout).run_id == again.job.run_id


def test_a_tampered_output_layer_is_refused_where_the_layers_are_merged(tmp_path, small_homogeneous_graph):
    """An incremental run's output reads its base's rows from the layers linked into its folder:
    one rewritten (the same rows, another value) is refused in one line, nothing merged."""
    from gnn_assets.outputs.overlay import merged_output_files
    from gnn_assets.outputs.published import IncompleteOutput, read_committed

    job = _base_job(tmp_path, small_homogeneous_graph, "sage_mean")
    daily = {"gnnAssetsConfig.incremental.baseJob": "SELF"}
    _run_job(job, "daily", **daily)
    _reenumerate(job, changed(small_homogeneous_graph, "features"))
    run, _ = _run_job(job, "daily", **daily)  # published by delta: its layers not merged yet
    output = read_committed(run.job_layout).outputs["paper"]
    assert not storage.exists(storage.join(output.output_dir, "merged"))
    (layer,) = output.base_layers
    table = storage.read_parquet(layer["files"]["embeddings"][0])
    forged = table.set_column(1, "emb", pa.array([[0.0] * len(v) for v in table["emb"].to_pylist()], table.schema.field("emb").type))
    storage.write_parquet(layer["files"]["embeddings"][0], forged)
    with pytest.raises(IncompleteOutput, match="changed since the commit") as refused:
        merged_output_files(output, "embeddings", "paper embeddings")
    assert "\n" not in str(refused.value)
    assert not storage.exists(storage.join(output.output_dir, "merged", "embeddings"))
