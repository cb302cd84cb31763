"""Beam pipeline options for the runner a resource config names."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from gnn_assets.config.errors import ConfigError
from gnn_assets.config.resource_config import Resources


def beam_job_name(job_name: str) -> str:
    """Dataflow-valid ([a-z]([-a-z0-9]*[a-z0-9])?), since job names already follow that rule."""
    return f"gnn-assets-{job_name}"


def pipeline_options(resources: Resources, job_name: str, *, worker_image: str | None = None) -> PipelineOptions:
    """worker_image (Dataflow's SDK container) has no meaning for the local runner."""
    if resources.runner_kind == "local_runner":
        local = resources.proto.local_runner
        # FnApiRunner, not DirectRunner: DirectRunner may try to download the Prism binary.
        # flags=[]: otherwise Beam parses this process's sys.argv (the CLI's own flags).
        return PipelineOptions(
            flags=[],
            runner="FnApiRunner",
            job_name=beam_job_name(job_name),
            direct_running_mode=local.running_mode or "in_memory",
            direct_num_workers=local.num_workers or 1,
            save_main_session=False,
        )
    raise ConfigError(f"{resources.uri}: runner {resources.runner_kind!r} is not supported by this version")
