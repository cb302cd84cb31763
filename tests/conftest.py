"""Shared fixtures: a temporary deployment (folders + DuckDB) and prepared demo jobs."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gnn_assets.config.resource_config import Resources, load_resource_config
from gnn_assets.config.task_config import TaskConfig, freeze_task_config, load_task_config, write_frozen_config
from gnn_assets.graph.demo import generate_homogeneous_demo_graph, generate_typed_demo_graph
from gnn_assets.graph.enumeration import enumerate_graph_source
from gnn_assets.graph.sampler import sample_job
from gnn_assets.graph.source import GraphSource, write_graph_source
from gnn_assets.inference.task_specs import write_untrained_model
from gnn_assets.warehouse import open_warehouse
from gnn_assets.warehouse.unenumerate import load_node_id_mappings

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"


def write_local_resources(directory: Path, running_mode: str = "in_memory", num_workers: int = 1) -> Path:
    path = directory / "resources.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            storage: {{root: data, modelRoot: models}}
            localRunner: {{runningMode: {running_mode}, numWorkers: {num_workers}}}
            duckdb: {{path: warehouse.duckdb}}
            """
        )
    )
    return path


def write_task_config(directory: Path, base: str, **overrides) -> Path:
    """A copy of configs/<base>.yaml with gnnAssetsConfig / inferencerConfig fields overridden."""
    data = yaml.safe_load((CONFIGS / f"{base}.yaml").read_text())
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path = directory / f"{base}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class PreparedJob:
    job_name: str
    task_config_uri: str
    resources: Resources
    frozen: TaskConfig
    source: GraphSource


def prepare_job(
    directory: Path,
    base: str,
    source: GraphSource,
    job_name: str = "test-job",
    *,
    model_seed: int = 0,
    running_mode: str = "in_memory",
    **overrides,
) -> PreparedJob:
    """Graph source -> enumeration (+ mapping tables) -> samples -> untrained model, in a fresh deployment."""
    workers = 2 if running_mode == "multi_processing" else 1
    resources = load_resource_config(str(write_local_resources(directory, running_mode, workers)))
    task_uri = str(write_task_config(directory, base, **overrides))
    template = load_task_config(task_uri)
    write_graph_source(resources.layout.graph_source_dir(template.graph_name), source)
    report = enumerate_graph_source(resources.layout, template.graph_name)
    load_node_id_mappings(open_warehouse(resources), resources, template.graph_name, list(report.nodes))
    frozen = freeze_task_config(template, resources, job_name)
    write_frozen_config(frozen)
    sample_job(frozen, resources, progress=lambda _: None)
    write_untrained_model(frozen, model_seed)
    return PreparedJob(job_name, task_uri, resources, frozen, source)


@pytest.fixture(scope="session")
def small_typed_graph() -> GraphSource:
    return generate_typed_demo_graph(600, 400, seed=3)


@pytest.fixture(scope="session")
def small_homogeneous_graph() -> GraphSource:
    return generate_homogeneous_demo_graph(1000, seed=5)
