import os

import pytest

from gnn_assets.config import ConfigError
from gnn_assets.config.job_name import job_name_for_model_file, validate_job_name
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import TaskKind, freeze_task_config, load_task_config
from gnn_assets.beam.runners import pipeline_options, torch_threads_per_worker
from tests.support.deployments import template_of, write_local_resources


@pytest.fixture
def resources(tmp_path):
    return load_resource_config(str(write_local_resources(tmp_path)))


def _write(tmp_path, text):
    path = tmp_path / "task.yaml"
    path.write_text(text)
    return str(path)


def test_demo_templates_load():
    lp = load_task_config(str(template_of("demo_link_prediction")))
    nc = load_task_config(str(template_of("demo_node_classification")))
    assert lp.task_kind is TaskKind.LINK_PREDICTION and lp.root_node_types == ["user", "item"]
    assert nc.task_kind is TaskKind.NODE_CLASSIFICATION and nc.root_node_types == ["paper"]


def test_missing_required_field_is_named_with_the_file(tmp_path):
    text = (template_of("demo_link_prediction")).read_text().replace(
        "  inferencerClsPath: gnn_assets.inference.task_specs.NodeAnchorBasedLinkPredictionTaskSpec\n", ""
    )
    uri = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=r"task\.yaml: .*inferencerConfig\.inferencerClsPath: required field is missing"):
        load_task_config(uri)


def test_unknown_field_is_named(tmp_path):
    uri = _write(tmp_path, (template_of("demo_link_prediction")).read_text() + "sharedConfig: {notAField: 1}\n")
    with pytest.raises(ConfigError, match=r"task\.yaml: .*notAField.*sharedConfig"):
        load_task_config(uri)


def test_inconsistent_types_are_reported(tmp_path):
    text = (template_of("demo_link_prediction")).read_text().replace("supervisionEdgeTypes:\n      - {srcNodeType: user, relation: buys", "supervisionEdgeTypes:\n      - {srcNodeType: user, relation: sells")
    with pytest.raises(ConfigError, match=r"supervisionEdgeTypes: \('user', 'sells', 'item'\) is not in graphMetadata\.edgeTypes"):
        load_task_config(_write(tmp_path, text))


def test_freeze_fills_derived_fields(resources):
    frozen = freeze_task_config(load_task_config(str(template_of("demo_node_classification"))), resources, "daily-2026")
    root = resources.layout.root
    job = f"{root}/jobs/demo_node_classification/daily-2026"
    assert frozen.uri == f"{job}/frozen_gbml_config.yaml"
    assert (frozen.task_name, frozen.job_name) == ("demo_node_classification", "daily-2026")
    assert frozen.trained_model_uri == f"{root}/models/demo_node_classification/daily-2026.pt"
    assert frozen.sample_prefixes("paper") == [f"{job}/samples/labeled/samples-", f"{job}/samples/unlabeled/samples-"]
    assert frozen.output_tables("paper") == {
        "embeddings": "demo_node_classification_daily_2026_paper_embeddings",
        "predictions": "demo_node_classification_daily_2026_paper_predictions",
    }
    assert frozen.preprocessed_metadata_uri == f"{root}/graphs/demo_homogeneous/preprocessed_metadata.yaml"
    assert dict(frozen.proto.graph_metadata.condensed_node_type_map) == {0: "paper"}


def test_freeze_is_byte_identical(resources):
    template = load_task_config(str(template_of("demo_link_prediction")))
    first = freeze_task_config(template, resources, "j").to_yaml()
    again = freeze_task_config(load_task_config(str(template_of("demo_link_prediction"))), resources, "j").to_yaml()
    assert first == again
    assert "nodeTypeToRandomNegativeTfrecordUriPrefix" in first and "inferencerClsPath" in first


@pytest.mark.parametrize("name", ["Demo", "1job", "job-", "job_name", "", "a" * 64])
def test_invalid_job_names_are_refused(name):
    with pytest.raises(ConfigError, match="invalid job name"):
        validate_job_name(name)


def test_resource_config_names_missing_fields(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("localRunner: {runningMode: threads}\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: storage\.root: required field is missing; localRunner\.runningMode: 'threads'"):
        load_resource_config(str(path))


@pytest.mark.parametrize(
    "mode, workers, threads",
    [("in_memory", 1, None), ("multi_threading", 2, 4), ("multi_processing", 3, 2), ("multi_threading", 16, 1)],
)
def test_local_workers_share_the_cores(tmp_path, monkeypatch, mode, workers, threads):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    resources = load_resource_config(str(write_local_resources(tmp_path, mode, workers)))
    options = pipeline_options(resources, "task", "job").get_all_options()
    assert (options["direct_running_mode"], options["direct_num_workers"]) == (mode, workers)
    assert torch_threads_per_worker(resources) == threads


def test_resource_config_reads_environment(tmp_path, monkeypatch):
    path = tmp_path / "r.yaml"
    path.write_text("storage: {root: '${GNN_TEST_ROOT}'}\nlocalRunner: {}\nduckdb: {}\n")
    with pytest.raises(ConfigError, match="GNN_TEST_ROOT is not set"):
        load_resource_config(str(path))
    monkeypatch.setenv("GNN_TEST_ROOT", str(tmp_path / "elsewhere"))
    assert load_resource_config(str(path)).layout.root == str(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    "file, job",
    [
        ("gs://b/models/t/demo.pt", "demo"),
        ("/m/t/Daily Run_2026-11-22.pt", "daily-run-2026-11-22"),
        ("/m/t/2026.pt", "m-2026"),
        ("/m/t/___.pt", "m"),
    ],
)
def test_job_names_derive_from_model_files(file, job):
    assert job_name_for_model_file(file) == job
    assert validate_job_name(job_name_for_model_file(file))


def test_long_model_file_names_stay_valid_and_distinct():
    a, b = (job_name_for_model_file(f"/m/{'x' * 80}{suffix}.pt") for suffix in ("a", "b"))
    assert a != b and len(a) <= 63 and validate_job_name(a)


def test_a_task_config_may_not_name_bigquery_source_tables(tmp_path):
    text = (template_of("demo_link_prediction")).read_text().replace(
        "graphMetadata:\n", "graphMetadata:\n  bigquerySource: {nodesTable: p.d.n, edgesTable: p.d.e}\n", 1
    )
    with pytest.raises(ConfigError, match=r"graphMetadata\.bigquerySource: belongs in the graph source's graph_metadata\.yaml"):
        load_task_config(_write(tmp_path, text))
