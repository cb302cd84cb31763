"""GraphStorm's real-time request and response (payload version gs-realtime-v0.1), parsed and
validated once, where the request enters; every failure is a PayloadError with GraphStorm's code.

A request: {"version": "gs-realtime-v0.1", "gml_task": ..., "graph": {"nodes": [...], "edges":
[...]}, "targets": [...]} (targets inside "graph" are accepted too, as older payloads put them).
A node: {"node_type", "node_id", "features": {"features": [floats]}}: its feature vector is the
one feature named FEATURE_NAME. An edge: {"edge_type": [src type, relation, dst type],
"src_node_id", "dest_node_id"}. A target: {"node_type", "node_id"}.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson

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


class PayloadError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Node:
    node_type: str
    node_id: str
    features: np.ndarray | None  # float32


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


def _field(obj: dict, name: str, where: str):
    if not isinstance(obj, dict):
        raise PayloadError(MISSING_FIELD, f"{where} must be a JSON object")
    if name not in obj:
        raise PayloadError(MISSING_FIELD, f"{where}: field {name!r} is missing")
    value = obj[name]
    if value is None or value == "" or value == []:
        raise PayloadError(MISSING_VALUE, f"{where}: field {name!r} has no value")
    return value


def _text(obj: dict, name: str, where: str) -> str:
    value = _field(obj, name, where)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PayloadError(MISSING_VALUE, f"{where}: {name!r} must be a string")
    return str(value)


def _list(obj: dict, name: str, where: str, limit: int, what: str) -> list:
    value = _field(obj, name, where)
    if not isinstance(value, list):
        raise PayloadError(MISSING_VALUE, f"{where}: {name!r} must be a list")
    if len(value) > limit:
        raise PayloadError(TOO_LARGE, f"{where}: {len(value):,} {what}, more than this server's limit of {limit:,}")
    return value


def _features(node: dict, where: str) -> np.ndarray | None:
    if "features" not in node or node["features"] is None:
        return None
    named = node["features"]
    if not isinstance(named, dict) or FEATURE_NAME not in named:
        raise PayloadError(MISSING_FIELD, f"{where}: features must hold the feature {FEATURE_NAME!r} (the node's feature vector)")
    values = named[FEATURE_NAME]
    if not isinstance(values, list) or not values:
        raise PayloadError(MISSING_VALUE, f"{where}: features.{FEATURE_NAME} must be a non-empty list of numbers")
    array = np.asarray(values)  # one call per node: a list of numbers becomes a float or integer array
    if array.ndim != 1 or array.dtype.kind not in "iuf":
        raise PayloadError(GRAPH_CONVERSION_FAILED, f"{where}: features.{FEATURE_NAME} must be a flat list of numbers")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():  # JSON has no NaN or inf, but a huge number overflows a float32
        raise PayloadError(GRAPH_CONVERSION_FAILED, f"{where}: features.{FEATURE_NAME} holds a value a float32 cannot hold")
    return array


def parse_body(body: bytes, limits: Limits):
    if len(body) > limits.max_body_bytes:
        raise PayloadError(TOO_LARGE, f"the request body is {len(body):,} bytes, more than this server's limit of {limits.max_body_bytes:,}")
    try:
        return orjson.loads(body)  # NaN and Infinity are not JSON: refused here
    except orjson.JSONDecodeError as error:
        raise PayloadError(BAD_JSON, f"the request body is not JSON: {error}") from None


def parse_realtime_request(body: bytes, limits: Limits) -> RealtimeRequest:
    payload = parse_body(body, limits)
    if not isinstance(payload, dict):
        raise PayloadError(BAD_JSON, "the request must be a JSON object")
    version = _text(payload, "version", "request")
    if version != VERSION:
        raise PayloadError(MISSING_VALUE, f"request: version {version!r} is not supported; use {VERSION!r}")
    task = _text(payload, "gml_task", "request")
    graph = _field(payload, "graph", "request")
    if not isinstance(graph, dict):
        raise PayloadError(MISSING_VALUE, "request: 'graph' must be an object with nodes and edges")
    raw_nodes = _list(graph, "nodes", "graph", limits.max_nodes, "nodes")
    raw_edges = graph.get("edges") or []
    if not isinstance(raw_edges, list):
        raise PayloadError(MISSING_VALUE, "graph: 'edges' must be a list")
    if len(raw_edges) > limits.max_edges:
        raise PayloadError(TOO_LARGE, f"graph: {len(raw_edges):,} edges, more than this server's limit of {limits.max_edges:,}")
    holder = payload if "targets" in payload else graph  # older payloads put targets inside graph
    raw_targets = _list(holder, "targets", "request", limits.max_targets, "targets")
    nodes = []
    for i, node in enumerate(raw_nodes):
        where = f"graph.nodes[{i}]"
        nodes.append(Node(_text(node, "node_type", where), _text(node, "node_id", where), _features(node, where)))
    edges = []
    for i, edge in enumerate(raw_edges):
        where = f"graph.edges[{i}]"
        edge_type = _field(edge, "edge_type", where)
        if not (isinstance(edge_type, list) and len(edge_type) == 3 and all(isinstance(p, str) and p for p in edge_type)):
            raise PayloadError(MISSING_VALUE, f"{where}: edge_type must be [source type, relation, destination type]")
        edges.append(Edge(tuple(edge_type), _text(edge, "src_node_id", where), _text(edge, "dest_node_id", where)))
    targets = []
    for i, target in enumerate(raw_targets):
        where = f"targets[{i}]"
        targets.append((_text(target, "node_type", where), _text(target, "node_id", where)))
    return RealtimeRequest(task, nodes, edges, targets)


def parse_embed_request(body: bytes, limits: Limits) -> tuple[str | None, list[str]]:
    """/v1/embed: {"node_type": optional, "node_ids": [original ids]}."""
    payload = parse_body(body, limits)
    if not isinstance(payload, dict):
        raise PayloadError(BAD_JSON, "the request must be a JSON object")
    ids = _list(payload, "node_ids", "request", limits.max_targets, "node ids")
    node_type = payload.get("node_type")
    if node_type is not None and not isinstance(node_type, str):
        raise PayloadError(MISSING_VALUE, "request: node_type must be a string")
    for value in ids:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise PayloadError(MISSING_VALUE, f"request: node id {value!r} is not a string")
    return node_type, [str(v) for v in ids]
