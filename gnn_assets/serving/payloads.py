"""GraphStorm's real-time request and response (payload version gs-realtime-v0.1), parsed (orjson)
and validated (pydantic models) once, where the request enters; every failure is a PayloadError
with GraphStorm's code: 401 a missing field, 402 a field without a usable value, 411 features
that cannot make a graph, 413 over this server's limits.

A request: {"version": "gs-realtime-v0.1", "gml_task": ..., "graph": {"nodes": [...], "edges":
[...]}, "targets": [...]} (targets inside "graph" are accepted too, as older payloads put them).
A node: {"node_type", "node_id", "features": {"features": [floats]}}: its feature vector is the
one feature named FEATURE_NAME. An edge: {"edge_type": [src type, relation, dst type],
"src_node_id", "dest_node_id"}. A target: {"node_type", "node_id"}, or for an edge task (beyond
GraphStorm) an edge of the graph: {"edge_type", "src_node_id", "dest_node_id"}.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

VERSION = "gs-realtime-v0.1"
FEATURE_NAME = "features"

# GraphStorm's status codes
OK = 200
BAD_JSON = 400
MISSING_FIELD = 401
MISSING_VALUE = 402
TARGET_TYPE_NOT_IN_GRAPH = 403
TARGET_ID_NOT_IN_GRAPH = 404
TOO_LARGE = 413  # beyond GraphStorm: the body or the graph exceeds the server's limits
GRAPH_CONVERSION_FAILED = 411
TASK_MISMATCH = 421
INTERNAL_ERROR = 500


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 8 << 20
    max_nodes: int = 20_000
    max_edges: int = 200_000
    max_targets: int = 1_000
    request_read_seconds: float = 10.0  # a client that has not sent its whole request by then is cut off


class PayloadError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Node:
    node_type: str
    node_id: str
    features: list | None  # the numbers as given; see feature_matrix


@dataclass
class Edge:
    edge_type: tuple[str, str, str]
    src_node_id: str
    dest_node_id: str


@dataclass
class RealtimeRequest:
    gml_task: str
    nodes: list[Node]
    edges: list[Edge]
    targets: list[tuple[str, str]]  # (node_type, node_id)
    edge_targets: list[Edge] = ()  # an edge task's targets: edges whose ends are among the nodes


NonEmpty = Annotated[str, Field(min_length=1)]
# Ids may come as JSON numbers; they are compared as strings.
NodeId = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v), Field(min_length=1)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class NodeIn(_In):
    node_type: NonEmpty
    node_id: NodeId
    features: dict[str, Any] | None = None  # {FEATURE_NAME: [numbers]}, checked with numpy below


class EdgeIn(_In):
    edge_type: tuple[NonEmpty, NonEmpty, NonEmpty]
    src_node_id: NodeId
    dest_node_id: NodeId


class TargetIn(_In):
    """A node ({node_type, node_id}) or an edge ({edge_type, src_node_id, dest_node_id})."""

    node_type: NonEmpty | None = None
    node_id: NodeId | None = None
    edge_type: tuple[NonEmpty, NonEmpty, NonEmpty] | None = None
    src_node_id: NodeId | None = None
    dest_node_id: NodeId | None = None


class GraphIn(_In):
    nodes: Annotated[list[NodeIn], Field(min_length=1)]
    edges: list[EdgeIn] = []
    targets: list[TargetIn] | None = None  # where older payloads put them


class RealtimeRequestIn(_In):
    version: NonEmpty
    gml_task: NonEmpty
    graph: GraphIn
    targets: list[TargetIn] | None = None


class EmbedRequestIn(_In):
    node_ids: Annotated[list[NodeId], Field(min_length=1)]
    node_type: NonEmpty | None = None


def _validated(model: type[BaseModel], payload) -> BaseModel:
    """The payload as the model, or PayloadError with GraphStorm's code for the first problem:
    401 for a missing field, 402 for a field without a usable value."""
    if not isinstance(payload, dict):
        raise PayloadError(BAD_JSON, "the request must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]).lstrip(".") or "request"
        if first["type"] == "missing":
            raise PayloadError(MISSING_FIELD, f"{where}: required field is missing") from None
        raise PayloadError(MISSING_VALUE, f"{where}: {first['msg']} (got {str(first.get('input'))[:60]!r})") from None


def _check_sizes(payload, limits: Limits) -> None:
    """413 before validation: the lists' lengths, against this server's limits."""
    graph = payload.get("graph") if isinstance(payload, dict) else None
    graph = graph if isinstance(graph, dict) else {}
    targets = payload.get("targets") if isinstance(payload, dict) and "targets" in payload else graph.get("targets")
    for what, value, limit in (
        ("graph.nodes", graph.get("nodes"), limits.max_nodes),
        ("graph.edges", graph.get("edges"), limits.max_edges),
        ("targets", targets, limits.max_targets),
    ):
        if isinstance(value, list) and len(value) > limit:
            raise PayloadError(TOO_LARGE, f"{what}: {len(value):,} entries, more than this server's limit of {limit:,}")


def parse_body(body: bytes, limits: Limits):
    if len(body) > limits.max_body_bytes:
        raise PayloadError(TOO_LARGE, f"the request body is {len(body):,} bytes, more than this server's limit of {limits.max_body_bytes:,}")
    try:
        return orjson.loads(body)  # NaN and Infinity are not JSON: refused here
    except orjson.JSONDecodeError as error:
        raise PayloadError(BAD_JSON, f"the request body is not JSON: {error}") from None


def _features(named: dict | None, where: str) -> list | None:
    """The node's feature vector as given; the numbers are checked when the graph is built,
    one array per node type (numpy per node cost more than the whole forward)."""
    if named is None:
        return None
    if FEATURE_NAME not in named:
        raise PayloadError(MISSING_FIELD, f"{where}.features: the feature {FEATURE_NAME!r} (the node's feature vector) is missing")
    values = named[FEATURE_NAME]
    if not isinstance(values, list) or not values:
        raise PayloadError(MISSING_VALUE, f"{where}.features.{FEATURE_NAME} must be a non-empty list of numbers")
    return values


_JSON_TYPE_NAMES = {str: "strings", bool: "booleans", list: "lists", dict: "objects"}
_JSON_NUMBERS = {int, float}  # what orjson gives for JSON numbers (bool is a type of its own)


def feature_matrix(rows: list[list], node_type: str) -> np.ndarray:
    """Feature vectors of one node type (each already of the model's size) as float32; 411
    unless every value is a JSON number a float32 holds. numpy would read "1.0" and true as
    numbers and null as NaN: the values' types are checked first, in one pass at C speed."""
    where = f"graph.nodes of type {node_type!r}: features.{FEATURE_NAME}"
    types = set(map(type, itertools.chain.from_iterable(rows)))
    if type(None) in types:
        raise PayloadError(GRAPH_CONVERSION_FAILED, f"{where} holds null: every value must be given (a number)")
    if not types <= _JSON_NUMBERS:
        found = ", ".join(sorted(_JSON_TYPE_NAMES.get(t, t.__name__) for t in types - _JSON_NUMBERS))
        raise PayloadError(GRAPH_CONVERSION_FAILED, f"{where} must hold JSON numbers only, found {found}")
    try:
        array = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # an integer beyond a float64
        raise PayloadError(GRAPH_CONVERSION_FAILED, f"{where}: a feature value is beyond what a float32 holds") from None
    with np.errstate(over="ignore"):  # a value beyond a float32 becomes inf, refused just below
        array = array.astype(np.float32)
    if not np.isfinite(array).all():  # JSON has no NaN or inf, but a huge number overflows a float32
        raise PayloadError(GRAPH_CONVERSION_FAILED, f"graph.nodes of type {node_type!r}: a feature value is beyond what a float32 holds")
    return array


def parse_realtime_request(body: bytes, limits: Limits) -> RealtimeRequest:
    payload = parse_body(body, limits)
    _check_sizes(payload, limits)
    request = _validated(RealtimeRequestIn, payload)
    if request.version != VERSION:
        raise PayloadError(MISSING_VALUE, f"version: {request.version!r} is not supported; use {VERSION!r}")
    targets = request.targets if request.targets is not None else request.graph.targets
    if not targets:
        code = MISSING_FIELD if targets is None else MISSING_VALUE
        raise PayloadError(code, "targets: required field is missing" if targets is None else "targets: no target given")
    nodes = [Node(n.node_type, n.node_id, _features(n.features, f"graph.nodes[{i}]")) for i, n in enumerate(request.graph.nodes)]
    edges = [Edge(e.edge_type, e.src_node_id, e.dest_node_id) for e in request.graph.edges]
    node_targets, edge_targets = [], []
    for i, target in enumerate(targets):
        fields = ("edge_type", "src_node_id", "dest_node_id") if target.edge_type is not None else ("node_type", "node_id")
        missing = [f for f in fields if getattr(target, f) is None]
        if missing:
            raise PayloadError(MISSING_FIELD, f"targets[{i}].{missing[0]}: required field is missing")
        if target.edge_type is not None:
            edge_targets.append(Edge(target.edge_type, target.src_node_id, target.dest_node_id))
        else:
            node_targets.append((target.node_type, target.node_id))
    if node_targets and edge_targets:
        raise PayloadError(MISSING_VALUE, "targets: nodes and edges together; a request's targets are nodes, or edges for an edge task")
    return RealtimeRequest(request.gml_task, nodes, edges, node_targets, edge_targets)


def parse_embed_request(body: bytes, limits: Limits) -> tuple[str | None, list[str]]:
    """/v1/embed: {"node_type": optional, "node_ids": [original ids]}."""
    payload = parse_body(body, limits)
    if isinstance(payload, dict) and isinstance(payload.get("node_ids"), list) and len(payload["node_ids"]) > limits.max_targets:
        raise PayloadError(TOO_LARGE, f"node_ids: {len(payload['node_ids']):,} ids, more than this server's limit of {limits.max_targets:,}")
    request = _validated(EmbedRequestIn, payload)
    return request.node_type, list(request.node_ids)
