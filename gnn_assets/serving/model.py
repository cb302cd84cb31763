"""A job's trained model held by the server, answering for a subgraph given in a request or for
node ids whose neighbourhood it samples itself.

It is loaded through the same inferencer protocol as the batch job (the frozen config of the
job, the model file checked against the sha256 recorded when it was deployed), so its answers
are the batch job's for the same neighbourhood.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from gnn_assets.config.layout import job_layout
from gnn_assets import storage
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskKind, load_task_config
from gnn_assets.graph.collate import CollatedBatch, collate, to_pyg
from gnn_assets.graph.enumerated_layout import mapping_uri
from gnn_assets.graph.enumeration import read_enumerated_graph
from gnn_assets.graph.sampler import NeighborSampler, neighborhoods
from gnn_assets.graph.samples import SampleBatch
from gnn_assets.inference.protocol import load_inferencer, move_to_device, resolve_device
from gnn_assets.inference.task_specs import graph_types
from gnn_assets.serving.payloads import (
    GRAPH_CONVERSION_FAILED,
    MISSING_VALUE,
    TARGET_ID_NOT_IN_GRAPH,
    TARGET_TYPE_NOT_IN_GRAPH,
    TASK_MISMATCH,
    PayloadError,
    RealtimeRequest,
    feature_matrix,
)

GML_TASKS = {
    TaskKind.NODE_CLASSIFICATION: "node_classification",
    TaskKind.NODE_REGRESSION: "node_regression",
    TaskKind.LINK_PREDICTION: "link_prediction",
    TaskKind.EDGE_CLASSIFICATION: "edge_classification",  # beyond GraphStorm's two
    TaskKind.EDGE_REGRESSION: "edge_regression",
}


@dataclass
class Answer:
    node_type: str
    node_id: str
    embedding: list[float]
    logits: list[float] | None = None  # classification
    value: float | None = None  # regression

    def to_result(self) -> dict:
        """GraphStorm's result: predictions are the logits for classification, the value (a list of
        one) for regression, else the embedding."""
        out = {"node_type": self.node_type, "node_id": self.node_id}
        if self.logits is not None:
            out.update(predictions=self.logits, predicted_class=int(np.argmax(self.logits)), embedding=self.embedding)
        elif self.value is not None:
            out.update(predictions=[self.value], predicted_value=self.value, embedding=self.embedding)
        else:
            out["predictions"] = self.embedding
        return out


@dataclass
class EdgeAnswer:
    """An edge task's answer for a target edge: its class's scores, or its value."""

    edge_type: tuple[str, str, str]
    src_node_id: str
    dest_node_id: str
    scores: list[float]  # the decoder's output: logits, or one value
    regression: bool

    def to_result(self) -> dict:
        out = {"edge_type": list(self.edge_type), "src_node_id": self.src_node_id, "dest_node_id": self.dest_node_id, "predictions": self.scores}
        if self.regression:
            out["predicted_value"] = self.scores[0]
        else:
            out["predicted_class"] = int(np.argmax(self.scores))
        return out


class ServedModel:
    def __init__(self, resources: Resources, task_name: str, job_name: str, model_sha256: str | None = None):
        layout = job_layout(resources.layout, task_name, job_name)
        self.config = load_task_config(layout.frozen_config_uri)
        self.job_name = job_name
        loaded = load_inferencer(self.config, resources.model_policy, model_sha256)
        self.sha256 = loaded.weights.sha256
        self.inferencer = loaded.inferencer
        self.device = resolve_device(resources.device)
        move_to_device(self.inferencer, self.device)
        self.types = graph_types(self.config)
        self.task = GML_TASKS[self.config.task_kind]
        self._graph_dir = resources.layout.enumerated_graph_dir(self.config.graph_name)
        self._graph = None
        self._graph_lock = threading.Lock()

    @property
    def name(self) -> dict:
        return {"job_name": self.job_name, "sha256": self.sha256}

    # ---- GraphStorm's request: the subgraph comes with it ------------------------------------

    def answer_subgraph(self, request: RealtimeRequest) -> list[Answer] | list[EdgeAnswer]:
        if request.gml_task != self.task:
            raise PayloadError(TASK_MISMATCH, f"gml_task {request.gml_task!r} does not match the deployed model's task {self.task!r}")
        edge_task = self.config.task_kind.is_edge_based
        if edge_task != bool(request.edge_targets):
            wanted = "edges {edge_type, src_node_id, dest_node_id}" if edge_task else "nodes {node_type, node_id}"
            raise PayloadError(MISSING_VALUE, f"targets: the deployed {self.task} model answers for {wanted}")
        types = self.types
        index: dict[str, dict[str, int]] = {t: {} for t in types.node_types}
        features: dict[str, list] = {t: [] for t in types.node_types}
        dims = dict(zip(types.node_types, types.feature_dims))
        for i, node in enumerate(request.nodes):
            if node.node_type not in index:
                raise PayloadError(GRAPH_CONVERSION_FAILED, f"graph.nodes[{i}]: node type {node.node_type!r} is not in the model's graph {types.node_types}")
            if node.features is None:
                raise PayloadError(GRAPH_CONVERSION_FAILED, f"graph.nodes[{i}]: features are required for every node of the graph")
            if len(node.features) != dims[node.node_type]:
                raise PayloadError(
                    GRAPH_CONVERSION_FAILED,
                    f"graph.nodes[{i}]: {len(node.features)} features, the model takes {dims[node.node_type]} for {node.node_type!r}",
                )
            if node.node_id in index[node.node_type]:
                raise PayloadError(GRAPH_CONVERSION_FAILED, f"graph.nodes[{i}]: node {node.node_type}/{node.node_id} is listed twice")
            index[node.node_type][node.node_id] = len(features[node.node_type])
            features[node.node_type].append(node.features)
        edge_lists: dict[int, tuple[list, list]] = {}
        for i, edge in enumerate(request.edges):
            if edge.edge_type not in types.edge_types:
                raise PayloadError(GRAPH_CONVERSION_FAILED, f"graph.edges[{i}]: edge type {list(edge.edge_type)} is not in the model's graph")
            src_type, _, dst_type = edge.edge_type
            src, dst = index[src_type].get(edge.src_node_id), index[dst_type].get(edge.dest_node_id)
            if src is None or dst is None:
                missing = edge.src_node_id if src is None else edge.dest_node_id
                raise PayloadError(GRAPH_CONVERSION_FAILED, f"graph.edges[{i}]: node {missing!r} is not among graph.nodes")
            pair = edge_lists.setdefault(types.edge_types.index(edge.edge_type), ([], []))
            pair[0].append(src)
            pair[1].append(dst)
        if edge_task:
            wanted_nodes = [(t, n) for e in request.edge_targets for t, n in ((e.edge_type[0], e.src_node_id), (e.edge_type[2], e.dest_node_id))]
        else:
            wanted_nodes = request.targets
        by_type: dict[str, list[tuple[str, int]]] = {}
        for i, (node_type, node_id) in enumerate(wanted_nodes):
            if node_type not in index or not index[node_type]:
                raise PayloadError(TARGET_TYPE_NOT_IN_GRAPH, f"targets[{i}]: node type {node_type!r} is not in the request's graph")
            position = index[node_type].get(node_id)
            if position is None:
                raise PayloadError(TARGET_ID_NOT_IN_GRAPH, f"targets[{i}]: node {node_id!r} of type {node_type!r} is not in the request's graph")
            by_type.setdefault(node_type, []).append((node_id, position))
        node_ids = {c: np.arange(len(features[t]), dtype=np.int64) for c, t in enumerate(types.node_types) if features[t]}
        arrays = {c: feature_matrix(features[t], t) for c, t in enumerate(types.node_types) if features[t]}
        edge_index = {}
        for e, (src, dst) in edge_lists.items():
            pairs = np.unique(np.array([src, dst], dtype=np.int64), axis=1)  # the graph is simple per edge type
            edge_index[e] = pairs
        data = to_pyg(node_ids, arrays, edge_index, types)
        answers = []
        for node_type, wanted in by_type.items():
            positions = np.array([p for _, p in wanted], dtype=np.int64)
            batch = CollatedBatch(data, node_type, positions, torch.from_numpy(positions), np.full(len(positions), -1))
            answers += self._answer(batch, [node_id for node_id, _ in wanted])
        if edge_task:
            return self._answer_edges(request, answers)
        order = {key: i for i, key in enumerate(request.targets)}
        return sorted(answers, key=lambda a: order[(a.node_type, a.node_id)])

    def _answer_edges(self, request: RealtimeRequest, ends: list[Answer]) -> list[EdgeAnswer]:
        """Each target edge scored from its two ends' embeddings (over the request's graph)."""
        embedding = {(a.node_type, a.node_id): a.embedding for a in ends}
        for i, edge in enumerate(request.edge_targets):
            if edge.edge_type not in self.config.supervision_edge_types:
                raise PayloadError(TARGET_TYPE_NOT_IN_GRAPH, f"targets[{i}]: edge type {list(edge.edge_type)} is not one the model predicts")
        src = torch.tensor([embedding[(e.edge_type[0], e.src_node_id)] for e in request.edge_targets], device=self.device)
        dst = torch.tensor([embedding[(e.edge_type[2], e.dest_node_id)] for e in request.edge_targets], device=self.device)
        with torch.inference_mode():
            scores = self.inferencer.edge_scores(src, dst).float().cpu().numpy().astype(np.float64).tolist()
        regression = self.config.task_kind.is_regression
        return [EdgeAnswer(e.edge_type, e.src_node_id, e.dest_node_id, s, regression) for e, s in zip(request.edge_targets, scores)]

    # ---- node ids only: the server samples the neighbourhood -------------------------------

    def _loaded_graph(self):
        with self._graph_lock:
            if self._graph is None:
                graph = read_enumerated_graph(self._graph_dir)
                ids = {t: storage.read_parquet(mapping_uri(self._graph_dir, t)) for t in graph.node_types}
                self._graph = (
                    graph,
                    NeighborSampler(graph, self.config.fanout, self.config.sampler_seed),
                    {t: dict(zip(m["node_id"].to_pylist(), m["int_id"].to_pylist())) for t, m in ids.items()},
                )
            return self._graph

    def answer_ids(self, node_type: str | None, node_ids: list[str]) -> list[Answer]:
        """Embeddings (and logits) of original node ids, each over its neighbourhood sampled with
        the task's fanout and seed; UnknownIds for ids the graph does not hold."""
        graph, sampler, mapping = self._loaded_graph()
        node_type = node_type or self.config.root_node_types[0]
        if node_type not in mapping:
            raise UnknownIds(node_type, node_ids, f"node type {node_type!r} is not in the graph")
        unknown = [n for n in node_ids if n not in mapping[node_type]]
        if unknown:
            raise UnknownIds(node_type, unknown, f"{len(unknown)} node ids of type {node_type!r} are not in the graph")
        roots = np.array([mapping[node_type][n] for n in node_ids], dtype=np.int64)
        unique, inverse = np.unique(roots, return_inverse=True)
        chunk = sampler.sample(node_type, unique)  # the batch job's rule: the same neighbours as its samples
        batch = collate(SampleBatch.from_neighborhoods(list(neighborhoods(graph, node_type, chunk))), self.types)
        answers = self._answer(batch, [str(i) for i in unique])
        return [Answer(node_type, node_ids[i], answers[j].embedding, answers[j].logits, answers[j].value) for i, j in enumerate(inverse)]

    def _answer(self, batch: CollatedBatch, node_ids: list[str]) -> list[Answer]:
        with torch.inference_mode():
            embeddings = self.inferencer.infer_batch(batch, self.device).embeddings
            scores, regression = getattr(self.inferencer, "scores", None), getattr(self.inferencer, "values", None)
            logits = scores(embeddings).float().cpu().numpy().tolist() if callable(scores) else None
            # float64 from the float32 the batch job writes as its pred: the two agree exactly.
            predicted = regression(embeddings).float().cpu().numpy().astype(np.float64).tolist() if callable(regression) else None
        vectors = embeddings.float().cpu().numpy().tolist()
        return [
            Answer(
                batch.root_node_type,
                node_id,
                vectors[i],
                logits[i] if logits is not None else None,
                predicted[i] if predicted is not None else None,
            )
            for i, node_id in enumerate(node_ids)
        ]


class UnknownIds(Exception):
    def __init__(self, node_type: str, node_ids: list[str], message: str):
        super().__init__(message)
        self.node_type = node_type
        self.node_ids = node_ids
