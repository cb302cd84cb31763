"""Held-out quality of a model's output against a trivial baseline.

Node classification: accuracy on labels the model never saw (the demo generator withholds some
and writes them to the graph source's evaluation_labels.parquet) against always predicting the
most common training label. Node regression: RMSE of the predicted values against predicting the
training labels' mean (it beats the mean by being at least REGRESSION_MARGIN below its RMSE),
with R^2 beside it. Link prediction: recall@k of held-out edges (evaluation_edges.parquet,
edges the generator left out of the graph) when each source ranks every destination node by
the dot product of their embeddings, against random ranking (k / destinations).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.config.job import Job
from gnn_assets.graph.edge_labels import read_edge_labels
from gnn_assets.graph.enumerated_layout import edge_type_name, mapping_uri, read_column
from gnn_assets.graph.source import GraphSourceError
from gnn_assets.outputs.edge_predictions import read_committed_edge_predictions
from gnn_assets.outputs.published import parquet_rows

EVALUATION_LABELS = "evaluation_labels.parquet"  # node_id, node_type, label
EVALUATION_EDGES = "evaluation_edges.parquet"  # src, dst, edge_type, src_type, dst_type
EVALUATION_EDGE_LABELS = "evaluation_edge_labels.parquet"  # edges of the graph whose labels it withholds, with them (+ label)
RECALL_K = 10
REGRESSION_MARGIN = 0.95  # a regression model beats the mean when its RMSE is at most this share of the mean's


@dataclass
class Quality:
    metric: str  # "accuracy", "rmse" or "recall@10"
    value: float
    baseline: float  # the trivial baseline's figure
    count: int  # labels or edges evaluated
    source: str  # where the held-out labels or edges came from
    higher_is_better: bool = True  # False for an error (RMSE)
    extra: dict[str, float] = field(default_factory=dict)  # further figures (R^2)

    @property
    def beats_baseline(self) -> bool:
        if self.count == 0:
            return False
        return self.value > self.baseline if self.higher_is_better else self.value <= REGRESSION_MARGIN * self.baseline

    def to_dict(self) -> dict:
        return {**asdict(self), "beats_baseline": self.beats_baseline}


def accuracy_against_majority(predicted: np.ndarray, truth: np.ndarray, training_labels: np.ndarray, source: str) -> Quality:
    majority = np.bincount(training_labels).argmax() if len(training_labels) else -1
    return Quality(
        "accuracy",
        float((predicted == truth).mean()) if len(truth) else 0.0,
        float((truth == majority).mean()) if len(truth) else 0.0,
        len(truth),
        source,
    )


def rmse_against_mean(predicted: np.ndarray, truth: np.ndarray, training_labels: np.ndarray, source: str) -> Quality:
    if not len(truth):
        return Quality("rmse", 0.0, 0.0, 0, source, higher_is_better=False)
    mean = float(training_labels.mean()) if len(training_labels) else 0.0
    return Quality(
        "rmse",
        float(np.sqrt(np.mean((predicted - truth) ** 2))),
        float(np.sqrt(np.mean((truth - mean) ** 2))),
        len(truth),
        source,
        higher_is_better=False,
        extra={"r2": r_squared(predicted, truth)},
    )


def recall_at_k(src_embeddings: np.ndarray, dst_embeddings: np.ndarray, true_dst: np.ndarray, source: str, k: int = RECALL_K) -> Quality:
    """For edge i, whether true_dst[i] is among the k destinations scoring highest for
    src_embeddings[i] (rows of dst_embeddings are destination ids)."""
    hits = 0
    for start in range(0, len(true_dst), 1024):
        scores = src_embeddings[start : start + 1024] @ dst_embeddings.T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        hits += int((top == true_dst[start : start + 1024, None]).any(axis=1).sum())
    return Quality(f"recall@{k}", hits / max(len(true_dst), 1), min(1.0, k / max(len(dst_embeddings), 1)), len(true_dst), source)


def r_squared(predicted: np.ndarray, truth: np.ndarray) -> float:
    """1 - squared error / the truth's own variance: 0 for predicting its mean, 1 for exact."""
    total = float(np.sum((truth - truth.mean()) ** 2))
    error = float(np.sum((predicted - truth) ** 2))
    return 1.0 - error / total if total > 0 else (1.0 if error == 0 else 0.0)


def evaluation_labels(source_dir: str, node_type: str) -> dict[str, int | float] | None:
    """Withheld labels of one node type by original id, or None when the graph has none."""
    uri = storage.join(source_dir, EVALUATION_LABELS)
    if not storage.exists(uri):
        return None
    table = storage.read_parquet(uri)
    missing = {"node_id", "node_type", "label"} - set(table.column_names)
    if missing:
        raise GraphSourceError(f"{uri}: columns {sorted(missing)} are missing")
    table = table.filter(pc.equal(table["node_type"], node_type))
    return dict(zip(table["node_id"].to_pylist(), table["label"].to_pylist()))


def _held_out_edges(source_dir: str, name: str, edge_type: tuple[str, str, str], extra: tuple[str, ...] = ()) -> pa.Table | None:
    """The rows of one edge type in a held-out edges file of the graph source (the edges' columns
    and `extra`), or None when the graph has no such file."""
    uri = storage.join(source_dir, name)
    if not storage.exists(uri):
        return None
    table = storage.read_parquet(uri)
    missing = {"src", "dst", "edge_type", "src_type", "dst_type", *extra} - set(table.column_names)
    if missing:
        raise GraphSourceError(f"{uri}: columns {sorted(missing)} are missing")
    src_type, relation, dst_type = edge_type
    mask = pc.and_(
        pc.and_(pc.equal(table["edge_type"], relation), pc.equal(table["src_type"], src_type)), pc.equal(table["dst_type"], dst_type)
    )
    return table.filter(mask)


def evaluation_edges(source_dir: str, edge_type: tuple[str, str, str]) -> list[tuple[str, str]] | None:
    """Held-out edges of one type as (src id, dst id), or None when the graph has none."""
    table = _held_out_edges(source_dir, EVALUATION_EDGES, edge_type)
    return None if table is None else list(zip(table["src"].to_pylist(), table["dst"].to_pylist()))


def evaluation_edge_labels(source_dir: str, edge_type: tuple[str, str, str]) -> dict[tuple[str, str], int | float] | None:
    """Withheld labels of one edge type by original (src, dst), or None when the graph has none."""
    table = _held_out_edges(source_dir, EVALUATION_EDGE_LABELS, edge_type, ("label",))
    return None if table is None else dict(zip(zip(table["src"].to_pylist(), table["dst"].to_pylist()), table["label"].to_pylist()))


MAX_EDGE_LABELS = 20_000  # held-out labels an edge type is judged on (a seeded sample beyond)


def edge_quality(config, resources) -> dict[str, Quality]:
    """Held-out quality of an edge task's edge predictions, per supervision edge type: accuracy
    against the most common training label, or RMSE against the training labels' mean. Read from
    the committed predictions the tables are published from, a row group at a time, for at most
    MAX_EDGE_LABELS held-out edges (a seeded sample). Without withheld edge labels in the graph
    source, the graph's own stand in (optimistic: the model trained on them)."""
    job = Job.of(config, resources)
    source_dir = resources.layout.graph_source_dir(config.graph_name)
    regression = config.task_kind.is_regression
    training = read_edge_labels(source_dir, job.graph_dir, config.supervision_edge_types, regression)
    manifest = read_committed_edge_predictions(job)
    out = {}
    for edge_type in config.supervision_edge_types:
        name = edge_type_name(edge_type)
        labels = training[edge_type]
        num_dst = parquet_rows(mapping_uri(job.graph_dir, edge_type[2]))
        held_out, origin = evaluation_edge_labels(source_dir, edge_type), EVALUATION_EDGE_LABELS
        if held_out is None:
            src, dst, truth = labels.src, labels.dst, labels.labels
            origin = "the graph's own edge labels (optimistic)"
        else:
            src_of, dst_of = (_int_ids(job.graph_dir, t) for t in (edge_type[0], edge_type[2]))
            known = [(src_of[s], dst_of[d], v) for (s, d), v in held_out.items() if s in src_of and d in dst_of]
            src, dst, truth = (np.array(column) for column in zip(*known)) if known else (np.zeros(0, np.int64),) * 3
        if len(truth) > MAX_EDGE_LABELS:
            chosen = np.sort(np.random.default_rng(0).choice(len(truth), MAX_EDGE_LABELS, replace=False))
            src, dst, truth = src[chosen], dst[chosen], truth[chosen]
        keys = src.astype(np.int64) * num_dst + dst.astype(np.int64)
        found_keys, found_pred = _predictions_of(manifest.edges[name].files, keys, num_dst) if name in manifest.edges else ([], [])
        scored = np.isin(keys, found_keys)
        predicted = found_pred[np.searchsorted(found_keys, keys[scored])] if len(found_keys) else np.zeros(0)
        measure, dtype = (rmse_against_mean, np.float64) if regression else (accuracy_against_majority, np.int64)
        out[name] = measure(np.asarray(predicted, dtype=dtype), np.asarray(truth[scored], dtype=dtype), labels.labels, origin)
    return out


def _int_ids(graph_dir: str, node_type: str) -> dict[str, int]:
    """Original id -> enumerated id of a node type (row i of the mapping file is int id i)."""
    return {node_id: i for i, node_id in enumerate(read_column(mapping_uri(graph_dir, node_type), "node_id").to_pylist())}


def _predictions_of(files: list[str], keys: np.ndarray, num_dst: int) -> tuple[np.ndarray, np.ndarray]:
    """The committed predictions of the edges whose src * num_dst + dst is in keys, sorted by that key."""
    found_keys, found_pred = [], []
    for uri in files:
        with storage.open_read(uri) as stream:
            parquet = pq.ParquetFile(stream)
            for group in range(parquet.num_row_groups):
                table = parquet.read_row_group(group)
                key = table["src_node_id"].to_numpy() * num_dst + table["dst_node_id"].to_numpy()
                wanted = np.isin(key, keys)
                found_keys.append(key[wanted])
                found_pred.append(table["pred"].to_numpy()[wanted])
    if not found_keys:
        return np.zeros(0, np.int64), np.zeros(0)
    every_key, every_pred = np.concatenate(found_keys), np.concatenate(found_pred)
    order = np.argsort(every_key, kind="stable")
    return every_key[order], every_pred[order]


def _table_embeddings(warehouse, table: str) -> tuple[list[str], np.ndarray]:
    data = warehouse.read_table(table)
    ids = data["node_id"].to_pylist()
    values = data["emb"].combine_chunks()
    return ids, values.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(ids), -1)


def job_quality(config, resources, warehouse, max_edges: int = 2000) -> dict[str, Quality]:
    """Held-out quality of a job's published output: per supervision node type (classification)
    or edge type (link prediction). Without held-out data in the graph source, the graph's own
    labels or a seeded sample of its edges stand in (marked in `source`: optimistic, the model
    may have trained on them)."""
    from gnn_assets.config.task_config import TaskKind
    from gnn_assets.graph.enumerated_layout import edge_type_name
    from gnn_assets.graph.enumerated_layout import edges_by_original_id, labels_by_original_id

    if config.task_kind.is_edge_based:
        return edge_quality(config, resources)
    source_dir = resources.layout.graph_source_dir(config.graph_name)  # where held-out data lies
    graph_dir = resources.layout.enumerated_graph_dir(config.graph_name)
    out = {}
    if config.task_kind.is_node_based:
        node_type = config.root_node_types[0]
        predictions = warehouse.read_table(config.output_tables(node_type)["predictions"])
        predicted = dict(zip(predictions["node_id"].to_pylist(), predictions["pred"].to_pylist()))
        labelled_ids, training_labels = labels_by_original_id(graph_dir, node_type)
        held_out = evaluation_labels(source_dir, node_type)
        origin = EVALUATION_LABELS
        if held_out is None:
            held_out, origin = dict(zip(labelled_ids, training_labels.tolist())), "the graph's own labels (optimistic)"
        ids = [n for n in held_out if n in predicted]
        measure, dtype = (rmse_against_mean, np.float64) if config.task_kind is TaskKind.NODE_REGRESSION else (accuracy_against_majority, np.int64)
        out[node_type] = measure(
            np.array([predicted[n] for n in ids], dtype=dtype), np.array([held_out[n] for n in ids], dtype=dtype), training_labels, origin
        )
        return out
    tasks = config.proto.task_metadata.node_anchor_based_link_prediction_task_metadata
    for edge in tasks.supervision_edge_types:
        key = (edge.src_node_type, edge.relation, edge.dst_node_type)
        src_ids, src_emb = _table_embeddings(warehouse, config.output_tables(key[0])["embeddings"])
        dst_ids, dst_emb = _table_embeddings(warehouse, config.output_tables(key[2])["embeddings"])
        pairs, origin = evaluation_edges(source_dir, key), EVALUATION_EDGES
        if pairs is None:
            pairs, origin = edges_by_original_id(graph_dir, key), "a sample of the graph's own edges (optimistic)"
        rng = np.random.default_rng(0)
        if len(pairs) > max_edges:
            pairs = [pairs[i] for i in np.sort(rng.choice(len(pairs), max_edges, replace=False))]
        src_row, dst_row = {n: i for i, n in enumerate(src_ids)}, {n: i for i, n in enumerate(dst_ids)}
        pairs = [(s, d) for s, d in pairs if s in src_row and d in dst_row]
        out[edge_type_name(key)] = recall_at_k(
            src_emb[[src_row[s] for s, _ in pairs]] if pairs else np.zeros((0, dst_emb.shape[1]), np.float32),
            dst_emb,
            np.array([dst_row[d] for _, d in pairs], dtype=np.int64),
            origin,
        )
    return out
