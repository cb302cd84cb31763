"""Deployments for tests: a local resource config, demo task configs with fields overridden,
a prepared job (graph enumerated, samples, an untrained model), and a Dagster project of its own
(a dg project whose defs/ folder holds Component instances) with a Dagster instance."""

from __future__ import annotations

import hashlib
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml
from dagster import DagsterInstance

from gnn_assets.config.resource_config import Resources, load_resource_config
from gnn_assets.config.task_config import (
    TaskConfig,
    freeze_task_config,
    load_task_config,
    write_frozen_config,
)
from gnn_assets.graph.enumeration import enumerate_graph_source
from gnn_assets.graph.sampler import sample_job
from gnn_assets.graph.source import GraphSource, write_graph_source
from gnn_assets.inference.task_specs import write_untrained_model
from gnn_assets.jobs.unenumerate import load_node_id_mappings
from gnn_assets.lib.components.instance_files import load_instances
from gnn_assets.warehouse import open_warehouse
from tests.support import REPO

BQ_PROJECT = "gnn-test-project"  # the BigQuery emulator's project

TASKS = REPO / "gnn_assets" / "defs" / "tasks"


def template_of(task: str) -> Path:
    """The GbmlConfig template of one of the project's demo task instances."""
    return TASKS / task / f"{task}.yaml"


def write_local_resources(
    directory: Path,
    running_mode: str = "in_memory",
    num_workers: int = 1,
    storage_root: str = "data",
    allowed_class_prefixes: list[str] | None = None,
    share_model_across_processes: bool | None = None,
    bigquery_dataset: str | None = None,
) -> Path:
    """A resource config for the local runner; storage_root may be a gs:// prefix (the emulator's);
    bigquery_dataset: the warehouse is that dataset of the BigQuery emulator's project, not DuckDB."""
    path = directory / "resources.yaml"
    if bigquery_dataset is None:
        warehouse = f"duckdb: {{path: '{directory / 'warehouse.duckdb'}'}}"
    else:
        warehouse = f"bigquery: {{project: {BQ_PROJECT}, dataset: {bigquery_dataset}}}"
    path.write_text(
        textwrap.dedent(
            f"""
            storage: {{root: '{storage_root}', modelRoot: models}}
            localRunner: {{runningMode: {running_mode}, numWorkers: {num_workers}}}
            """
        )
        + warehouse + "\n"
        + (f"allowedClassPrefixes: {allowed_class_prefixes}\n" if allowed_class_prefixes else "")
        + (f"shareModelAcrossProcesses: {str(share_model_across_processes).lower()}\n" if share_model_across_processes is not None else "")
    )
    return path


def write_task_config(directory: Path, base: str | Path, **overrides) -> Path:
    """A copy of the demo task <base>'s template (or of the file base names) with fields overridden by dotted path."""
    source = base if isinstance(base, Path) else template_of(base)
    data = yaml.safe_load(source.read_text())
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path = directory / source.name
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
    base: str | Path,
    source: GraphSource,
    job_name: str = "test-job",
    *,
    model_seed: int = 0,
    running_mode: str = "in_memory",
    num_workers: int = 1,
    storage_root: str = "data",
    allowed_class_prefixes: list[str] | None = None,
    share_model_across_processes: bool | None = None,
    bigquery_dataset: str | None = None,
    **overrides,
) -> PreparedJob:
    """Graph source -> enumeration (+ mapping tables) -> samples (sampled mode) -> untrained model, in a fresh deployment."""
    resources = load_resource_config(
        str(
            write_local_resources(
                directory, running_mode, num_workers, storage_root, allowed_class_prefixes, share_model_across_processes, bigquery_dataset
            )
        )
    )
    task_uri = str(write_task_config(directory, base, **overrides))
    template = load_task_config(task_uri)
    write_graph_source(resources.layout.graph_source_dir(template.graph_name), source)
    report = enumerate_graph_source(resources.layout, template.graph_name)
    load_node_id_mappings(open_warehouse(resources), resources, template.graph_name, list(report.nodes))
    frozen = freeze_task_config(template, resources, job_name)
    write_frozen_config(frozen)
    if not frozen.is_layerwise:  # a layer-wise job reads the graph, not samples
        sample_job(frozen, resources, progress=lambda _: None)
    write_untrained_model(frozen, model_seed, resources.model_policy)
    return PreparedJob(job_name, task_uri, resources, frozen, source)


# The Dagster deployment: the node classification demo task, materialized for PARTITION.
TASK = "demo_node_classification"
PARTITION = "fresh-job"


@dataclass
class Deployment:
    """A Dagster project of its own (pyproject.toml with [tool.dg], a package whose defs/ folder holds
    Component instances), as a user's project is: a deployment instance, graphs and tasks."""

    home: Path
    resource_config: Path
    root: Path
    package: str
    resources: Resources
    instance: DagsterInstance

    @property
    def defs_dir(self) -> Path:
        return self.root / self.package / "defs"

    def template(self, task: str) -> Path:
        return self.defs_dir / "tasks" / task / f"{task}.yaml"

    def write_task(self, base: str | Path, *, text: str | None = None, graph: bool = True, attributes: str = "", **overrides) -> Path:
        """A task instance: defs.yaml and its template (a demo task's, overridden by dotted path, or text),
        and, with graph, an instance of the graph its template names."""
        name = base.stem if isinstance(base, Path) else base
        folder = self.defs_dir / "tasks" / name
        folder.mkdir(parents=True, exist_ok=True)
        if text is None:
            path = write_task_config(folder, base, **overrides)
        else:
            path = folder / f"{name}.yaml"
            path.write_text(text)
        (folder / "defs.yaml").write_text(
            f"type: gnn_assets.lib.components.GnnTaskComponent\nattributes:\n  template: {path.name}\n{attributes}"
        )
        graph_name = ((yaml.safe_load(path.read_text()) or {}).get("gnnAssetsConfig") or {}).get("graphName")
        if graph and graph_name:
            self.write_graph(graph_name)
        return path

    def write_graph(self, graph_name: str) -> None:
        folder = self.defs_dir / "graphs" / graph_name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "defs.yaml").write_text(f"type: gnn_assets.lib.components.GnnGraphComponent\nattributes:\n  graph_name: {graph_name}\n")

    def definitions(self):
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        return load_instances(self.root / self.package)

    def env(self) -> dict[str, str]:
        return {"DAGSTER_HOME": str(self.home)}

    def code_location(self) -> tuple[Path, str]:
        """The project folder and the module of its code location, for a server started there."""
        return self.root, f"{self.package}.definitions"


def write_project(root: Path, resource_config: Path) -> str:
    """A dg project at root whose deployment instance names resource_config; returns its package."""
    package = "gnn_project_" + hashlib.sha256(str(root).encode()).hexdigest()[:12]
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "{package}"
            version = "0.0.0"

            [tool.dg]
            directory_type = "project"

            [tool.dg.project]
            root_module = "{package}"
            registry_modules = ["gnn_assets.lib.components"]

            [tool.dg.cli]
            suppress_warnings = ["project_and_activated_venv_mismatch"]
            """
        )
    )
    defs = root / package / "defs"
    (defs / "deployment").mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (defs / "__init__.py").write_text("")
    (root / package / "definitions.py").write_text(
        "from pathlib import Path\n\nfrom gnn_assets.lib.components.instance_files import load_instances\n\n"
        "defs = load_instances(Path(__file__).parent)\n"
    )
    (defs / "deployment" / "defs.yaml").write_text(
        f"type: gnn_assets.lib.components.GnnDeploymentComponent\nattributes:\n  resource_config: {resource_config}\n"
    )
    return package


def execution_events(result, event_type: str):
    return [e for e in result.all_events if e.event_type_value == event_type]


def make_deployment(root: Path, storage_root: str = "data", tasks: tuple[str, ...] = (TASK,), resource_config: Path | None = None) -> Deployment:
    """A Dagster instance and a project with the demo tasks named (each with its graph), on the local
    deployment or on resource_config."""
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    resource_config = resource_config or write_local_resources(root, storage_root=storage_root)
    package = write_project(root, resource_config)
    instance = DagsterInstance.from_config(str(home))
    deployment = Deployment(home, resource_config, root, package, load_resource_config(str(resource_config)), instance)
    for task in tasks:
        deployment.write_task(task)
    return deployment
