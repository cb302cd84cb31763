"""Which sampler writes a job's samples (gnnAssetsConfig.sampler.engine): LOCAL, numpy in this
process over the enumerated graph in memory, or BEAM, a Beam job hop by hop by joins. Both write
the same shards and manifests, and the same neighbourhoods for the same seed."""

from __future__ import annotations

from typing import Callable

from gnn_assets.config.job import Job
from gnn_assets.graph.sampler import SamplingReport, sample_job


def sample_with_engine(job: Job, progress: Callable[[str], None] = print, dagster_run_id: str | None = None) -> dict[str, SamplingReport]:
    if job.config.sampler_engine == "BEAM" and not job.config.is_layerwise:
        from gnn_assets.graph.beam_sampler import beam_sample_job  # Beam is imported only for a Beam job

        return beam_sample_job(job, progress, dagster_run_id)
    return sample_job(job.config, job.resources, progress)  # also refuses a LAYERWISE task
