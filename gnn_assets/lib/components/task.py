"""The task Component: one GbmlConfig template becomes its whole chain, partitioned by job name,
with its checks, drift, link candidates, deployment, jobs, schedule and automation.

An instance is a folder under defs/ holding defs.yaml and the template it names; `dg scaffold
defs gnn_assets.lib.components.GnnTaskComponent tasks/<task>` writes both. A template that does
not load, or names a graph no instance defines, takes only its own instance out: it becomes one
asset that shows the error (file and field).
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator, model_validator

from gnn_assets.config.errors import ConfigError
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import TaskConfig, load_task_config
from gnn_assets.lib.candidates.assets import build_candidate_assets
from gnn_assets.lib.edge_tasks.assets import build_edge_prediction_assets
from gnn_assets.lib.common import job_partitions, task_asset_key
from gnn_assets.lib.comparison.assets import build_drift_assets
from gnn_assets.lib.components.deployment import project_deployment
from gnn_assets.lib.components.graph import GnnGraphComponent
from gnn_assets.lib.components.labels import AssetLabels, map_specs
from gnn_assets.lib.components.scaffolders import TaskScaffolder
from gnn_assets.lib.graphs.assets import node_id_mapping_key
from gnn_assets.lib.inference.assets import build_task_assets
from gnn_assets.lib.inference.checks import build_task_checks
from gnn_assets.lib.inference.invalid_configs import build_invalid_template_asset
from gnn_assets.lib.inference.schedules import build_daily_refresh_schedule
from gnn_assets.lib.inference.sensors import TRIGGER_TAG, build_trained_model_sensor
from gnn_assets.lib.serving.assets import build_deployment_assets
from gnn_assets.errors import UserError

_log = logging.getLogger("gnn_assets.lib.components")
# What the task's sensor (<task>_new_trained_model) materializes; everything after them follows by automation.
_INTAKE = ("frozen_config", "trained_model")
MAX_WINDOW_HOURS = 24 * 366 * 10


class Freshness(dg.Model, dg.Resolvable):
    """How old a task's newest embeddings may be (FreshnessPolicy.time_window)."""

    fail_window_hours: float = Field(description="Embeddings older than this fail their freshness (a minute to ten years).")
    warn_window_hours: float | None = Field(default=None, description="Older than this (and younger than the fail window) warns.")

    @field_validator("fail_window_hours", "warn_window_hours", mode="before")
    @classmethod
    def _hours(cls, value: Any, info) -> Any:
        # YAML reads 1e300 or 1e-9 (no dot) as text: a number of hours written so is one; other text is not.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise ValueError(f"{info.field_name}: {value[:40]!r} is not a number of hours") from None
        return value

    @field_validator("fail_window_hours", "warn_window_hours", mode="after")
    @classmethod
    def _window(cls, hours: float | None, info) -> float | None:
        # Checked here, not as Field constraints: Dagster applies those to the YAML text before
        # conversion, and its error then names no field. Its windows are timedeltas, which
        # overflow past years and round a microsecond to nothing.
        if hours is not None and not (math.isfinite(hours) and 1 / 60 <= hours <= MAX_WINDOW_HOURS):
            raise ValueError(f"{info.field_name}: {hours!r} is not between a minute (0.0167) and ten years ({MAX_WINDOW_HOURS:,}) in hours")
        return hours

    @model_validator(mode="after")
    def _warn_before_fail(self) -> Freshness:
        if self.warn_window_hours is not None and self.warn_window_hours >= self.fail_window_hours:
            raise ValueError("warn_window_hours must be shorter than fail_window_hours")
        return self

    def policy(self) -> dg.FreshnessPolicy:
        return dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=self.fail_window_hours),
            warn_window=timedelta(hours=self.warn_window_hours) if self.warn_window_hours is not None else None,
        )


Automation = Literal["on_new_model", "on_new_model_or_graph", "none"]


def chain_condition(graph_key: dg.AssetKey, follow_graph: bool) -> dg.AutomationCondition:
    """AutomationCondition.eager(), except that a new enumeration of the graph counts as an update
    only when follow_graph: re-running every job of a task whenever its graph changes is a choice."""
    updated = dg.AutomationCondition.any_deps_updated()
    if not follow_graph:
        updated = updated.ignore(dg.AssetSelection.keys(graph_key))
    return (
        dg.AutomationCondition.in_latest_time_window()
        & (dg.AutomationCondition.newly_missing() | updated).since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("eager, on a new model or graph" if follow_graph else "eager, on a new model")


@dg.scaffold_with(TaskScaffolder)
class GnnTaskComponent(dg.Component, AssetLabels, dg.Resolvable):
    """A GNN inference task: its GbmlConfig template becomes the chain frozen_config -> trained_model ->
    (sampled_subgraphs) -> raw_embeddings -> embeddings (+ predictions), partitioned by job name, with
    its checks, drift, link candidates and deployed_model, an inference job and a daily refresh."""

    template: str = Field(description="The task's GbmlConfig template (GiGL YAML), relative to this instance's folder.")
    automation: Automation = Field(
        default="on_new_model",
        description=(
            "on_new_model: the chain after trained_model runs when a new model is materialized (the <task>_new_trained_model "
            "sensor does that for new model files); on_new_model_or_graph: also, for every job that ran, when the "
            "graph is enumerated again; none: only what is launched."
        ),
    )
    freshness: Freshness | None = Field(default=None, description="A freshness window for the task's embeddings.")
    runner_overrides: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Fields of the deployment's runner (localRunner or dataflowRunner) this task sets otherwise, "
            "e.g. {maxNumWorkers: 200, machineType: n2-highmem-16}."
        ),
    )

    # Where the instance lies and its template, loaded once: the other task instances read its
    # task name to tell whether two claim the same one.
    _folder: Path | None = PrivateAttr(default=None)
    _loaded: TaskConfig | UserError | None = PrivateAttr(default=None)

    @classmethod
    def load(cls, attributes, context: dg.ComponentLoadContext) -> GnnTaskComponent:
        component = super().load(attributes, context)
        component._folder = Path(context.path)
        return component

    def _template(self, context: dg.ComponentLoadContext) -> TaskConfig:
        """The instance's template, loaded once (its error, raised again, when it does not load)."""
        if self._loaded is None:
            folder = self._folder or Path(context.path)
            template_uri = (folder / self.template).resolve()
            try:
                if not template_uri.is_relative_to(context.project_root.resolve()):
                    raise ConfigError(f"{folder / 'defs.yaml'}: template {self.template!r} lies outside the project")
                self._loaded = load_task_config(str(template_uri))
            except UserError as error:
                self._loaded = error
        if isinstance(self._loaded, UserError):
            raise self._loaded
        return self._loaded

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        template_uri = str((context.path / self.template).resolve())
        try:
            template = self._template(context)
            self._check_unique_task_name(context, template)
            return self._chain(context, template)
        except (UserError, dg.DagsterInvalidDefinitionError) as error:
            # One broken instance must not take the other tasks, the sensors and the schedules down.
            where = Path(context.path, "defs.yaml")
            _log.warning("task instance %s does not load: %s", where, error)
            return dg.Definitions(assets=[build_invalid_template_asset(_instance_name(context), template_uri, error)])

    def _check_unique_task_name(self, context: dg.ComponentLoadContext, template: TaskConfig) -> None:
        """Two instances of one task name would define the same assets: both are taken out, each
        naming the other's folder (a copied folder keeps its template's file name, so its task name)."""
        claiming = []
        for other in context.component_tree.get_all_components(of_type=GnnTaskComponent):
            try:
                if other._template(context).task_name == template.task_name:
                    claiming.append(other._folder)
            except UserError:
                continue  # a broken instance claims nothing: it shows its own error
        if len(claiming) > 1:
            folders = ", ".join(str(Path(f or "?").relative_to(context.defs_module_path)) for f in sorted(claiming, key=str))
            raise ConfigError(
                f"task name {template.task_name!r} is claimed by {len(claiming)} instances ({folders}): rename the "
                "template file or set gnnAssetsConfig.taskName in all but one"
            )

    def _chain(self, context: dg.ComponentLoadContext, template: TaskConfig) -> dg.Definitions:
        resource_config_uri, resources = project_deployment(context)
        self._check_graph(context, template)
        if self.runner_overrides:  # refused here, at load, rather than in the job
            load_resource_config(resource_config_uri, self.runner_overrides)
        task = template.task_name
        assets = build_task_assets(template, resources.warehouse_kind, resources.runner_kind, self.runner_overrides)
        chain = dg.Definitions.merge(
            dg.Definitions(assets=assets, asset_checks=build_task_checks(template)),
            build_drift_assets(template),
            build_candidate_assets(template, resources.warehouse_kind, self.runner_overrides),
            build_edge_prediction_assets(template, resources.warehouse_kind, self.runner_overrides),
        )
        keys = [key for a in chain.assets for key in a.keys]
        inference_job = dg.define_asset_job(
            f"{task}_inference",
            selection=dg.AssetSelection.assets(*keys),
            partitions_def=job_partitions(task),
            description=f"The {task} chain for one job: frozen config to embeddings, with its checks.",
            executor_def=dg.in_process_executor,
        )
        defs = dg.Definitions.merge(
            chain,
            dg.Definitions(jobs=[inference_job], schedules=[build_daily_refresh_schedule(task, inference_job)]),
            build_deployment_assets(template),
        )
        defs = map_specs(defs, keys, self.label)
        intake = [task_asset_key(task, name) for name in _INTAKE]
        defs = map_specs(defs, intake, lambda spec: spec.replace_attributes(tags={**spec.tags, **TRIGGER_TAG}))
        defs = dg.Definitions.merge(defs, dg.Definitions(sensors=[build_trained_model_sensor(task, intake)]))
        if self.automation != "none":
            condition = chain_condition(node_id_mapping_key(template.graph_name), self.automation == "on_new_model_or_graph")
            after_intake = [key for key in keys if key.path[-1] not in _INTAKE]
            defs = map_specs(defs, after_intake, lambda spec: spec.replace_attributes(automation_condition=condition))
        if self.freshness is not None:
            policy = self.freshness.policy()
            defs = map_specs(defs, [task_asset_key(task, "embeddings")], lambda spec: spec.replace_attributes(freshness_policy=policy))
        return defs

    @staticmethod
    def _check_graph(context: dg.ComponentLoadContext, template: TaskConfig) -> None:
        graphs = sorted(g.graph_name for g in context.component_tree.get_all_components(of_type=GnnGraphComponent))
        if template.graph_name not in graphs:
            raise ConfigError(
                f"{template.uri}: gnnAssetsConfig.graphName {template.graph_name!r} names no graph instance "
                f"(the project's graphs: {', '.join(graphs) or 'none'}); check the name, or add one with "
                f"`dg scaffold defs gnn_assets.lib.components.GnnGraphComponent graphs/{template.graph_name}`"
            )


def _instance_name(context: dg.ComponentLoadContext) -> str:
    """The instance's folder under defs/tasks/ (or defs/), unique where template names need not be."""
    relative = Path(context.path).resolve().relative_to(context.defs_module_path.resolve()).parts
    return "__".join(relative[1:] if len(relative) > 1 and relative[0] == "tasks" else relative)
