"""Committed link candidates: the manifest of a candidates run and how it is read.

A candidates run writes Parquet into a run folder of its own (jobs/<task>/<job>/candidates/runs/)
and is committed like inference output (commit.py): its manifest names the files, rows per edge
type and the inference run whose embeddings it read.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pyarrow as pa

from gnn_assets import storage
from gnn_assets.config.job import Job
from gnn_assets.outputs.published import IncompleteOutput

CANDIDATES_SCHEMA = pa.schema(
    [
        pa.field("src_node_id", pa.int64(), nullable=False),
        pa.field("dst_node_id", pa.int64(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
    ]
)


@dataclass
class EdgeCandidates:
    edge_type: list[str]
    output_dir: str
    sources: int
    rows: int
    files: list[str] = field(default_factory=list)
    file_sha256: dict[str, str] = field(default_factory=dict)  # file -> content hash, set at commit


@dataclass
class CandidatesManifest:
    run_id: str
    inference_run_id: str  # the committed inference run whose embeddings were read
    k: int
    score: str
    exclude_existing_edges: bool
    runner: str
    seconds: float
    edges: dict[str, EdgeCandidates] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    committed_at: str = ""
    enumeration_id: str = ""  # the enumeration its inference run read (outputs/published.py)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "CandidatesManifest":
        data = json.loads(text)
        edges = {name: EdgeCandidates(**e) for name, e in data.pop("edges").items()}
        return cls(edges=edges, **data)


def read_committed_candidates(job: Job) -> CandidatesManifest:
    uri = job.layout.candidates_manifest_uri
    if not storage.exists(uri):
        raise IncompleteOutput(f"no committed link candidates at {uri}: run the candidates stage (--stages candidates) first")
    return CandidatesManifest.from_json(storage.read_text(uri))
