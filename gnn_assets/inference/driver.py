"""The inference component, GiGL-style: freeze the config, run the Beam job, un-enumerate.

    python -m gnn_assets.inference --job_name J --task_config_uri T --resource_config_uri R
        [--custom_worker_image_uri I] [--stages infer,unenumerate]

The Dagster assets run this same entry point, so a job behaves the same by hand and in Dagster.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

from gnn_assets import storage
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import TaskConfig, freeze_task_config, load_task_config, write_frozen_config
from gnn_assets.graph.source import GraphSourceError
from gnn_assets.inference.pipeline import DeadLetterThresholdExceeded, InferenceJobResult, NoSamplesError, run_inference_job
from gnn_assets.inference.protocol import ModelMismatchError, load_inferencer
from gnn_assets.warehouse import UnenumerationReport, open_warehouse
from gnn_assets.warehouse.tables import InvalidTableName
from gnn_assets.warehouse.unenumerate import unenumerate_outputs

STAGES = ("infer", "unenumerate")
# Errors that say what is wrong in the user's inputs: printed as one line, no traceback.
USER_ERRORS = (ConfigError, GraphSourceError, ModelMismatchError, NoSamplesError, DeadLetterThresholdExceeded, InvalidTableName)


@dataclass
class InferenceRun:
    frozen_config: TaskConfig
    job: InferenceJobResult | None = None
    reports: dict[str, UnenumerationReport] = field(default_factory=dict)


def run(
    job_name: str,
    task_config_uri: str,
    resource_config_uri: str,
    *,
    custom_worker_image_uri: str | None = None,
    stages: Sequence[str] = STAGES,
    progress: Callable[[str], None] = print,
) -> InferenceRun:
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ConfigError(f"--stages: unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    resources = load_resource_config(resource_config_uri)
    frozen = freeze_task_config(load_task_config(task_config_uri), resources, job_name)
    write_frozen_config(frozen)
    progress(f"frozen config written to {frozen.uri}")
    run = InferenceRun(frozen)
    if frozen.proto.shared_config.should_skip_inference:
        progress("sharedConfig.shouldSkipInference is set: skipping inference")
        return run
    if "infer" in stages:
        # Build the model and load its weights here, so a model that does not fit its config
        # fails before any job is launched.
        load_inferencer(frozen)
        progress(f"model {frozen.trained_model_uri} fits {frozen.proto.inferencer_config.inferencer_cls_path}")
        run.job = run_inference_job(frozen, resources, progress=progress, worker_image=custom_worker_image_uri)
        storage.write_text(
            resources.layout.job(frozen.task_name, job_name).inference_result_uri, json.dumps(dataclasses.asdict(run.job), indent=2, sort_keys=True)
        )
    if "unenumerate" in stages:
        run.reports = unenumerate_outputs(frozen, resources, open_warehouse(resources), progress=progress)
    return run


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gnn_assets.inference", description=__doc__.splitlines()[0])
    parser.add_argument("--job_name", required=True, help="job name, [a-z]([-a-z0-9]*[a-z0-9])?")
    parser.add_argument("--task_config_uri", required=True, help="GbmlConfig template YAML")
    parser.add_argument("--resource_config_uri", required=True, help="resource config YAML (resources/*.yaml)")
    parser.add_argument("--custom_worker_image_uri", help="Dataflow worker image, overriding the resource config")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(
            args.job_name,
            args.task_config_uri,
            args.resource_config_uri,
            custom_worker_image_uri=args.custom_worker_image_uri,
            stages=[s for s in args.stages.split(",") if s],
            progress=lambda line: print(line, flush=True),
        )
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0
