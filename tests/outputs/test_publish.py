"""Publish by commit: readers see only a job's committed output, and no failure, kill or
concurrent run replaces published tables with empty or partial ones."""

from __future__ import annotations

import json
import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gnn_assets.jobs import driver
from gnn_assets.inference.pipeline import DeadLetterThresholdExceeded
from gnn_assets.outputs.published import EMBEDDINGS_SCHEMA, IncompleteOutput, InferenceJobResult, NodeTypeOutput, commit, new_run_id, read_committed
from gnn_assets.warehouse import open_warehouse
from gnn_assets.config.job import Job
from gnn_assets.graph.enumerated_layout import EnumerationChanged
from gnn_assets.graph.enumeration import enumerate_graph_source
from gnn_assets.graph.source import GraphSource, write_graph_source
from gnn_assets.config import tables
from gnn_assets.jobs.unenumerate import load_node_id_mappings, mapping_tables
from tests.support.deployments import prepare_job
from tests.support.samples import add_bad_shard

QUIET = {"progress": lambda _: None}
pytestmark = pytest.mark.slow


@pytest.fixture
def published(tmp_path, small_homogeneous_graph):
    """A job whose first run published 1,000 rows."""
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph)
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)
    assert _rows(job) == {"embeddings": 1000, "predictions": 1000}
    return job


def _rows(job) -> dict[str, int]:
    warehouse = open_warehouse(job.resources)
    return {kind: warehouse.row_count(table) for kind, table in job.frozen.output_tables("paper").items()}


def _layout(job):
    return job.resources.layout.job(job.frozen.task_name, job.job_name)


def _unenumerate(job, capsys) -> tuple[int, str]:
    code = driver.main(
        ["--job_name", job.job_name, "--task_config_uri", job.task_config_uri, "--resource_config_uri", job.resources.uri,
         "--stages", "unenumerate"]
    )
    return code, capsys.readouterr().err


def test_unenumerating_after_the_output_is_gone_refuses_and_keeps_the_tables(published, capsys):
    """Before: with the Parquet folder gone (a killed run), --stages unenumerate made both tables 0 rows, exit 0."""
    shutil.rmtree(_layout(published).inference_dir)
    code, err = _unenumerate(published, capsys)
    assert code == 1 and err.count("\n") == 1 and "error: no committed inference output at" in err
    assert _rows(published) == {"embeddings": 1000, "predictions": 1000}


def test_committed_files_that_went_missing_are_refused(published, capsys):
    manifest = read_committed(_layout(published))
    os.remove(manifest.outputs["paper"].files["embeddings"][0])
    code, err = _unenumerate(published, capsys)
    assert code == 1 and "committed files are gone" in err
    assert _rows(published) == {"embeddings": 1000, "predictions": 1000}


def test_rows_short_of_the_samples_are_refused(published, capsys):
    uri = _layout(published).inference_manifest_uri
    manifest = json.loads(open(uri).read())
    manifest["outputs"]["paper"]["samples"] += 5
    open(uri, "w").write(json.dumps(manifest))
    code, err = _unenumerate(published, capsys)
    assert code == 1 and "1,000 rows and 0 dead letters fall short of 1,005 samples" in err
    assert _rows(published) == {"embeddings": 1000, "predictions": 1000}


def test_a_failed_rerun_leaves_the_published_output(published, capsys):
    before = read_committed(_layout(published)).run_id
    add_bad_shard(published)
    with pytest.raises(DeadLetterThresholdExceeded):
        driver.run(published.job_name, published.task_config_uri, published.resources.uri, **QUIET)
    assert read_committed(_layout(published)).run_id == before
    assert _unenumerate(published, capsys)[0] == 0
    assert _rows(published) == {"embeddings": 1000, "predictions": 1000}


def test_a_run_in_progress_is_not_read(published, capsys):
    """Before: un-enumerating while a re-run of the job was in its Beam phase loaded its partial output."""
    partial = os.path.join(_layout(published).inference_dir, "runs", "run_99991231T235959_inflight", "paper", "embeddings")
    os.makedirs(partial)
    pq.write_table(pa.Table.from_pylist([{"node_id": 1, "emb": [0.0] * 32}], schema=EMBEDDINGS_SCHEMA), os.path.join(partial, "part-0.parquet"))
    assert _unenumerate(published, capsys)[0] == 0
    assert _rows(published) == {"embeddings": 1000, "predictions": 1000}


def test_a_new_commit_removes_the_runs_it_supersedes_but_the_published_one_until_it_is_replaced(published, capsys):
    """DuckDB's raw tables are views over the published run's files: a new commit keeps that run's
    folder (before, it removed it and the raw view read files that were gone), and publishing the
    new run removes it."""
    first = read_committed(_layout(published)).run_id
    raw = tables.raw_output_table(published.frozen.task_name, published.job_name, "paper", "embeddings")
    before = open_warehouse(published.resources).read_table(raw).sort_by("node_id")
    runs = os.path.join(_layout(published).inference_dir, "runs")
    os.makedirs(os.path.join(runs, "run_00000000T000000_failed"))  # a run that failed long ago
    driver.run(published.job_name, published.task_config_uri, published.resources.uri, stages=["infer"], **QUIET)
    second = read_committed(_layout(published)).run_id
    assert second > first
    assert sorted(os.listdir(runs)) == [first, second]
    assert open_warehouse(published.resources).read_table(raw).sort_by("node_id").equals(before)
    assert _unenumerate(published, capsys)[0] == 0
    assert os.listdir(runs) == [second]
    assert open_warehouse(published.resources).read_table(raw).num_rows == 1000


def test_runs_started_in_one_second_sort_by_their_start():
    """A commit removes the run folders that sort before its own: run ids made in one second once
    sorted by their random part, so a later run could sort first (and its commit keep the earlier
    run's folder, or an earlier run's commit remove the later one's)."""
    ids = [new_run_id() for _ in range(50)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_a_run_whose_files_do_not_hold_its_rows_is_not_committed(published):
    layout = _layout(published)
    before = open(layout.inference_manifest_uri).read()
    committed = read_committed(layout)
    result = InferenceJobResult(
        run_id="run_99991231T235959_short", job_id="local-x", runner="FnApiRunner", state="DONE", seconds=1.0,
        outputs={"paper": NodeTypeOutput(committed.outputs["paper"].output_dir, 1000, 0, rows_by_kind={"embeddings": 1001, "predictions": 1000})},
    )
    result.enumeration_id = committed.enumeration_id
    with pytest.raises(IncompleteOutput, match="the job wrote 1,001 rows but its files hold 1,000"):
        commit(Job.of(published.frozen, published.resources), result, ["embeddings", "predictions"])
    assert open(layout.inference_manifest_uri).read() == before


@pytest.mark.parametrize("fill", [0.0, float("nan")])
def test_committed_files_replaced_with_the_same_row_count_are_refused(published, capsys, fill):
    """Before: files with the right row count but all zeros (or all NaN) were published, exit 0."""
    manifest = read_committed(_layout(published))
    path = manifest.outputs["paper"].files["embeddings"][0]
    table = pq.read_table(path)
    width = len(table["emb"][0])
    forged = pa.table(
        {"node_id": table["node_id"], "emb": pa.array([[fill] * width] * table.num_rows, pa.list_(pa.float32()))},
        schema=EMBEDDINGS_SCHEMA,
    )
    pq.write_table(forged, path)
    code, err = _unenumerate(published, capsys)
    assert code == 1 and "committed files changed since the commit (content hash)" in err
    assert _rows(published) == {"embeddings": 1000, "predictions": 1000}


def _with_nodes_sorting_first(source: GraphSource, count: int = 5) -> GraphSource:
    """The graph with nodes whose ids sort before every other: every int id moves up by count."""
    added = {c: [source.nodes[c][0].as_py()] * count for c in source.nodes.column_names}
    added["node_id"] = [f"!{i}" for i in range(count)]
    return GraphSource(source.metadata, pa.concat_tables([source.nodes, pa.table(added, schema=source.nodes.schema)]), source.edges)


def _enumerate_again(job, source: GraphSource, *, load_mapping: bool = True) -> None:
    layout, graph = job.resources.layout, job.frozen.graph_name
    write_graph_source(layout.graph_source_dir(graph), source)
    report = enumerate_graph_source(layout, graph)
    if load_mapping:
        load_node_id_mappings(open_warehouse(job.resources), job.resources, graph, list(report.nodes))


def _tables(job) -> dict[str, pa.Table]:
    warehouse = open_warehouse(job.resources)
    return {kind: warehouse.read_table(table).sort_by("node_id") for kind, table in job.frozen.output_tables("paper").items()}


def test_output_of_another_enumeration_is_refused_and_the_tables_stay(published, capsys):
    """Before: after 5 nodes sorting first were added and the graph enumerated again, --stages
    unenumerate exited 0 with every one of the 1,000 rows on another node's id."""
    before = _tables(published)
    _enumerate_again(published, _with_nodes_sorting_first(published.source))
    code, err = _unenumerate(published, capsys)
    assert code == 1 and err.count("\n") == 1, err
    assert "was computed on enumeration" in err and "its int ids name other nodes; run the job again" in err
    after = _tables(published)
    assert all(after[k].equals(before[k]) for k in before)


def test_a_graph_enumerated_again_while_the_job_ran_is_not_committed(published, monkeypatch):
    """Before: `gnn-assets enumerate` during a job published all but 5 of its rows on other nodes."""
    from gnn_assets.inference import pipeline

    layout = _layout(published)
    manifest_before = open(layout.inference_manifest_uri).read()
    real = pipeline._run_to_completion

    def enumerated_meanwhile(*args, **kwargs):
        outcome = real(*args, **kwargs)
        _enumerate_again(published, _with_nodes_sorting_first(published.source))
        return outcome

    monkeypatch.setattr(pipeline, "_run_to_completion", enumerated_meanwhile)
    with pytest.raises(EnumerationChanged, match="run the job again"):
        driver.run(published.job_name, published.task_config_uri, published.resources.uri, stages=["infer"], **QUIET)
    assert open(layout.inference_manifest_uri).read() == manifest_before


def test_samples_of_another_enumeration_are_refused_before_the_job(published):
    _enumerate_again(published, _with_nodes_sorting_first(published.source))
    with pytest.raises(EnumerationChanged, match="the samples at .* sample the job again"):
        driver.run(published.job_name, published.task_config_uri, published.resources.uri, stages=["infer"], **QUIET)


def test_publishing_joins_the_mapping_of_the_enumeration_the_output_read(published, capsys):
    """A warehouse whose mapping table was not reloaded after the graph was enumerated again
    (the load failed, or was never run) still publishes every row on its own node."""
    _enumerate_again(published, _with_nodes_sorting_first(published.source), load_mapping=False)
    from gnn_assets.graph.sampler import sample_job

    sample_job(published.frozen, published.resources, progress=lambda _: None)
    driver.run(published.job_name, published.task_config_uri, published.resources.uri, **QUIET)
    mapping_file = pq.read_table(os.path.join(published.resources.layout.enumerated_graph_dir(published.frozen.graph_name), "node_id_mapping_paper.parquet"))
    table = next(t for t in mapping_tables(published.frozen).values())
    assert open_warehouse(published.resources).read_table(table).sort_by("int_id").to_pylist() == mapping_file.sort_by("int_id").to_pylist()
    emb = _tables(published)["embeddings"]
    assert emb.num_rows == 1005 and emb["node_id"].to_pylist()[:5] == [f"!{i}" for i in range(5)]
