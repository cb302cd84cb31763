"""Publish by commit: a job's raw output becomes visible only when its manifest is written.

Each run of the Beam job writes into a folder of its own (`inference/runs/<run id>/`). When the
job has succeeded, its Parquet files are counted from their footers; if they hold exactly the
rows the job's counters say it wrote, the manifest (`inference/manifest.json`: the run, its
files and their content hashes, rows per node type and kind, samples, dead letters, model
sha256) replaces the previous
one in one step, and older run folders are removed, but for the run last published: DuckDB's
raw tables are views over its files (`inference/published.json` names it), removed once a later
run is published. Readers (un-enumeration, checks) read only the files a manifest lists, so a
failed, killed or concurrent run never changes what they see.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.config.job import Job
from gnn_assets.config.layout import JobLayout
from gnn_assets.config.task_config import TaskConfig, TaskKind
from gnn_assets.errors import UserError
from gnn_assets.graph.enumerated_layout import check_enumeration

MANIFEST_VERSION = 1
EMBEDDINGS_SCHEMA = pa.schema([pa.field("node_id", pa.int64(), nullable=False), pa.field("emb", pa.list_(pa.float32()))])
PREDICTIONS_SCHEMA = pa.schema([pa.field("node_id", pa.int64(), nullable=False), pa.field("pred", pa.int64())])  # classes
VALUE_PREDICTIONS_SCHEMA = pa.schema([pa.field("node_id", pa.int64(), nullable=False), pa.field("pred", pa.float64())])  # regression


def embeddings_table(ids: np.ndarray, values: np.ndarray) -> pa.Table:
    """Rows of the raw embeddings layout: enumerated ids and one float32 vector each."""
    values = np.ascontiguousarray(values, dtype=np.float32).reshape(len(ids), -1)
    dim = values.shape[1]
    offsets = pa.array(np.arange(0, (len(values) + 1) * dim, dim, dtype=np.int32))
    return pa.Table.from_arrays([pa.array(ids, pa.int64()), pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))], schema=EMBEDDINGS_SCHEMA)


def predictions_table(ids: np.ndarray, predictions: np.ndarray) -> pa.Table:
    """Rows of the raw predictions layout: enumerated ids and a class each (integers), or a value
    each (floating: regression)."""
    predictions = np.asarray(predictions)
    schema = VALUE_PREDICTIONS_SCHEMA if np.issubdtype(predictions.dtype, np.floating) else PREDICTIONS_SCHEMA
    values = pa.array(predictions.astype(schema.field("pred").type.to_pandas_dtype(), copy=False))
    return pa.Table.from_arrays([pa.array(ids, pa.int64()), values], schema=schema)


def predictions_schema(kind: TaskKind) -> pa.Schema:
    """The raw predictions layout of a node-based task: classes, or values for regression."""
    return VALUE_PREDICTIONS_SCHEMA if kind is TaskKind.NODE_REGRESSION else PREDICTIONS_SCHEMA


def output_kinds(config: TaskConfig) -> list[tuple[str, pa.Schema]]:
    """What a job writes per root node type: embeddings, and predictions for node-based tasks."""
    kinds = [("embeddings", EMBEDDINGS_SCHEMA)]
    if config.task_kind.is_node_based:
        kinds.append(("predictions", predictions_schema(config.task_kind)))
    return kinds


class NoCommittedOutput(UserError, FileNotFoundError):
    """A job has no committed inference output (never run, or every run failed)."""


class IncompleteOutput(UserError, RuntimeError):
    """Output files do not hold the rows their job wrote (lost, cut or foreign files)."""


@dataclass
class NodeTypeOutput:
    output_dir: str
    samples: int  # samples read, plus those a broken shard lost (all the sampler recorded for it)
    dead_letters: int
    rows_by_kind: dict[str, int]  # rows written per kind ('embeddings', 'predictions')
    corrupt_shards: int = 0
    files: dict[str, list[str]] = field(default_factory=dict)  # kind -> Parquet files, set at commit
    file_sha256: dict[str, str] = field(default_factory=dict)  # file -> content hash, set at commit
    # An incremental run (outputs/overlay.py): its files hold the rows it recomputed, over these
    # older layers (oldest first) linked from its base; the base's nodes gone since, by original id.
    base_layers: list[dict] = field(default_factory=list)
    removed_node_ids_uri: str = ""
    merged_rows: int = 0  # an incremental run: its rows and its layers' merged, one per node

    @property
    def rows_in_all_layers(self) -> int:
        """Embedding rows of the output as published (an incremental run's layers merged)."""
        return self.merged_rows if self.base_layers else self.rows

    @property
    def rows(self) -> int:
        """Embedding rows written: one per root that did not end in the dead letters."""
        return self.rows_by_kind.get("embeddings", 0)

    @property
    def dead_letters_glob(self) -> str:
        return storage.join(self.output_dir, "dead_letters", "*.jsonl")


@dataclass
class InferenceJobResult:
    """One run of the Beam job; once committed, this is the manifest."""

    run_id: str
    job_id: str
    runner: str
    state: str
    seconds: float
    model_sha256: str = ""
    outputs: dict[str, NodeTypeOutput] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    console_url: str | None = None  # the Dataflow console, for Dataflow jobs
    committed_at: str = ""
    version: int = MANIFEST_VERSION
    mode: str = "SAMPLED"  # gnnAssetsConfig.inferenceMode of the run
    details: dict = field(default_factory=dict)  # layer-wise runs: device, layers, chunks, spill
    # The champion's model run on the same input (comparison/champion.py): job_name, model_sha256,
    # config_uri; its output per root node type. Not published as tables: embedding_drift reads it.
    champion: dict = field(default_factory=dict)
    champion_outputs: dict[str, NodeTypeOutput] = field(default_factory=dict)
    # The enumeration of the graph the run read (graph/enumerated_layout.py): its int ids are
    # that enumeration's, so the run is published only while the graph is still enumerated so.
    enumeration_id: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "InferenceJobResult":
        data = json.loads(text)
        outputs = {t: NodeTypeOutput(**o) for t, o in data.pop("outputs").items()}
        champion_outputs = {t: NodeTypeOutput(**o) for t, o in data.pop("champion_outputs", {}).items()}
        return cls(outputs=outputs, champion_outputs=champion_outputs, **data)


def new_run_id() -> str:
    """Sorts by start time to the microsecond (commits remove the run folders that sort before
    theirs, so two runs started in one second must not sort by their random part); a plain name,
    so it is safe as a folder name."""
    global _last_run_microsecond
    with _run_id_lock:  # two ids made in one microsecond by one process still sort as made
        _last_run_microsecond = max(time.time_ns() // 1000, _last_run_microsecond + 1)
        seconds, microseconds = divmod(_last_run_microsecond, 1_000_000)
    return f"run_{time.strftime('%Y%m%dT%H%M%S', time.gmtime(seconds))}_{microseconds:06d}_{uuid.uuid4().hex[:8]}"


_run_id_lock = threading.Lock()
_last_run_microsecond = 0


def read_output_files(files: list[str], value: str = "emb") -> tuple[np.ndarray, np.ndarray]:
    """Enumerated ids and values (a matrix for 'emb', a vector for 'pred') of raw output Parquet
    files of one kind, sorted by id."""
    table = pa.concat_tables([storage.read_parquet(f) for f in files]) if files else None
    if table is None or table.num_rows == 0:
        return np.zeros(0, np.int64), np.zeros((0, 0) if value == "emb" else 0, np.float32)
    ids = table["node_id"].to_numpy()
    column = table[value].combine_chunks()
    if value == "emb":
        values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(ids), -1)
    else:
        values = column.to_numpy(zero_copy_only=False)
    order = np.argsort(ids, kind="stable")
    return ids[order], values[order]


def parquet_rows(uri: str) -> int:
    """Rows of a Parquet file, from its footer (a cut file has none and is refused)."""
    try:
        with storage.open_read(uri) as stream:
            return pq.read_metadata(stream).num_rows
    except Exception as error:  # pyarrow raises ArrowInvalid/OSError alike for cut or foreign files
        raise IncompleteOutput(f"{uri} is not a complete Parquet file: {error}") from error


def _output_glob(output_dir: str, kind: str) -> str:
    return storage.join(output_dir, kind, "*.parquet")


def commit(job: Job, result: InferenceJobResult, kinds: list[str]) -> None:
    """Count the run's files, then publish its manifest; raises IncompleteOutput instead when the
    files do not hold the rows written, EnumerationChanged when the graph was enumerated again
    while the job ran. The previous commit stays published until this one replaces it."""
    job_layout = job.layout
    check_enumeration(job.graph_dir, result.enumeration_id, f"run {result.run_id} of job {job.config.job_name!r}")
    for node_type, out in [*result.outputs.items(), *result.champion_outputs.items()]:
        for kind in kinds:
            files = storage.glob(_output_glob(out.output_dir, kind))
            out.file_sha256.update(count_files(files, out.rows_by_kind.get(kind, 0), f"{node_type} {kind} ({out.output_dir})"))
            out.files[kind] = files
    result.committed_at = commit_time()
    publish_manifest(
        job_layout.inference_manifest_uri, storage.join(job_layout.inference_dir, "runs"), result.run_id, result.to_json(), keep=published_run(job_layout)
    )


def count_files(files: list[str], rows_written: int, what: str) -> dict[str, str]:
    """The content hash of each of a run's files, once they are known to hold exactly the rows
    the job wrote; IncompleteOutput (nothing published) when they do not."""
    rows = sum(parquet_rows(f) for f in files)
    if rows != rows_written:
        raise IncompleteOutput(f"{what}: the job wrote {rows_written:,} rows but its files hold {rows:,}; nothing was published")
    return {f: storage.sha256(f) for f in files}


def verify_files(files: list[str], rows: int, file_sha256: dict[str, str], what: str) -> None:
    """Refuse committed files that are gone, hold other rows than committed, or changed since."""
    missing = [f for f in files if not storage.exists(f)]
    if missing:
        raise IncompleteOutput(f"{what}: {len(missing)} committed files are gone, e.g. {missing[0]}")
    held = sum(parquet_rows(f) for f in files)
    if held != rows:
        raise IncompleteOutput(f"{what}: committed files hold {held:,} rows, the manifest says {rows:,}")
    # Manifests written before hashes were recorded have none: their row counts are checked above.
    changed = [f for f in files if f in file_sha256 and storage.sha256(f) != file_sha256[f]]
    if changed:
        raise IncompleteOutput(f"{what}: {len(changed)} committed files changed since the commit (content hash), e.g. {changed[0]}")


def commit_time() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def publish_manifest(manifest_uri: str, runs_dir: str, run_id: str, manifest_json: str, keep: str | None = None) -> None:
    """Commit a run: its manifest replaces the last one in one step, then the run folders that
    started before it (failed, killed or committed earlier) are removed, but for `keep`."""
    storage.replace_atomically(manifest_uri, manifest_json.encode())
    _remove_runs_before(runs_dir, run_id, keep)


def _remove_runs_before(runs_dir: str, run_id: str, keep: str | None = None) -> None:
    for old in storage.child_names(runs_dir):
        if old < run_id and old != keep:
            storage.delete_tree(storage.join(runs_dir, old))


def _published_uri(job_layout: JobLayout) -> str:
    return storage.join(job_layout.inference_dir, "published.json")


def published_run(job_layout: JobLayout) -> str | None:
    """The run whose output the warehouse's tables hold now (None: none published yet)."""
    uri = _published_uri(job_layout)
    if not storage.exists(uri):
        return None
    try:
        return str(json.loads(storage.read_text(uri))["run_id"])
    except (ValueError, KeyError, TypeError):
        return None  # an unreadable record keeps nothing: the next publication writes it again


def record_published(job_layout: JobLayout, run_id: str) -> None:
    """After the warehouse's tables were replaced with run_id's output: name it, and remove the
    run folders before it (no table reads them any more)."""
    storage.replace_atomically(_published_uri(job_layout), json.dumps({"run_id": run_id}).encode())
    _remove_runs_before(storage.join(job_layout.inference_dir, "runs"), run_id)


def read_committed(job_layout: JobLayout) -> InferenceJobResult:
    """The committed manifest of a job; NoCommittedOutput when there is none."""
    uri = job_layout.inference_manifest_uri
    if not storage.exists(uri):
        raise NoCommittedOutput(f"no committed inference output at {uri}: run the inference stage (--stages infer) first")
    try:
        return InferenceJobResult.from_json(storage.read_text(uri))
    except (ValueError, TypeError, KeyError) as error:
        raise IncompleteOutput(f"{uri} is not a manifest this version reads: {error}") from error


def verify_committed(result: InferenceJobResult, kinds: list[str]) -> None:
    """Refuse output whose files lost rows since the commit, or whose rows fall short of its samples."""
    for node_type, out in result.outputs.items():
        if out.rows + out.dead_letters < out.samples:
            raise IncompleteOutput(
                f"{node_type}: {out.rows:,} rows and {out.dead_letters:,} dead letters fall short of {out.samples:,} samples"
            )
        for kind in kinds:
            files = out.files.get(kind)
            if files is None:
                raise IncompleteOutput(f"{node_type}: the committed run {result.run_id} has no {kind} output")
            verify_files(files, out.rows_by_kind.get(kind), out.file_sha256, f"{node_type} {kind}")
