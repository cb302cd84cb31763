"""The inference Beam job: TFRecord samples -> RunInference -> Parquet embeddings/predictions.

Shards are matched, spread over workers and streamed in batches of inferenceBatchSize
records; each batch is decoded at once and runs through RunInference pre-batched, one result
per batch. One pipeline serves every root node type of a job (one branch each). Records that fail to
decode, batches that fail in the model, and the rest of a shard whose framing is corrupt go to a
dead-letter output (JSON lines with the error and the record, or the shard and byte offset) and
are counted; the job fails when their fraction exceeds the config's maxDeadLetterFraction.

Each run writes into its own run folder; only a run that succeeded within the threshold is
committed (outputs/published.py), so a failed or killed run leaves the last published output as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineState

from gnn_assets import storage
from gnn_assets.config.job import Job
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.outputs.champion import CHAMPION, Champion
from gnn_assets.errors import UserError
from gnn_assets.graph.enumerated_layout import check_enumeration, enumeration_id
from gnn_assets.graph.sample_manifest import SampleRecord, read_sample_manifest
from gnn_assets.beam.progress import ProgressReporter, read_progress_files
from gnn_assets.inference.model_handler import GnnModelHandler, metrics_namespace, rows_written
from gnn_assets.outputs.published import InferenceJobResult, NodeTypeOutput, commit, new_run_id, output_kinds
from gnn_assets.beam.sinks import PlainParquetSink
from gnn_assets.beam.runners import beam_counters, pipeline_options, run_to_completion, torch_threads_per_worker
from gnn_assets.inference.steps import DecodeBatches, ReadRecordBatches, ToArrowTable, failed_batch_dead_letters


class DeadLetterThresholdExceeded(UserError, RuntimeError):
    pass


class SamplesIncomplete(UserError, RuntimeError):
    """The samples the job read do not account for what the sampler wrote: nothing is published."""


class NoSamplesError(UserError, FileNotFoundError):
    pass


PROGRESS_INTERVAL_SECONDS = 15.0
METRICS_PREFIX = "gnn_assets."  # every namespace of this job: metrics_namespace(node type, role)


@dataclass(frozen=True)
class ModelBranch:
    """One model of a branch: its handler and where its output goes. A job that names a champion
    has two per root node type, fed by one read and decode of the samples."""

    handler: GnnModelHandler
    output_dir: str


def _infer_and_write(batches, config: TaskConfig, node_type: str, model: ModelBranch):
    """RunInference of one model over the decoded batches, its outputs written as Parquet; returns
    its failed batches as dead letters."""
    role = model.handler.role
    label = f"[{node_type}]" + (f" {role}" if role else "")
    namespace = model.handler.get_metrics_namespace()
    results, failures = batches | f"{label} RunInference" >> RunInference(model.handler.with_no_batching()).with_exception_handling()
    for kind, schema in output_kinds(config):
        tables = results | f"{label} {kind} to Arrow" >> beam.ParDo(ToArrowTable(namespace, kind))
        tables | f"{label} Write {kind}" >> beam.io.Write(PlainParquetSink(storage.join(model.output_dir, kind, "part"), schema))
    stage = f"{role} inference" if role else "inference"
    return failures.failed_inferences | f"{label} InferenceDeadLetters" >> beam.FlatMap(failed_batch_dead_letters(node_type, namespace, stage))


def build_branch(
    pipeline: beam.Pipeline, config: TaskConfig, node_type: str, models: list[ModelBranch], progress_dir: str | None
) -> None:
    """Read, decode and infer one root node type's samples; the first model is the job's own, the
    others (a champion) run on the same decoded batches."""
    label = f"[{node_type}]"
    config_yaml = config.to_yaml()
    # Matched when the job runs, not when it is built: a job described offline (a Dataflow
    # template) reads samples that are written later. Reshuffled so that shards spread over workers.
    matches = [
        pipeline | f"{label} Match {i}" >> fileio.MatchFiles(prefix + "*.tfrecord")
        for i, prefix in enumerate(config.sample_prefixes(node_type))
    ]
    read = (
        matches
        | f"{label} Shards" >> beam.Flatten()
        | f"{label} Paths" >> beam.Map(lambda match: match.path)
        | f"{label} Spread shards" >> beam.Reshuffle()
        | f"{label} Read" >> beam.ParDo(ReadRecordBatches(node_type, config.inference_batch_size, config.sample_prefixes(node_type), progress_dir)).with_outputs(
            ReadRecordBatches.DEAD_LETTERS, main="records"
        )
    )
    decoded = read.records | f"{label} Decode" >> beam.ParDo(DecodeBatches(config_yaml, config.uri, node_type)).with_outputs(
        DecodeBatches.DEAD_LETTERS, main="batches"
    )
    inference_dead = [_infer_and_write(decoded.batches, config, node_type, model) for model in models]
    dead = (read[ReadRecordBatches.DEAD_LETTERS], decoded[DecodeBatches.DEAD_LETTERS], *inference_dead)
    dead | f"{label} DeadLetters" >> beam.Flatten() | f"{label} WriteDeadLetters" >> beam.io.WriteToText(
        storage.join(models[0].output_dir, "dead_letters", "part"), file_name_suffix=".jsonl"
    )


def _counter(metrics: dict[str, float], namespace: str, name: str) -> int:
    return int(metrics.get(f"{namespace}/{name}", 0))


def _attempted(result, node_types: list[str], name: str) -> int:
    """A counter's running (attempted) value over every node type, while the job runs."""
    found = result.metrics().query(MetricsFilter().with_name(name))["counters"]
    namespaces = _namespaces(node_types)
    return int(sum(c.attempted or 0 for c in found if c.key.metric.namespace in namespaces))


def _namespaces(node_types: list[str]) -> set[str]:
    return {metrics_namespace(t, role) for t in node_types for role in ("", CHAMPION)}


def build_pipeline(
    job: Job,
    options: PipelineOptions,
    run_id: str,
    model_sha256: str,
    champion: Champion | None = None,
) -> beam.Pipeline:
    """The inference pipeline for every root node type of a frozen config, writing into run_id's
    folder; with a champion, its model runs on the same decoded samples and writes beside."""
    config, resources = job.config, job.resources
    pipeline = beam.Pipeline(options=options)
    job_layout = job.layout
    progress_dir = _progress_dir(resources, job_layout, run_id)
    settings = dict(
        policy=resources.model_policy,
        device=resources.device,
        torch_threads=torch_threads_per_worker(resources),
        share_across_processes=resources.share_model_across_processes,
    )
    own_yaml = config.to_yaml()
    champion_yaml = champion.config.to_yaml() if champion is not None else ""
    for node_type in config.root_node_types:
        models = [
            ModelBranch(
                GnnModelHandler(own_yaml, config.uri, node_type, model_sha256=model_sha256, **settings),
                job_layout.inference_output_dir(run_id, node_type),
            )
        ]
        if champion is not None:
            handler = GnnModelHandler(
                champion_yaml, champion.config.uri, node_type, model_sha256=champion.model_sha256, role=CHAMPION, **settings
            )
            models.append(ModelBranch(handler, job_layout.champion_output_dir(run_id, node_type)))
        build_branch(pipeline, config, node_type, models, progress_dir)
    return pipeline


def _progress_dir(resources: Resources, job_layout, run_id: str) -> str | None:
    """Where local workers write their counts; Dataflow's driver reads the job's metrics instead."""
    return None if resources.runner_kind == "dataflow_runner" else storage.join(job_layout.inference_run_dir(run_id), "progress")


def run_inference_job(
    job: Job,
    *,
    model_sha256: str,
    progress=print,
    worker_image: str | None = None,
    dagster_run_id: str | None = None,
    champion: Champion | None = None,
) -> InferenceJobResult:
    """Run the Beam job for every root node type of a frozen config into a new run folder, and
    commit it when it succeeded within the dead-letter threshold. Until then the job's last
    committed output stays published; a failed run publishes nothing. With a champion, its
    model runs on the same samples, read and decoded once, and its output is committed beside."""
    config, resources, job_layout = job.config, job.resources, job.layout
    node_types = config.root_node_types
    run_id = new_run_id()
    output_dirs = {t: job_layout.inference_output_dir(run_id, t) for t in node_types}
    total_bytes = 0
    recorded_samples = {}
    enumerations = {}  # sample prefix -> the enumeration its sampler read
    for node_type in node_types:
        recorded_samples[node_type] = 0
        for prefix in config.sample_prefixes(node_type):
            shards = storage.match_files(prefix + "*.tfrecord")
            if not shards:
                raise NoSamplesError(f"no samples for node type {node_type!r} at {prefix}*.tfrecord: run the sampler first")
            total_bytes += sum(s.size for s in shards)
            record = _check_recorded_shards(prefix, shards, progress)
            if record is not None:
                recorded_samples[node_type] += sum(record.samples_per_shard.values())
                enumerations[prefix] = record.enumeration_id
    enumeration = _samples_enumeration(enumerations, job.graph_dir)

    options = pipeline_options(
        resources, config.task_name, config.job_name, worker_image=worker_image, dagster_run_id=dagster_run_id
    )
    started = time.monotonic()
    pipeline = build_pipeline(job, options, run_id, model_sha256, champion)
    also = f", with champion {champion.job_name}'s model on the same samples" if champion else ""
    progress(f"running Beam job for {', '.join(node_types)} on {resources.runner_kind} (run {run_id}){also}")
    beam_result, _, job_id, console_url = _run_to_completion(
        pipeline, resources, progress, total_bytes, node_types, _progress_dir(resources, job_layout, run_id)
    )
    metrics = beam_counters(beam_result, METRICS_PREFIX, distributions=True)
    result = InferenceJobResult(
        run_id=run_id,
        job_id=job_id,
        runner=options.get_all_options()["runner"],
        state=str(PipelineState.DONE),
        seconds=time.monotonic() - started,
        model_sha256=model_sha256,
        metrics=metrics,
        console_url=console_url,
        enumeration_id=enumeration,
    )
    kinds = [kind for kind, _ in output_kinds(config)]
    for node_type in node_types:
        ns = metrics_namespace(node_type)
        result.outputs[node_type] = NodeTypeOutput(
            output_dir=output_dirs[node_type],
            samples=_counter(metrics, ns, "samples_read"),
            dead_letters=_counter(metrics, ns, "dead_letters"),
            rows_by_kind=rows_written(metrics, node_type, kinds),
            corrupt_shards=_counter(metrics, ns, "corrupt_shards"),
        )
        if champion is not None:
            theirs = metrics_namespace(node_type, CHAMPION)
            result.champion_outputs[node_type] = NodeTypeOutput(
                output_dir=job_layout.champion_output_dir(run_id, node_type),
                samples=result.outputs[node_type].samples,  # the same samples, read once
                dead_letters=_counter(metrics, theirs, "dead_letters"),
                rows_by_kind=rows_written(metrics, node_type, kinds, CHAMPION),
            )
    if champion is not None:
        result.champion = champion.to_dict()
    for node_type, out in result.outputs.items():
        line = f"{node_type}: {out.samples:,} samples, {out.rows:,} rows written, {out.dead_letters:,} dead letters"
        if node_type in result.champion_outputs:
            theirs = result.champion_outputs[node_type]
            line += f"; champion {theirs.rows:,} rows, {theirs.dead_letters:,} dead letters"
        progress(line)
    for node_type, out in result.outputs.items():
        _check_every_sample_accounted_for(
            node_type, out, recorded_samples[node_type], _counter(metrics, metrics_namespace(node_type), "uncounted_breaks")
        )
    check_dead_letters(result, config.max_dead_letter_fraction)
    commit(job, result, kinds)
    progress(f"committed run {run_id}: {job_layout.inference_manifest_uri}")
    return result


def _run_to_completion(
    pipeline: beam.Pipeline, resources: Resources, progress, total_bytes: int, node_types: list[str], progress_dir: str | None
):
    """The job run to its end (beam/runners.py) with progress reported meanwhile: local runners
    from their workers' count files, a Dataflow job from its own running counters.
    (result, DONE, job id, console URL)."""

    def watch(result):
        if result is None:
            counts = lambda: read_progress_files(progress_dir)  # noqa: E731
        else:
            counts = lambda: (_attempted(result, node_types, "samples_read"), _attempted(result, node_types, "bytes_read"))  # noqa: E731
        return ProgressReporter(counts, total_bytes, progress, PROGRESS_INTERVAL_SECONDS)

    result, job_id, console_url = run_to_completion(pipeline, resources, progress, "Beam job", watch)
    return result, PipelineState.DONE, job_id, console_url


def _check_recorded_shards(prefix: str, shards: list, progress) -> SampleRecord | None:
    """What the sampler recorded under a prefix (None where none did); a recorded shard that
    is gone is refused before the job starts."""
    recorded = read_sample_manifest(prefix)
    if recorded is None:
        progress(f"{prefix}*.tfrecord: no sample manifest (not written by our sampler): a lost shard cannot be noticed")
        return None
    present = {storage.basename(shard.path) for shard in shards}
    missing = sorted(set(recorded.samples_per_shard) - present)
    if missing:
        raise SamplesIncomplete(
            f"{prefix}*.tfrecord: {len(missing)} of the {len(recorded.samples_per_shard)} shards the sampler wrote are missing "
            f"(e.g. {missing[0]}): sample the job again"
        )
    return recorded


def _samples_enumeration(enumerations: dict[str, str], graph_dir: str) -> str:
    """The enumeration the job's samples were drawn from: the one every sampler recorded, which
    must be the graph's current one (samples of another have int ids of other nodes). Samples no
    sampler of ours recorded are taken to be of the current enumeration."""
    current = enumeration_id(graph_dir)
    for prefix, recorded in enumerations.items():
        check_enumeration(graph_dir, recorded, f"the samples at {prefix}*.tfrecord", "sample the job again")
    return current


def _check_every_sample_accounted_for(node_type: str, out: NodeTypeOutput, recorded: int, uncounted_breaks: int) -> None:
    """Every sample the sampler wrote is either a row or a dead letter, or nothing is published."""
    if uncounted_breaks:
        raise SamplesIncomplete(
            f"{node_type}: {uncounted_breaks} shard(s) broke with no sample manifest to count what was lost "
            f"(see {out.dead_letters_glob}): sample the job again"
        )
    if recorded and out.samples < recorded:
        raise SamplesIncomplete(
            f"{node_type}: the job read {out.samples:,} of the {recorded:,} samples the sampler wrote: sample the job again"
        )
    if out.rows + out.dead_letters < out.samples:
        raise SamplesIncomplete(
            f"{node_type}: {out.samples - out.rows - out.dead_letters:,} of {out.samples:,} samples are neither an "
            "output row nor a dead letter: nothing published"
        )


def check_dead_letters(job: InferenceJobResult, max_fraction: float) -> None:
    for node_type, out in job.outputs.items():
        fraction = out.dead_letters / max(out.samples, 1)
        if fraction > max_fraction:
            raise DeadLetterThresholdExceeded(
                f"{node_type}: {out.dead_letters} of {out.samples} samples failed ({fraction:.2%}), more than "
                f"gnnAssetsConfig.maxDeadLetterFraction={max_fraction:g}; see {out.dead_letters_glob}"
            )
