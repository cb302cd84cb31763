"""The steps of the sampled inference job: TFRecord shards read in batches of records (every
broken shard's rest counted and sent to the dead letters), each batch decoded at once, and each
batch's results as an Arrow table of one kind."""

from __future__ import annotations

import base64
import json

import apache_beam as beam
import numpy as np
from apache_beam.metrics.metric import Metrics
from apache_beam.ml.inference.base import PredictionResult
from apache_beam.pvalue import TaggedOutput

from gnn_assets import storage
from gnn_assets.config.task_config import TaskConfig, TaskKind, parse_task_config
from gnn_assets.graph.codec import SampleDecoder
from gnn_assets.graph.sample_manifest import read_sample_manifest
from gnn_assets.graph.samples import edge_endpoint_types
from gnn_assets.graph.tfrecord import TFRecordError, iter_records
from gnn_assets.beam.progress import WorkerProgress
from gnn_assets.beam.allocator import keep_freed_memory_for_reuse
from gnn_assets.inference.model_handler import metrics_namespace
from gnn_assets.outputs.published import embeddings_table, predictions_table
from gnn_assets.inference.task_specs import graph_types



_RECORD_FRAMING_BYTES = 16  # a TFRecord's length, its checksum and the data's checksum
# How often the driver logs the job's progress; a module setting so that tests can shorten it.

def sample_decoder(config: TaskConfig, node_type: str) -> SampleDecoder:
    """The decoder for one root node type's samples; reads the graph's feature sizes."""
    return SampleDecoder(
        encoding=config.sample_encoding,
        labeled=config.task_kind is TaskKind.NODE_CLASSIFICATION,
        root_node_type=config.node_types.index(node_type),
        edge_endpoint_types=edge_endpoint_types(config.node_types, config.edge_types),
        feature_dims=tuple(graph_types(config).feature_dims),
    )


class ReadRecordBatches(beam.DoFn):
    """A shard's path -> its records in lists of up to batch_size, streamed from storage.

    The pipeline's elements are batches from here on: Beam's per-element work is paid once per
    batch, and a batch is decoded with one numpy call per array instead of one per sample.
    A shard whose framing breaks (a cut record, a flipped length or checksum bit, a file that
    is not a TFRecord) gives what it held before the break; the rest of it is one dead letter
    naming the shard and the byte offset. Every sample the sampler recorded for the shard and
    this read did not yield (the rest of a broken shard, records cut off at a record boundary)
    counts as a failed sample; where no sampler recorded the shard, a break is counted apart
    (`uncounted_breaks`) and the job refuses to publish.
    """

    DEAD_LETTERS = "dead_letters"

    def __init__(self, node_type: str, batch_size: int, sample_prefixes: list[str], progress_dir: str | None = None):
        self._node_type = node_type
        self._batch_size = batch_size
        self._sample_prefixes = sample_prefixes
        self._progress_dir = progress_dir
        namespace = metrics_namespace(node_type)
        self._samples_read = Metrics.counter(namespace, "samples_read")
        self._bytes_read = Metrics.counter(namespace, "bytes_read")
        self._corrupt_shards = Metrics.counter(namespace, "corrupt_shards")
        self._uncounted_breaks = Metrics.counter(namespace, "uncounted_breaks")
        self._extra_samples = Metrics.counter(namespace, "samples_beyond_manifest")

    def setup(self):
        keep_freed_memory_for_reuse()  # this worker process will churn through batch-sized buffers
        self._progress = WorkerProgress(self._progress_dir) if self._progress_dir else None
        # Read when the job runs (not when it is built): an offline template's samples come later.
        self._manifests = {prefix: read_sample_manifest(prefix) for prefix in self._sample_prefixes}

    def _recorded_samples(self, path: str) -> int | None:
        for prefix, manifest in self._manifests.items():
            if path.startswith(prefix) and manifest is not None:
                return manifest.samples_per_shard.get(storage.basename(path))
        return None

    def _count(self, batch: list[bytes]) -> list[bytes]:
        num_bytes = sum(len(r) for r in batch) + _RECORD_FRAMING_BYTES * len(batch)
        self._samples_read.inc(len(batch))
        self._bytes_read.inc(num_bytes)
        if self._progress is not None:
            self._progress.add(len(batch), num_bytes)
        return batch

    def process(self, path: str):
        batch, read, broken = [], 0, None
        with storage.open_read(path) as stream:
            try:
                for record in iter_records(stream):
                    batch.append(record)
                    read += 1
                    if len(batch) == self._batch_size:
                        yield self._count(batch)
                        batch = []
            except TFRecordError as error:
                broken = error
        if batch:
            yield self._count(batch)
        recorded = self._recorded_samples(path)
        if recorded is None:
            if broken is not None:
                self._samples_read.inc(1)
                self._corrupt_shards.inc()
                self._uncounted_breaks.inc()
                letter = f"{path}: {broken}; the rest of the shard is skipped, and no sample manifest says how many samples it held"
                yield TaggedOutput(self.DEAD_LETTERS, dead_letter(self._node_type, "read", letter, shard=path))
            return
        if read > recorded:
            self._extra_samples.inc(read - recorded)
        lost = recorded - read
        if broken is not None or lost > 0:
            self._corrupt_shards.inc()
            self._samples_read.inc(max(lost, 0))
            cause = f"{broken}; the rest of the shard is skipped" if broken is not None else "the shard ends early"
            letter = f"{path}: {cause}: {max(lost, 0):,} of the {recorded:,} samples the sampler wrote are lost"
            yield TaggedOutput(self.DEAD_LETTERS, dead_letter(self._node_type, "read", letter, shard=path, count=max(lost, 0)))

    def finish_bundle(self):
        if self._progress is not None:
            self._progress.write()


class DecodeBatches(beam.DoFn):
    """A list of records -> one SampleBatch of the good ones; each bad one to the dead letters."""

    DEAD_LETTERS = "dead_letters"

    def __init__(self, frozen_config_yaml: str, frozen_config_uri: str, node_type: str):
        self._config_yaml = frozen_config_yaml
        self._config_uri = frozen_config_uri
        self._node_type = node_type

    def setup(self):
        self._decoder = sample_decoder(parse_task_config(self._config_yaml, self._config_uri), self._node_type)

    def process(self, records: list[bytes]):
        batch, failures = self._decoder.decode_batch(records)
        for index, error in failures:
            yield TaggedOutput(self.DEAD_LETTERS, dead_letter(self._node_type, "decode", error.reason, record=records[index]))
        if batch is not None:
            yield batch


def dead_letter(
    node_type: str,
    stage: str,
    error: str,
    *,
    record: bytes | None = None,
    node_id: int | None = None,
    shard: str | None = None,
    namespace: str | None = None,
    count: int = 1,
) -> str:
    """One dead letter as a JSON line: the record itself when it could not be decoded, its root
    when the model failed, its shard when the framing broke. Counted in the namespace of the model
    that failed (the node type's by default); a letter for a shard's lost rest stands for its
    `count` lost samples."""
    Metrics.counter(namespace or metrics_namespace(node_type), "dead_letters").inc(count)
    letter = {"node_type": node_type, "stage": stage, "error": error}
    if shard is not None:
        letter["shard"] = shard
    if record is not None:
        letter["record_base64"] = base64.b64encode(record).decode("ascii")
    if node_id is not None:
        letter["node_id"] = node_id
    return json.dumps(letter, sort_keys=True)


def failed_batch_dead_letters(node_type: str, namespace: str, stage: str):
    def to_json(failure):
        batch, error = failure
        for node_id in batch.root_node_ids.tolist():
            yield dead_letter(node_type, stage, describe_error(error), node_id=node_id, namespace=namespace)

    return to_json


def describe_error(error) -> str:
    # Beam's dead-letter error is (exception type, repr, traceback lines).
    if isinstance(error, tuple) and len(error) >= 2:
        return f"{error[0]}: {error[1]}" if not str(error[1]).startswith(str(error[0])) else str(error[1])
    return repr(error)


class ToArrowTable(beam.DoFn):
    """One batch's PredictionResult -> an Arrow table of one kind ('embeddings' or 'predictions')."""

    def __init__(self, namespace: str, kind: str):
        self._kind = kind
        self._rows = Metrics.counter(namespace, f"{kind}_rows_written")

    def process(self, result: PredictionResult):
        ids = np.asarray(result.example, dtype=np.int64)
        embeddings, predictions = result.inference
        table = embeddings_table(ids, embeddings) if self._kind == "embeddings" else predictions_table(ids, predictions)
        self._rows.inc(table.num_rows)
        yield table
