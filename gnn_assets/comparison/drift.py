"""How different a job's embeddings are from its champion's, over the same nodes.

Per root node type: for a seeded sample of the nodes both jobs embedded, each node's k nearest
neighbours (cosine similarity, among every node both embedded) in the two embedding spaces, and
their overlap (|both| / k: 1.0 when the neighbourhoods are the same); the nodes whose
neighbourhoods changed most, with their ids; norm statistics of both; and for classification, the
share of nodes whose predicted class is the same. Nearest neighbours are exact: the sampled
nodes' similarities to all nodes, by chunks of a matrix product (no approximate index).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    prediction_agreement: float | None = None
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
    ids: list[str],
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
    """ids[i] is row i of both arrays (the nodes both jobs embedded, in one order)."""
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
    agreement = None
    if champion_predictions is not None and challenger_predictions is not None:
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
        overlaps=overlap,
        sample_rows=sample,
    )


def aligned(table_a, table_b, value: str = "emb") -> tuple[list[str], np.ndarray, np.ndarray]:
    """Rows of two (node_id, value) Arrow tables for the node ids both hold, sorted by id."""
    def by_id(table):
        ids = table["node_id"].to_pylist()
        column = table[value].combine_chunks()
        if value == "emb":
            values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(ids), -1)
        else:
            values = column.to_numpy(zero_copy_only=False)
        return dict(zip(ids, range(len(ids)))), values

    index_a, values_a = by_id(table_a)
    index_b, values_b = by_id(table_b)
    common = sorted(set(index_a) & set(index_b))
    return common, values_a[[index_a[i] for i in common]], values_b[[index_b[i] for i in common]]
