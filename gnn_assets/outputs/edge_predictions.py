"""Committed edge predictions of an edge task: the manifest of a run and how it is read.

An edge predictions run scores every edge of the task's supervision edge types from the two ends'
embeddings of the committed inference run, writes Parquet into a run folder of its own
(jobs/<task>/<job>/edge_predictions/runs/) and is committed like inference output: its manifest
names the files, rows per edge type and the inference run whose embeddings it read.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pyarrow as pa

from gnn_assets import storage
from gnn_assets.config.job import Job
from gnn_assets.outputs.published import IncompleteOutput, verify_files


def edge_predictions_schema(values: bool) -> pa.Schema:
    """Enumerated src and dst ids and the edge's prediction: a class, or (values) a value."""
    return pa.schema(
        [
            pa.field("src_node_id", pa.int64(), nullable=False),
            pa.field("dst_node_id", pa.int64(), nullable=False),
            pa.field("pred", pa.float64() if values else pa.int64(), nullable=False),
        ]
    )


@dataclass
class EdgeTypePredictions:
    edge_type: list[str]
    output_dir: str
    rows: int  # edges scored (every edge of the type whose two ends have embeddings)
    unscored: int = 0  # edges an end of which has no embedding (a dead letter of a sampled job)
    files: list[str] = field(default_factory=list)
    file_sha256: dict[str, str] = field(default_factory=dict)  # file -> content hash, set at commit


@dataclass
class EdgePredictionsManifest:
    run_id: str
    inference_run_id: str  # the committed inference run whose embeddings were read
    seconds: float
    edges: dict[str, EdgeTypePredictions] = field(default_factory=dict)
    committed_at: str = ""
    enumeration_id: str = ""  # the enumeration its inference run read (outputs/published.py)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "EdgePredictionsManifest":
        data = json.loads(text)
        edges = {name: EdgeTypePredictions(**e) for name, e in data.pop("edges").items()}
        return cls(edges=edges, **data)


def read_committed_edge_predictions(job: Job) -> EdgePredictionsManifest:
    """The committed manifest; IncompleteOutput when there is none, or its files lost rows since."""
    uri = job.layout.edge_predictions_manifest_uri
    if not storage.exists(uri):
        raise IncompleteOutput(f"no committed edge predictions at {uri}: run the edges stage (--stages edges) first")
    try:
        manifest = EdgePredictionsManifest.from_json(storage.read_text(uri))
    except (ValueError, TypeError, KeyError) as error:
        raise IncompleteOutput(f"{uri} is not a manifest this version reads: {error}") from error
    for name, edge in manifest.edges.items():
        verify_files(edge.files, edge.rows, edge.file_sha256, f"{name} edge predictions")
    return manifest
