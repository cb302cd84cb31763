"""The built-in trainers: trained models beat trivial baselines on held-out data of the demo
graphs, and the same seed gives the same model file, byte for byte."""

from __future__ import annotations

import os

import pytest

from gnn_assets import storage
from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.jobs import driver
from gnn_assets.training.evaluation import job_quality
from gnn_assets.training.protocol import TrainingError
from gnn_assets.training.run import train_model
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import prepare_job, write_task_config


def _train_and_infer(job):
    trained = train_model(job.frozen, job.resources, progress=lambda _: None)
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    return trained, job_quality(job.frozen, job.resources, open_warehouse(job.resources))


@pytest.mark.slow
def test_node_classification_beats_the_majority_class_on_withheld_labels(tmp_path, small_homogeneous_graph):
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph)
    storage.delete_tree(job.frozen.trained_model_uri)  # prepare_job drops an untrained file: train instead
    trained, quality = _train_and_infer(job)
    accuracy = quality["paper"]
    assert accuracy.source == "evaluation_labels.parquet" and accuracy.count > 100
    assert accuracy.value > accuracy.baseline + 0.3, accuracy
    assert trained.result.metrics["validation_accuracy"] > trained.result.metrics["validation_majority_baseline"] + 0.3
    assert [h["epoch"] for h in trained.result.history] == list(range(1, len(trained.result.history) + 1))
    assert storage.read_bytes(trained.report_uris["curve"])[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_node_regression_beats_the_training_mean_on_withheld_values(tmp_path, small_typed_graph):
    """The typed demo graph's item prices (a community level, the buyers' levels, noise of 0.3):
    the model learns standardized values and its file predicts prices as they are."""
    job = prepare_job(tmp_path, "demo_node_regression", small_typed_graph)
    storage.delete_tree(job.frozen.trained_model_uri)
    trained, quality = _train_and_infer(job)
    rmse = quality["item"]
    assert rmse.source == "evaluation_labels.parquet" and rmse.count > 50 and rmse.metric == "rmse"
    assert rmse.value < 0.5 * rmse.baseline and rmse.extra["r2"] > 0.6 and rmse.beats_baseline, rmse
    metrics = trained.result.metrics
    assert metrics["validation_rmse"] < 0.5 * metrics["validation_mean_baseline_rmse"] and metrics["validation_r2"] > 0.6


@pytest.mark.slow
@pytest.mark.parametrize("task", ["demo_edge_classification", "demo_edge_regression"])
def test_edge_tasks_beat_their_trivial_baselines_on_withheld_edge_labels(tmp_path, small_homogeneous_graph, small_typed_graph, task):
    """Citations within one community (classes) and purchase ratings (values), their labels
    partly withheld by the demo graphs: trained, inferred and scored from the edges' two ends."""
    source = small_homogeneous_graph if task == "demo_edge_classification" else small_typed_graph
    job = prepare_job(tmp_path, task, source)
    storage.delete_tree(job.frozen.trained_model_uri)
    trained, quality = _train_and_infer(job)
    (name,) = quality
    found, metrics = quality[name], trained.result.metrics
    assert found.source == "evaluation_edge_labels.parquet" and found.count > 500 and found.beats_baseline, found
    if task == "demo_edge_classification":
        assert found.value > found.baseline + 0.1 and metrics["validation_accuracy"] > metrics["validation_majority_baseline"] + 0.1
    else:
        assert found.value < 0.5 * found.baseline and found.extra["r2"] > 0.7
        assert metrics["validation_rmse"] < 0.5 * metrics["validation_mean_baseline_rmse"]


@pytest.mark.parametrize(
    "task, labels, message",
    [
        ("demo_node_regression", "classes", "the labels are integers \\(classes\\); a regression task needs floating values"),
        ("demo_node_classification", "values", "the labels are floating numbers \\(values\\); a classification task needs integer classes"),
    ],
)
def test_labels_of_the_other_kind_are_refused_before_training(tmp_path, small_typed_graph, small_homogeneous_graph, task, labels, message):
    """A regression task on a graph of classes, a classification task on a graph of values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from gnn_assets.graph.source import GraphSource

    source = small_typed_graph if task == "demo_node_regression" else small_homogeneous_graph
    column = source.nodes["label"]
    swapped = pc.round(column).cast(pa.int64()) if labels == "classes" else column.cast(pa.float64())
    job = prepare_job(tmp_path, task, GraphSource(source.metadata, source.nodes.set_column(3, "label", swapped), source.edges))
    with pytest.raises(TrainingError, match=message) as refused:
        train_model(job.frozen, job.resources, progress=lambda _: None)
    assert "\n" not in str(refused.value)


@pytest.mark.slow
def test_link_prediction_beats_random_ranking_on_held_out_edges(tmp_path, small_typed_graph):
    job = prepare_job(tmp_path, "demo_link_prediction", small_typed_graph)
    storage.delete_tree(job.frozen.trained_model_uri)
    trained, quality = _train_and_infer(job)
    recall = quality["user-buys-item"]
    assert recall.source == "evaluation_edges.parquet" and recall.count > 100
    assert recall.value > 3 * recall.baseline, recall
    assert trained.result.metrics["validation_recall@10"] > 3 * trained.result.metrics["validation_random_baseline"]


@pytest.mark.slow
def test_the_same_seed_gives_the_same_model_bytes_and_another_seed_does_not(tmp_path, small_homogeneous_graph):
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"trainerConfig.trainerArgs.epochs": "2"})
    files = []
    for seed in ("0", "0", "1"):
        write_task_config(tmp_path, "demo_node_classification", **{"trainerConfig.trainerArgs.epochs": "2", "trainerConfig.trainerArgs.seed": seed})
        frozen = freeze_task_config(load_task_config(job.task_config_uri), job.resources, job.job_name)
        files.append(storage.read_bytes(train_model(frozen, job.resources, progress=lambda _: None).uri))
    assert files[0] == files[1] and files[0] != files[2]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"epochs": "0"}, "trainerArgs.epochs must be at least 1"),
        ({"learning_rate": "fast"}, "trainerArgs.learning_rate must be a number"),
        ({"fanout": "10,0"}, "trainerArgs.fanout: 0 is neither"),
        ({"momentum": "0.9"}, "trainerArgs do not fit NodeClassificationTrainer"),
    ],
)
def test_bad_trainer_args_are_refused_in_one_line(tmp_path, small_homogeneous_graph, args, message):
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph)
    write_task_config(tmp_path, "demo_node_classification", **{f"trainerConfig.trainerArgs.{k}": v for k, v in args.items()})
    frozen = freeze_task_config(load_task_config(job.task_config_uri), job.resources, job.job_name)
    with pytest.raises(TrainingError, match=message) as refused:
        train_model(frozen, job.resources, progress=lambda _: None)
    assert "\n" not in str(refused.value)


@pytest.mark.slow
def test_link_prediction_training_is_deterministic_on_several_threads(tmp_path, small_typed_graph):
    """Before: four trainings of the link prediction task with one seed gave four different files."""
    import torch

    assert torch.get_num_threads() > 1 or os.cpu_count() == 1
    job = prepare_job(tmp_path, "demo_link_prediction", small_typed_graph, **{"trainerConfig.trainerArgs.epochs": "2"})
    files = [storage.read_bytes(train_model(job.frozen, job.resources, progress=lambda _: None).uri) for _ in range(3)]
    assert files[0] == files[1] == files[2]
    assert not torch.are_deterministic_algorithms_enabled()  # restored after training
