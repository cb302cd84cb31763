"""How different a job's embeddings are from its champion's, over the same nodes.

Both come from one run of the job (the champion's model ran on the same input, comparison/
champion.py), read from the raw output the run committed. Per root node type: for a seeded sample of the nodes both jobs embedded, each node's k nearest
neighbours (cosine similarity, among every node both embedded) in the two embedding spaces, and
their overlap (|both| / k: 1.0 when the neighbourhoods are the same); the nodes whose
neighbourhoods changed most, with their ids; norm statistics of both; and for classification, the
share of nodes whose predicted class is the same. Nearest neighbours are exact: the sampled
nodes' similarities to all nodes, by chunks of a matrix product (no approximate index).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gnn_assets import storage
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.enumerated_layout import mapping_uri
from gnn_assets.outputs.overlay import merged_output_files
from gnn_assets.outputs.published import InferenceJobResult, read_output_files

CHUNK_ROWS = 512  # sampled nodes per matrix product: 512 x nodes float32 scores at a time


@dataclass
class TypeDrift:
    nodes_compared: int  # nodes both jobs embedded
    sampled: int
    neighbours: int
    mean_overlap: float
    overlap_quantiles: dict[str, float]
    most_changed: list[dict]  # node_id and overlap, lowest first
    norms: dict[str, dict[str, float]]  # job -> mean, std
    prediction_agreement: float | None = None  # classes: the share of nodes both predict alike
    prediction_mean_abs_difference: float | None = None  # values (regression): mean |champion - challenger|
    overlaps: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # per sampled node
    sample_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)  # rows of the sampled nodes

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("overlaps", "sample_rows")}


def _normalized(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def nearest_neighbours(embeddings: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """For each query row index, the indices of its k most cosine-similar rows (itself excluded)."""
    unit = _normalized(embeddings.astype(np.float32))
    k = min(k, len(unit) - 1)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), CHUNK_ROWS):
        rows = queries[start : start + CHUNK_ROWS]
        scores = unit[rows] @ unit.T
        scores[np.arange(len(rows)), rows] = -np.inf
        out[start : start + len(rows)] = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return out


def compare_embeddings(
    ids: list,
    champion: np.ndarray,
    challenger: np.ndarray,
    *,
    neighbours: int,
    sample_nodes: int,
    seed: int = 0,
    champion_predictions: np.ndarray | None = None,
    challenger_predictions: np.ndarray | None = None,
    names: tuple[str, str] = ("champion", "challenger"),
) -> TypeDrift:
    """ids[i] is row i of both arrays (the nodes both models embedded, in one order); most_changed
    names nodes by these ids."""
    if len(ids) < 2:
        raise ValueError(f"{len(ids)} nodes are embedded by both jobs: nothing to compare")
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(ids), min(sample_nodes, len(ids)), replace=False))
    a = nearest_neighbours(champion, sample, neighbours)
    b = nearest_neighbours(challenger, sample, neighbours)
    k = a.shape[1]
    overlap = np.array([len(np.intersect1d(x, y, assume_unique=True)) / k for x, y in zip(a, b)])
    order = np.argsort(overlap, kind="stable")[:10]
    norms = {
        name: {"mean": float(np.linalg.norm(x, axis=1).mean()), "std": float(np.linalg.norm(x, axis=1).std())}
        for name, x in zip(names, (champion, challenger))
    }
    agreement = difference = None
    if champion_predictions is not None and challenger_predictions is not None:
        if np.issubdtype(champion_predictions.dtype, np.floating):
            difference = float(np.abs(champion_predictions - challenger_predictions).mean())
        else:
            agreement = float((champion_predictions == challenger_predictions).mean())
    return TypeDrift(
        nodes_compared=len(ids),
        sampled=len(sample),
        neighbours=k,
        mean_overlap=float(overlap.mean()),
        overlap_quantiles={f"p{q}": float(np.percentile(overlap, q)) for q in (5, 25, 50, 75, 95)},
        most_changed=[{"node_id": ids[sample[i]], "overlap": float(overlap[i])} for i in order],
        norms=norms,
        prediction_agreement=agreement,
        prediction_mean_abs_difference=difference,
        overlaps=overlap,
        sample_rows=sample,
    )


def aligned(files_a: list[str], files_b: list[str], value: str = "emb") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The enumerated ids both outputs hold, sorted, and each output's values for them."""
    ids_a, values_a = read_output_files(files_a, value)
    ids_b, values_b = read_output_files(files_b, value)
    common, rows_a, rows_b = np.intersect1d(ids_a, ids_b, assume_unique=True, return_indices=True)
    return common, values_a[rows_a], values_b[rows_b]


def original_ids(mapping_file: str, int_ids: list[int]) -> dict[int, str]:
    """Original node ids of a few enumerated ids, from the enumeration's mapping file."""
    mapping = storage.read_parquet(mapping_file)
    found = mapping.filter(pc.is_in(mapping["int_id"], value_set=pa.array(int_ids, pa.int64())))
    return dict(zip(found["int_id"].to_pylist(), found["node_id"].to_pylist()))


@dataclass
class RunDrift:
    """One node type's comparison, with the arrays its pictures are drawn from."""

    drift: TypeDrift
    champion: np.ndarray
    challenger: np.ndarray


def drift_of_run(config: TaskConfig, resources: Resources, manifest: InferenceJobResult) -> dict[str, RunDrift]:
    """Each root node type's drift between the job's own output and its champion's in the
    committed run; the most changed nodes are named by original id."""
    enumerated = resources.layout.enumerated_graph_dir(config.graph_name)
    names = (f"champion {manifest.champion['job_name']}", f"challenger {config.job_name}")
    found = {}
    for node_type in config.root_node_types:
        ours, theirs = manifest.outputs[node_type], manifest.champion_outputs[node_type]
        of = lambda output, kind: merged_output_files(output, kind, f"{node_type} {kind} of run {manifest.run_id}")  # noqa: E731
        ids, a, b = aligned(of(theirs, "embeddings"), of(ours, "embeddings"))
        predictions = (None, None)
        if "predictions" in ours.files and "predictions" in theirs.files:
            pred_ids, pa_, pb_ = aligned(of(theirs, "predictions"), of(ours, "predictions"), "pred")
            if np.array_equal(pred_ids, ids):
                predictions = (pa_, pb_)
        drift = compare_embeddings(
            ids.tolist(), a, b, neighbours=config.drift_neighbours, sample_nodes=config.drift_sample_nodes, seed=config.sampler_seed,
            champion_predictions=predictions[0], challenger_predictions=predictions[1], names=names,
        )
        originals = original_ids(mapping_uri(enumerated, node_type), [m["node_id"] for m in drift.most_changed])
        drift.most_changed = [{**m, "node_id": originals.get(m["node_id"], str(m["node_id"]))} for m in drift.most_changed]
        found[node_type] = RunDrift(drift, a, b)
    return found
