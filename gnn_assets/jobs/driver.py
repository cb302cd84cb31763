"""The inference component, GiGL-style: freeze the config, run the Beam job, un-enumerate.

    python -m gnn_assets.inference --job_name J --task_config_uri T --resource_config_uri R
        [--custom_worker_image_uri I] [--stages infer,unenumerate,candidates,edges]
        [--frozen_config_sha256 H] [--trained_model_sha256 H]

The Dagster assets run this same entry point, so a job behaves the same by hand and in Dagster.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

from gnn_assets import storage
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.job import Job
from gnn_assets.config.layout import JobLayout
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import TaskConfig, freeze_task_config, load_task_config, write_frozen_config
from gnn_assets.errors import UserError

if TYPE_CHECKING:
    from gnn_assets.outputs.candidates import CandidatesManifest
    from gnn_assets.outputs.edge_predictions import EdgePredictionsManifest
    from gnn_assets.outputs.published import InferenceJobResult
    from gnn_assets.warehouse import UnenumerationReport
    from gnn_assets.warehouse.protocol import LinkTableReport

# candidates: the link candidates stage, for link prediction tasks with gnnAssetsConfig.linkCandidates.k.
# edges: the edge predictions stage, for edge tasks (linkBasedTaskMetadata).
STAGES = ("infer", "unenumerate", "candidates", "edges")


@dataclass
class InferenceRun:
    frozen_config: TaskConfig
    job_layout: JobLayout
    job: InferenceJobResult | None = None
    reports: dict[str, UnenumerationReport] = field(default_factory=dict)
    candidates: CandidatesManifest | None = None
    candidate_reports: dict[str, LinkTableReport] = field(default_factory=dict)
    candidate_recall: dict[str, dict] = field(default_factory=dict)
    edges: EdgePredictionsManifest | None = None
    edge_reports: dict[str, LinkTableReport] = field(default_factory=dict)
    edge_quality: dict[str, dict] = field(default_factory=dict)


def run(
    job_name: str,
    task_config_uri: str,
    resource_config_uri: str,
    *,
    custom_worker_image_uri: str | None = None,
    runner_overrides: Mapping[str, Any] | None = None,
    stages: Sequence[str] = STAGES,
    progress: Callable[[str], None] = print,
    frozen_config_sha256: str | None = None,
    trained_model_sha256: str | None = None,
    dagster_run_id: str | None = None,
) -> InferenceRun:
    """frozen_config_sha256 and trained_model_sha256: the hashes recorded when Dagster's
    frozen_config and trained_model were materialized; the job refuses a config or model file
    that changed since. Without them, the config frozen here and the hash of the model file
    validated here are what every worker uses and verifies."""
    if not stages:
        raise ConfigError(f"--stages: no stage given; choose from {', '.join(STAGES)}")
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ConfigError(f"--stages: unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    resources = load_resource_config(resource_config_uri, runner_overrides)
    frozen = _frozen_config(task_config_uri, resources, job_name, frozen_config_sha256, progress)
    job = Job.of(frozen, resources)
    run = InferenceRun(frozen, job.layout)
    if frozen.proto.shared_config.should_skip_inference:
        progress("sharedConfig.shouldSkipInference is set: skipping inference")
        return run
    resources.model_policy.check_class_path(frozen.proto.inferencer_config.inferencer_cls_path, f"{task_config_uri}: inferencerConfig.inferencerClsPath")
    if ("infer" in stages or ("edges" in stages and frozen.task_kind.is_edge_based)) and not storage.exists(frozen.trained_model_uri):
        raise ConfigError(
            f"trained model {frozen.trained_model_uri} cannot be read: no such file "
            "(sharedConfig.trainedModelMetadata.trainedModelUri, or the job's file under the model root)"
        )
    # Torch and Beam are imported only now, past every cheap check: --help and input errors answer at once.
    from gnn_assets.comparison.champion import resolve_champion
    from gnn_assets.inference.protocol import load_inferencer, resolve_device
    from gnn_assets.jobs.unenumerate import unenumerate_outputs
    from gnn_assets.warehouse import open_warehouse

    warehouse = open_warehouse(resources)
    loaded = None
    if "infer" in stages:
        # Build the model and load its weights here, so a model that does not fit its config
        # fails before any job is launched.
        loaded = load_inferencer(frozen, resources.model_policy, trained_model_sha256)
        if resources.runner_kind != "dataflow_runner":  # local workers run on this machine's devices (Dataflow's on theirs)
            resolve_device(resources.device)
        model = loaded.weights
        progress(f"model {frozen.trained_model_uri} (sha256 {model.sha256[:12]}) fits {frozen.proto.inferencer_config.inferencer_cls_path}")
        champion, champion_loaded = resolve_champion(frozen, resources), None
        if champion is not None:
            # Loaded here too, so that a champion whose file changed or does not fit fails before the job.
            champion_loaded = load_inferencer(champion.config, resources.model_policy, champion.model_sha256)
            progress(f"champion ({frozen.champion}): job {champion.job_name}, model sha256 {champion.model_sha256[:12]}; it runs on the same input")
        elif frozen.champion:
            progress(f"no champion to run beside this job yet (gnnAssetsConfig.champion {frozen.champion})")
        if "unenumerate" in stages:
            warehouse.ensure_writable()  # a warehouse locked by someone else fails now, not after the job
        if frozen.is_layerwise:
            from gnn_assets.layerwise.frame import run_layerwise

            engine = _layerwise_engine(frozen, dagster_run_id)
            run.job = run_layerwise(job, loaded, engine, progress=progress, champion=champion, champion_loaded=champion_loaded)
        else:
            from gnn_assets.inference.pipeline import run_inference_job

            run.job = run_inference_job(
                job,
                model_sha256=model.sha256,
                progress=progress,
                worker_image=custom_worker_image_uri,
                dagster_run_id=dagster_run_id,
                champion=champion,
            )
    if "unenumerate" in stages:
        run.reports = unenumerate_outputs(job, warehouse, progress=progress)
    if "candidates" in stages:
        if not frozen.link_candidates_k:
            progress("no link candidates: gnnAssetsConfig.linkCandidates.k is 0")
        else:
            from gnn_assets.candidates.job import candidate_recall, run_candidates_job
            from gnn_assets.jobs.unenumerate import publish_link_candidates

            run.candidates = run_candidates_job(job, progress=progress, dagster_run_id=dagster_run_id)
            run.candidate_reports = publish_link_candidates(job, warehouse, progress=progress)
            run.candidate_recall = candidate_recall(job, run.candidates)
            for name, recall in run.candidate_recall.items():
                progress(f"{name}: {recall['metric']} {recall['value']:.3f} on {recall['count']:,} held-out edges (random: {recall['baseline']:.4f})")
    if "edges" in stages:
        if not frozen.task_kind.is_edge_based:
            progress("no edge predictions: the task is not an edge task (taskMetadata.linkBasedTaskMetadata)")
        else:
            from gnn_assets.edge_tasks.score import run_edge_predictions
            from gnn_assets.jobs.unenumerate import publish_edge_predictions
            from gnn_assets.training.evaluation import edge_quality

            loaded = loaded or load_inferencer(frozen, resources.model_policy, trained_model_sha256)
            run.edges = run_edge_predictions(job, loaded, progress=progress)
            run.edge_reports = publish_edge_predictions(job, warehouse, progress=progress)
            run.edge_quality = {name: q.to_dict() for name, q in edge_quality(frozen, resources).items()}
            for name, quality in run.edge_quality.items():
                progress(f"{name}: held-out {quality['metric']} {quality['value']:.4g} on {quality['count']:,} edges (baseline {quality['baseline']:.4g})")
    return run


def _frozen_config(task_config_uri: str, resources, job_name: str, recorded_sha256: str | None, progress) -> TaskConfig:
    """The job's frozen config, frozen once. Given a template, it is frozen for job_name and
    written (and must hash as recorded, when a hash is given); given the job's frozen config
    (as Dagster passes it, frozen when frozen_config was materialized), it is read as it is and
    must still hash as recorded."""
    config = load_task_config(task_config_uri)
    if config.job_name:  # frozen: only freezing fills in the job name
        if config.job_name != job_name:
            raise ConfigError(f"{task_config_uri}: a config frozen for job {config.job_name!r}, not for --job_name {job_name!r}")
        if recorded_sha256 and config.sha256 != recorded_sha256:
            raise ConfigError(
                f"{task_config_uri} changed since frozen_config recorded it (sha256 {config.sha256[:12]}..., recorded "
                f"{recorded_sha256[:12]}...): materialize frozen_config again"
            )
        progress(f"frozen config {task_config_uri} (sha256 {config.sha256[:12]})")
        return config
    frozen = freeze_task_config(config, resources, job_name)
    if recorded_sha256 and frozen.sha256 != recorded_sha256:
        raise ConfigError(
            f"{task_config_uri}: the config frozen for job {job_name!r} differs from the one frozen_config recorded "
            f"(sha256 {frozen.sha256[:12]}... vs {recorded_sha256[:12]}...): the template or the deployment changed; "
            "materialize frozen_config again"
        )
    write_frozen_config(frozen)
    progress(f"frozen config written to {frozen.uri}")
    return frozen


def _layerwise_engine(frozen: TaskConfig, dagster_run_id: str | None):
    """layerwise.engine: LOCAL (default) or BEAM."""
    if frozen.layerwise_engine == "BEAM":
        from gnn_assets.layerwise.beam import BeamEngine

        return BeamEngine(dagster_run_id)
    from gnn_assets.layerwise.local import LocalEngine

    return LocalEngine()


_MAX_JSON_DEPTH = 8  # runner fields nest two deep; deeper is a mistake or an attack


def _depth(value: Any) -> int:
    """How deeply a JSON value nests (iteratively: a hostile value must not exhaust the stack)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth <= _MAX_JSON_DEPTH and isinstance(item, (dict, list)):
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _json_object(text: str) -> dict[str, Any]:
    if len(text) > 65_536:
        raise argparse.ArgumentTypeError(f"{len(text):,} characters; at most 65,536")
    try:
        value = json.loads(text)
    except RecursionError:
        raise argparse.ArgumentTypeError(f"nested more than {_MAX_JSON_DEPTH} deep") from None
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from None
    if _depth(value) > _MAX_JSON_DEPTH:
        raise argparse.ArgumentTypeError(f"nested more than {_MAX_JSON_DEPTH} deep")
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("not a JSON object")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gnn_assets.inference", description=__doc__.splitlines()[0])
    parser.add_argument("--job_name", required=True, help="job name, [a-z]([-a-z0-9]*[a-z0-9])?")
    parser.add_argument("--task_config_uri", required=True, help="GbmlConfig template YAML")
    parser.add_argument("--resource_config_uri", required=True, help="resource config YAML (resources/*.yaml)")
    parser.add_argument("--custom_worker_image_uri", help="Dataflow worker image, overriding the resource config")
    parser.add_argument(
        "--runner_overrides",
        type=_json_object,
        help='JSON object of runner fields this job sets otherwise, e.g. \'{"maxNumWorkers": 200}\' (a task Component\'s runnerOverrides)',
    )
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--frozen_config_sha256", help="refuse to run unless the frozen config has this SHA-256 (as recorded)")
    parser.add_argument("--trained_model_sha256", help="refuse the model file unless it has this SHA-256 (as validated)")
    return parser.parse_args(argv)


def candidates_metadata(run: InferenceRun) -> dict[str, dict]:
    """What Dagster shows for the link candidates stage."""
    found = run.candidates
    from gnn_assets.graph.enumerated_layout import edge_type_name

    tables = {edge_type_name(e): t for e, t in run.frozen_config.link_candidates_tables().items()}
    return {
        "k": {"raw_value": found.k, "type": "int"},
        "score": {"raw_value": found.score, "type": "text"},
        "exclude_existing_edges": {"raw_value": found.exclude_existing_edges, "type": "bool"},
        "dagster/row_count": {"raw_value": sum(e.rows for e in found.edges.values()), "type": "int"},
        "sources": {"raw_value": {n: e.sources for n, e in found.edges.items()}, "type": "json"},
        "seconds": {"raw_value": round(found.seconds, 2), "type": "float"},
        "candidates_per_second": {"raw_value": round(sum(e.sources for e in found.edges.values()) / max(found.seconds, 1e-9), 1), "type": "float"},
        "tables": {"raw_value": tables, "type": "json"},
        "unenumeration": {"raw_value": {t: r.to_dict() for t, r in run.candidate_reports.items()}, "type": "json"},
        "held_out_recall": {"raw_value": run.candidate_recall, "type": "json"},
        "run_id": {"raw_value": found.run_id, "type": "text"},
        "inference_run_id": {"raw_value": found.inference_run_id, "type": "text"},
        "runner": {"raw_value": found.runner, "type": "text"},
        "beam_metrics": {"raw_value": found.metrics, "type": "json"},
    }


def edges_metadata(run: InferenceRun) -> dict[str, dict]:
    """What Dagster shows for the edge predictions stage (Pipes metadata: raw value and type)."""
    from gnn_assets.graph.enumerated_layout import edge_type_name

    found = run.edges
    tables = {edge_type_name(e): t for e, t in run.frozen_config.edge_predictions_tables().items()}
    out = {
        "dagster/row_count": {"raw_value": sum(e.rows for e in found.edges.values()), "type": "int"},
        "rows_per_edge_type": {"raw_value": {n: e.rows for n, e in found.edges.items()}, "type": "json"},
        "unscored_edges": {"raw_value": {n: e.unscored for n, e in found.edges.items()}, "type": "json"},
        "seconds": {"raw_value": round(found.seconds, 2), "type": "float"},
        "tables": {"raw_value": tables, "type": "json"},
        "unenumeration": {"raw_value": {t: r.to_dict() for t, r in run.edge_reports.items()}, "type": "json"},
        "held_out_quality": {"raw_value": run.edge_quality, "type": "json"},
        "run_id": {"raw_value": found.run_id, "type": "text"},
        "inference_run_id": {"raw_value": found.inference_run_id, "type": "text"},
    }
    if len(tables) == 1:
        out["dagster/table_name"] = {"raw_value": next(iter(tables.values())), "type": "text"}
    for name, quality in run.edge_quality.items():  # numbers the asset page plots
        out[f"held_out_{quality['metric']} ({name})"] = {"raw_value": quality["value"], "type": "float"}
        out[f"baseline_{quality['metric']} ({name})"] = {"raw_value": quality["baseline"], "type": "float"}
        for figure, value in quality["extra"].items():
            out[f"held_out_{figure} ({name})"] = {"raw_value": value, "type": "float"}
    return out


def materialization_metadata(run: InferenceRun) -> dict[str, dict]:
    """What Dagster shows for the inference step (Pipes metadata: raw value and type)."""
    job = run.job
    # File lists stay in the manifest: a job of thousands of shards would flood the UI.
    outputs = {
        t: {**{k: v for k, v in dataclasses.asdict(o).items() if k not in ("files", "base_layers")}, "layers": len(o.base_layers) + 1}
        for t, o in job.outputs.items()
    }
    common = {
        "inference_mode": {"raw_value": job.mode, "type": "text"},
        "runner": {"raw_value": job.runner, "type": "text"},
        "seconds": {"raw_value": round(job.seconds, 2), "type": "float"},
        "samples": {"raw_value": sum(o.samples for o in job.outputs.values()), "type": "int"},
        "dead_letters": {"raw_value": sum(o.dead_letters for o in job.outputs.values()), "type": "int"},
        "dagster/row_count": {"raw_value": sum(o.rows_in_all_layers for o in job.outputs.values()), "type": "int"},
        "run_id": {"raw_value": job.run_id, "type": "text"},
        "model_sha256": {"raw_value": job.model_sha256, "type": "text"},
        "manifest_uri": {"raw_value": run.job_layout.inference_manifest_uri, "type": "path"},
        "outputs": {"raw_value": outputs, "type": "json"},
        # One number per node type, which the asset page plots across materializations.
        **{f"rows ({t})": {"raw_value": o.rows_in_all_layers, "type": "int"} for t, o in job.outputs.items()},
        **({"champion": {"raw_value": job.champion, "type": "json"}} if job.champion else {}),
    }
    if job.mode == "LAYERWISE":
        details = job.details
        return {
            **common,
            "layerwise_engine": {"raw_value": details.get("engine", "LOCAL"), "type": "text"},
            "device": {"raw_value": details["device"], "type": "text"},
            "layers": {"raw_value": details["layers"], "type": "int"},
            "chunks": {"raw_value": int(job.metrics["layerwise/chunks"]), "type": "int"},
            "spill_bytes": {"raw_value": details["spill_bytes"], "type": "int"},
            "memory_budget_bytes": {"raw_value": details["budget_bytes"], "type": "int"},
            "layerwise": {"raw_value": details, "type": "json"},
            **_incremental_metadata(details, job.seconds),
        }
    return {
        **common,
        "beam_job_id": {"raw_value": job.job_id, "type": "text"},
        **({"dataflow_console_url": {"raw_value": job.console_url, "type": "url"}} if job.console_url else {}),
        "beam_state": {"raw_value": job.state, "type": "text"},
        "beam_metrics": {"raw_value": job.metrics, "type": "json"},
    }


def _incremental_metadata(details: dict, seconds: float) -> dict:
    """An incremental job's base, what changed, the nodes recomputed per layer and its time
    against the base's (nothing for a job that computed everything)."""
    incremental = details.get("incremental")
    if not incremental:
        return {}
    changed = {k: incremental[k] for k in ("nodes_added", "nodes_removed", "features_changed", "edges_added", "edges_removed")}
    return {
        "incremental_base_job": {"raw_value": incremental["base_job"], "type": "text"},
        "incremental_ran_whole_job": {"raw_value": incremental["ran_whole_job"], "type": "bool"},
        "incremental_changes": {"raw_value": changed, "type": "json"},
        "incremental_recomputed_per_layer": {"raw_value": incremental["recomputed_per_stage"], "type": "json"},
        "incremental_seconds_vs_base": {"raw_value": round(seconds / max(incremental["base_seconds"], 1e-9), 3), "type": "float"},
    }


@contextlib.contextmanager
def _pipes_if_launched_by_dagster():
    """Inside a Dagster Pipes session when Dagster started this process, else nothing."""
    if PipesEnvVarParamsLoader().is_dagster_pipes_process():
        with open_dagster_pipes() as pipes:
            yield pipes
    else:
        yield None


def _stop_on_sigterm(signum, frame) -> None:
    # Dagster terminates the run by terminating this process: unwind, so the runner stops its workers.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with _pipes_if_launched_by_dagster() as pipes:

        def progress(line: str) -> None:
            if pipes is not None:
                pipes.log.info(line)
            else:
                print(line, flush=True)

        try:
            result = run(
                args.job_name,
                args.task_config_uri,
                args.resource_config_uri,
                custom_worker_image_uri=args.custom_worker_image_uri,
                runner_overrides=args.runner_overrides,
                stages=[s for s in args.stages.split(",") if s],
                progress=progress,
                frozen_config_sha256=args.frozen_config_sha256,
                trained_model_sha256=args.trained_model_sha256,
                dagster_run_id=pipes.run_id if pipes is not None else None,
            )
        except UserError as error:
            print(f"error: {error}", file=sys.stderr, flush=True)
            if pipes is not None:
                pipes.log.error(str(error))
            return 1
        if pipes is not None and result.job is not None:
            pipes.report_asset_materialization(metadata=materialization_metadata(result))
        elif pipes is not None and result.candidates is not None:
            pipes.report_asset_materialization(metadata=candidates_metadata(result))
        elif pipes is not None and result.edges is not None:
            pipes.report_asset_materialization(metadata=edges_metadata(result))
    return 0
