"""Which model a job is compared with (gnnAssetsConfig.champion), resolved once when the job runs.

The inference job runs the champion's model on the same input as the job's own (the same samples,
or the same graph layer-wise) and records in its manifest which champion it ran; embedding_drift
reads both outputs from that one run. The champion is:

- a job name: that job's model, as its committed output recorded it;
- PREVIOUS: the model of the task's other job whose output was committed last;
- DEPLOYED: the model the task's server is deployed with (serving/deployment.py).

A job is never its own champion, and a task's first job has no PREVIOUS: then there is none.
"""

from __future__ import annotations


from gnn_assets.config.layout import job_layout
from gnn_assets import storage
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig, load_task_config
from gnn_assets.outputs.champion import Champion
from gnn_assets.outputs.published import IncompleteOutput, NoCommittedOutput, read_committed


def _committed_jobs(resources: Resources, task_name: str) -> dict[str, str]:
    """Job name -> when its output was committed, for the task's jobs with committed output."""
    root = storage.join(resources.layout.root, "jobs", task_name)
    committed = {}
    for job_name in storage.child_names(root):
        try:
            committed[job_name] = read_committed(job_layout(resources.layout, task_name, job_name)).committed_at
        except (NoCommittedOutput, IncompleteOutput, ValueError):
            continue  # never run, failed, or not a job folder
    return committed


def previous_job(resources: Resources, task_name: str, job_name: str) -> str | None:
    """The task's other job whose output was committed last (PREVIOUS), or None."""
    others = {j: t for j, t in _committed_jobs(resources, task_name).items() if j != job_name}
    return max(others, key=lambda j: (others[j], j)) if others else None


def _champion_job(config: TaskConfig, resources: Resources) -> tuple[str, str | None] | None:
    """(job name, model sha256 when the deployment names it) or None."""
    if config.champion == "DEPLOYED":
        from gnn_assets.serving.deployment import NoDeployment, read_deployment

        try:
            deployed = read_deployment(resources.layout, config.task_name)
        except NoDeployment:
            return None
        return deployed.job_name, deployed.model_sha256
    if config.champion == "PREVIOUS":
        previous = previous_job(resources, config.task_name, config.job_name)
        return (previous, None) if previous else None
    return config.champion, None


def resolve_champion(config: TaskConfig, resources: Resources) -> Champion | None:
    """The champion of a frozen config's job, or None (no champion named, none yet, or itself).
    A champion that cannot run on this job's input (another graph, task or root node types) or
    whose output was never committed is refused in one line."""
    if not config.champion:
        return None
    found = _champion_job(config, resources)
    if found is None or found[0] == config.job_name:
        return None
    job_name, deployed_sha256 = found
    layout = job_layout(resources.layout, config.task_name, job_name)
    where = f"{config.uri}: gnnAssetsConfig.champion {config.champion}"
    try:
        manifest = read_committed(layout)
    except (NoCommittedOutput, IncompleteOutput) as error:
        raise ConfigError(f"{where}: job {job_name!r} cannot be the champion: {error}") from error
    champion_config = load_task_config(layout.frozen_config_uri)
    for what, ours, theirs in (
        ("graph", config.graph_name, champion_config.graph_name),
        ("task kind", config.task_kind.value, champion_config.task_kind.value),
        ("root node types", config.root_node_types, champion_config.root_node_types),
    ):
        if ours != theirs:
            raise ConfigError(f"{where}: job {job_name!r} has another {what} ({theirs} vs {ours}), so it cannot run on this job's input")
    resources.model_policy.check_class_path(
        champion_config.proto.inferencer_config.inferencer_cls_path, f"{champion_config.uri}: inferencerConfig.inferencerClsPath"
    )
    return Champion(job_name, champion_config, deployed_sha256 or manifest.model_sha256)
