"""Publish by commit: a job's raw output becomes visible only when its manifest is written.

Each run of the Beam job writes into a folder of its own (`inference/runs/<run id>/`). When the
job has succeeded, its Parquet files are counted from their footers; if they hold exactly the
rows the job's counters say it wrote, the manifest (`inference/manifest.json`: the run, its
files and their content hashes, rows per node type and kind, samples, dead letters, model
sha256) replaces the previous
one in one step, and older run folders are removed. Readers (un-enumeration, checks) read only
the files a manifest lists, so a failed, killed or concurrent run never changes what they see.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.config.layout import JobLayout
from gnn_assets.config.task_config import TaskConfig, TaskKind
from gnn_assets.errors import UserError

MANIFEST_VERSION = 1
EMBEDDINGS_SCHEMA = pa.schema([pa.field("node_id", pa.int64(), nullable=False), pa.field("emb", pa.list_(pa.float32()))])
PREDICTIONS_SCHEMA = pa.schema([pa.field("node_id", pa.int64(), nullable=False), pa.field("pred", pa.int64())])


def output_kinds(config: TaskConfig) -> list[tuple[str, pa.Schema]]:
    """What a job writes per root node type: embeddings, and predictions for classification."""
    kinds = [("embeddings", EMBEDDINGS_SCHEMA)]
    if config.task_kind is TaskKind.NODE_CLASSIFICATION:
        kinds.append(("predictions", PREDICTIONS_SCHEMA))
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

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "InferenceJobResult":
        data = json.loads(text)
        outputs = {t: NodeTypeOutput(**o) for t, o in data.pop("outputs").items()}
        champion_outputs = {t: NodeTypeOutput(**o) for t, o in data.pop("champion_outputs", {}).items()}
        return cls(outputs=outputs, champion_outputs=champion_outputs, **data)


def new_run_id() -> str:
    """Sorts by start time; a plain name, so it is safe as a folder name."""
    return f"run_{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}_{uuid.uuid4().hex[:8]}"


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


def commit(job_layout: JobLayout, result: InferenceJobResult, kinds: list[str]) -> None:
    """Count the run's files, then publish its manifest; raises IncompleteOutput instead when the
    files do not hold the rows written. The previous commit stays published until this one replaces it."""
    for node_type, out in [*result.outputs.items(), *result.champion_outputs.items()]:
        for kind in kinds:
            files = storage.glob(_output_glob(out.output_dir, kind))
            rows = sum(parquet_rows(f) for f in files)
            if rows != out.rows_by_kind.get(kind, 0):
                raise IncompleteOutput(
                    f"{node_type} {kind}: the job wrote {out.rows_by_kind.get(kind, 0):,} rows but its files hold {rows:,} "
                    f"({out.output_dir}); nothing was published"
                )
            out.files[kind] = files
            out.file_sha256.update({f: storage.sha256(f) for f in files})
    result.committed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    storage.replace_atomically(job_layout.inference_manifest_uri, result.to_json().encode())
    _remove_superseded_runs(job_layout, result.run_id)


def _remove_superseded_runs(job_layout: JobLayout, committed_run: str) -> None:
    """Run folders that started before the committed one: published earlier, failed or killed."""
    for run_id in storage.child_names(storage.join(job_layout.inference_dir, "runs")):
        if run_id < committed_run:
            storage.delete_tree(job_layout.inference_run_dir(run_id))


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
            missing = [f for f in files if not storage.exists(f)]
            if missing:
                raise IncompleteOutput(f"{node_type} {kind}: {len(missing)} committed files are gone, e.g. {missing[0]}")
            rows = sum(parquet_rows(f) for f in files)
            if rows != out.rows_by_kind.get(kind):
                raise IncompleteOutput(
                    f"{node_type} {kind}: committed files hold {rows:,} rows, the manifest says {out.rows_by_kind.get(kind):,}"
                )
            # Manifests written before hashes were recorded have none: their row counts are checked above.
            changed = [f for f in files if f in out.file_sha256 and storage.sha256(f) != out.file_sha256[f]]
            if changed:
                raise IncompleteOutput(
                    f"{node_type} {kind}: {len(changed)} committed files changed since the commit (content hash), e.g. {changed[0]}"
                )
