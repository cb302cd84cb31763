"""The base of an incremental job (gnnAssetsConfig.incremental.baseJob), resolved and checked
once, before any work: a job of the same task and graph whose committed run kept its states,
computed with the same model file. The base is a job name, PREVIOUS (the task's other job
committed last) or SELF (the job's own last committed run: a scheduled re-run of the same model
on a new graph snapshot; its states stay in place until this run commits)."""

from __future__ import annotations

from dataclasses import dataclass

from gnn_assets.comparison.champion import previous_job
from gnn_assets.config.layout import job_layout
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig, load_task_config
from gnn_assets.incremental.errors import IncrementalRefused
from gnn_assets.incremental.kept import KeptRun, verify_kept_present
from gnn_assets.outputs.published import IncompleteOutput, NoCommittedOutput, NodeTypeOutput, read_committed


@dataclass(frozen=True)
class BaseJob:
    job_name: str
    run_id: str
    kept: KeptRun
    seconds: float  # the base job's own wall time
    outputs: dict[str, NodeTypeOutput]  # its committed output per root node type
    what: str  # how refusals name it


def resolve_base(config: TaskConfig, resources: Resources, model_sha256: str, progress=print) -> BaseJob | None:
    """The base, or None where baseJob is PREVIOUS or SELF and there is nothing yet to start
    from (the task's or the job's first run: it computes everything), or where the base kept its
    states in the layout of an earlier version (the whole job runs and keeps them anew: a job
    whose base is itself would otherwise never get past the refusal)."""
    where = f"{config.uri}: gnnAssetsConfig.incremental.baseJob {config.incremental_base_job}"
    name = config.incremental_base_job
    if name == "PREVIOUS":
        name = previous_job(resources, config.task_name, config.job_name)
        if name is None:
            return None
    elif name == "SELF":
        name = config.job_name
    layout = job_layout(resources.layout, config.task_name, name)
    try:
        manifest = read_committed(layout)
    except NoCommittedOutput as error:
        if config.incremental_base_job == "SELF":
            return None
        raise IncrementalRefused(f"{where}: job {name!r} cannot be the base: {error}") from None
    except IncompleteOutput as error:
        raise IncrementalRefused(f"{where}: job {name!r} cannot be the base: {error}") from None
    base_config = load_task_config(layout.frozen_config_uri)
    if base_config.graph_name != config.graph_name:
        raise IncrementalRefused(f"{where}: job {name!r} read graph {base_config.graph_name!r}, this job reads {config.graph_name!r}")
    if "kept" not in manifest.details:
        raise IncrementalRefused(f"{where}: job {name!r} did not keep its states; run it with gnnAssetsConfig.layerwise.keepStates: true")
    try:
        kept = KeptRun.from_dict(manifest.details["kept"])
    except (KeyError, TypeError):
        progress(f"{where}: job {name!r} kept its states in the layout of an earlier version: computing every node (and keeping them anew)")
        return None
    if kept.model_sha256 != model_sha256:
        raise IncrementalRefused(
            f"{where}: job {name!r} ran another model file (sha256 {kept.model_sha256[:12]}…, this job's {model_sha256[:12]}…); "
            "an incremental job reuses its states, so the model must be the same"
        )
    verify_kept_present(kept, f"{where}: job {name!r}")
    return BaseJob(name, manifest.run_id, kept, manifest.seconds, manifest.outputs, f"{where}: job {name!r}")
