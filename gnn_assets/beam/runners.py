"""Beam pipeline options for the runner a resource config names."""

from __future__ import annotations

import logging
import os

from apache_beam.options.pipeline_options import PipelineOptions

from gnn_assets.config.errors import ConfigError
from gnn_assets.config.resource_config import Resources
from gnn_assets.errors import UserError
from gnn_assets.beam.dataflow_jobs import DAGSTER_RUN_LABEL


def beam_job_name(task_name: str, job_name: str) -> str:
    """Unique per task and job, and valid for Dataflow ([a-z]([-a-z0-9]*[a-z0-9])?)."""
    return f"gnn-{task_name.replace('_', '-')}-{job_name}"


def dataflow_console_url(project: str, region: str, job_id: str) -> str:
    return f"https://console.cloud.google.com/dataflow/jobs/{region}/{job_id}?project={project}"


class _InMemoryWorkersWarning(logging.Filter):
    """Drops FnApiRunner's warning that in_memory with numWorkers > 1 has no parallelism effect.
    It has: each stage's bundles run on that many in-process workers, threads of this process.
    They start faster than multi_threading's, which talk to the runner over gRPC."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("If direct_num_workers is not equal to 1, direct_running_mode")


_IN_MEMORY_WORKERS_WARNING = _InMemoryWorkersWarning()


def pipeline_options(
    resources: Resources, task_name: str, job_name: str, *, worker_image: str | None = None, dagster_run_id: str | None = None
) -> PipelineOptions:
    """worker_image (Dataflow's SDK container) overrides the resource config's; locally it has no
    meaning. A Dataflow job started by a Dagster run carries the run's id as a label, so that a
    job whose run is gone can be found and cancelled (automation/dataflow.py)."""
    if resources.runner_kind == "dataflow_runner":
        return PipelineOptions(dataflow_flags(resources, task_name, job_name, worker_image, dagster_run_id))
    if resources.runner_kind == "local_runner":
        local = resources.proto.local_runner
        logging.getLogger("apache_beam.runners.portability.fn_api_runner.fn_runner").addFilter(_IN_MEMORY_WORKERS_WARNING)
        # FnApiRunner, not DirectRunner: DirectRunner may try to download the Prism binary.
        # flags=[]: otherwise Beam parses this process's sys.argv (the CLI's own flags).
        return PipelineOptions(
            flags=[],
            runner="FnApiRunner",
            job_name=beam_job_name(task_name, job_name),
            direct_running_mode=local.running_mode or "in_memory",
            direct_num_workers=local.num_workers or 1,
            save_main_session=False,
        )
    raise ConfigError(f"{resources.uri}: runner {resources.runner_kind!r} is not supported by this version")


def torch_threads_per_worker(resources: Resources) -> int | None:
    """Intra-op threads for each worker's model, or None to leave torch's default (one per core).

    Several local workers share this machine's cores: each gets its share, at least one, so that
    N workers do not each start a thread per core and make the cores take turns. (Dataflow
    workers are left at torch's default.)
    """
    if resources.runner_kind != "local_runner":
        return None
    workers = resources.proto.local_runner.num_workers or 1
    return max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None


def dataflow_flags(
    resources: Resources, task_name: str, job_name: str, worker_image: str | None = None, dagster_run_id: str | None = None
) -> list[str]:
    """DataflowRunner flags, as one would type them, from resources/gcp.yaml's dataflowRunner."""
    cfg = resources.proto.dataflow_runner
    flags = [
        "--runner=DataflowRunner",
        f"--project={cfg.project}",
        f"--region={cfg.region}",
        f"--job_name={beam_job_name(task_name, job_name)}",
        f"--temp_location={cfg.temp_location}",
        f"--staging_location={cfg.staging_location or cfg.temp_location.rstrip('/') + '/staging'}",
    ]
    image = worker_image or cfg.worker_image
    if image:
        # The image holds this package and its dependencies: nothing else to stage.
        flags += [f"--sdk_container_image={image}", "--sdk_location=container"]
    for flag, value in (
        ("worker_machine_type", cfg.machine_type),
        ("num_workers", cfg.num_workers),
        ("max_num_workers", cfg.max_num_workers),
        ("disk_size_gb", cfg.disk_size_gb),
        ("autoscaling_algorithm", cfg.autoscaling_algorithm),
        ("service_account_email", cfg.service_account_email),
    ):
        if value:
            flags.append(f"--{flag}={value}")
    flags += [f"--experiments={e}" for e in cfg.experiments]
    labels = dict(cfg.labels)
    if dagster_run_id:
        labels[DAGSTER_RUN_LABEL] = dagster_run_id.lower()
    flags += [f"--labels={k}={v}" for k, v in sorted(labels.items())]
    if cfg.worker_accelerator:
        flags.append(f"--dataflow_service_options=worker_accelerator={cfg.worker_accelerator}")
    flags += [f"--resource_hints={k}={v}" for k, v in sorted(cfg.resource_hints.items())]
    if cfg.max_run_time_seconds:
        # GiGL has a timeout field that reaches nothing; this one is Dataflow's own limit.
        flags.append(f"--dataflow_service_options=max_workflow_runtime_walltime_seconds={cfg.max_run_time_seconds}")
    return flags


class BeamJobFailed(UserError, RuntimeError):
    """A Beam job ended in a state other than DONE."""


def run_to_completion(pipeline, resources: Resources, progress, what: str, watch=None):
    """Run a Beam job to its end: (result, job id, Dataflow console URL or None). Local runners
    run it inside pipeline.run(); a Dataflow job is waited for, and cancelled when this process
    is stopped. BeamJobFailed names the job when it did not end DONE.

    watch(result) gives a context manager held while the job runs (a progress reporter): called
    with None around a local run, with the Dataflow job's result while it is waited for. Local
    workers in this process (in_memory, multi_threading) set torch's threads to their share: this
    process gets its own count back when the job ends."""
    import contextlib
    import sys
    import uuid

    from apache_beam.runners.runner import PipelineState

    watching = watch or (lambda result: contextlib.nullcontext())
    job_id, console_url = f"local-{uuid.uuid4().hex[:12]}", None
    if resources.runner_kind != "dataflow_runner":
        torch = sys.modules.get("torch")  # only a process that loaded torch has threads to restore
        threads = torch.get_num_threads() if torch is not None else None
        try:
            with watching(None):
                result = pipeline.run()
                state = result.wait_until_finish()
        finally:
            if torch is not None:
                torch.set_num_threads(threads)
    else:
        result = pipeline.run()
        job_id = result.job_id()
        cfg = resources.proto.dataflow_runner
        console_url = dataflow_console_url(cfg.project, cfg.region, job_id)
        progress(f"Dataflow job {job_id}: {console_url}")
        try:
            with watching(result):
                state = result.wait_until_finish()
        except BaseException:  # the run was terminated (SIGTERM -> SystemExit) or interrupted
            progress(f"stopping: cancelling Dataflow job {job_id}")
            result.cancel()
            raise
    if state != PipelineState.DONE:
        raise BeamJobFailed(f"{what} {job_id} ended in state {state}" + (f"; see {console_url}" if console_url else ""))
    return result, job_id, console_url


def beam_counters(result, namespace_prefix: str, *, distributions: bool = False) -> dict[str, float]:
    """The finished job's counters whose namespace starts with namespace_prefix, as
    'namespace/name' -> committed value (summed over the steps that report it); with
    distributions, theirs too, as 'namespace/name.count' (.mean, .min, .max)."""
    from apache_beam.metrics.metric import MetricsFilter

    out: dict[str, float] = {}
    queried = result.metrics().query(MetricsFilter())
    for counter in queried["counters"]:
        if counter.key.metric.namespace.startswith(namespace_prefix):
            key = f"{counter.key.metric.namespace}/{counter.key.metric.name}"
            out[key] = out.get(key, 0) + (counter.committed or 0)
    for dist in queried["distributions"] if distributions else ():
        d = dist.committed
        if dist.key.metric.namespace.startswith(namespace_prefix) and d is not None and d.count:
            key = f"{dist.key.metric.namespace}/{dist.key.metric.name}"
            out.update({f"{key}.count": d.count, f"{key}.mean": d.mean, f"{key}.min": d.min, f"{key}.max": d.max})
    return out
