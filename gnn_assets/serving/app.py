"""The real-time endpoint: FastAPI on uvicorn, orjson responses, Prometheus metrics.

    POST /invocations   GraphStorm's real-time request (the subgraph comes with it)
    POST /v1/embed      original node ids only; the server samples their neighbourhoods
    GET  /healthz       the process answers
    GET  /readyz        a model is loaded
    GET  /metrics       Prometheus: requests by endpoint and code, latency, the model served

Every response names the model that computed it (body "model", headers X-Model-Job and
X-Model-Sha256). A request is computed on the process's event loop, one at a time (a thread pool
added a hop per request and let requests pile up behind each other's torch work: the tail
latency at concurrency 32 was four times as long); a machine's cores are used by worker
processes (`--workers`). The model is held in one reference: a request takes it when it starts, so a
swap (a new deployment record, checked every second) never changes a request in flight.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from typing import Callable

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from gnn_assets.serving.model import ServedModel, UnknownIds
from gnn_assets.serving.slow_clients import READ_SECONDS_ENV, DeadlineHttpProtocol
from gnn_assets.serving.payloads import INTERNAL_ERROR, OK, TARGET_ID_NOT_IN_GRAPH, Limits, PayloadError, parse_embed_request, parse_realtime_request

_log = logging.getLogger("gnn_assets.serving")
SWAP_POLL_SECONDS = 1.0
DRAIN_LIMIT = 256 << 20  # bytes of an oversized body read (and dropped) before the connection is closed


class ModelHolder:
    """The model being served; replaced whole by a swap, never changed in place."""

    def __init__(self):
        self.current: ServedModel | None = None
        self.error: str | None = None  # why no model (or no new model) could be loaded


class DeploymentWatcher:
    """Loads the deployed job's model whenever the deployment record names another one."""

    def __init__(self, holder: ModelHolder, read_deployment: Callable, load_model: Callable[[str, str], ServedModel]):
        self.holder = holder
        self.read_deployment = read_deployment
        self.load_model = load_model
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="deployment-watcher", daemon=True)

    def start(self) -> None:
        self.check()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> None:
        try:
            record = self.read_deployment()
            current = self.holder.current
            if current is None or (current.job_name, current.sha256) != (record.job_name, record.model_sha256):
                _log.info("loading job %s (sha256 %s) to serve", record.job_name, record.model_sha256[:12])
                self.holder.current = self.load_model(record.job_name, record.model_sha256)
                _log.info("now serving job %s", record.job_name)
            self.holder.error = None
        except Exception as error:  # keep serving the current model; say why in /readyz
            reason = " ".join(str(error).split())[:300]
            if reason != self.holder.error:  # logged once, and again when the reason changes
                _log.warning("deployment not loaded: %s", reason)
            self.holder.error = reason

    def _run(self) -> None:
        while not self._stop.wait(SWAP_POLL_SECONDS):
            self.check()


def create_app(holder: ModelHolder, limits: Limits = Limits(), on_shutdown: Callable[[], None] | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(title="gnn_assets real-time inference", docs_url=None, redoc_url=None, lifespan=lifespan)
    registry = CollectorRegistry()
    requests_total = Counter("gnn_requests", "Requests by endpoint and status code", ["endpoint", "code"], registry=registry)
    latency = Histogram(
        "gnn_request_seconds", "Request latency", ["endpoint"], registry=registry,
        buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
    )
    model_info = Gauge("gnn_model_info", "The model served (1 for the current one)", ["job_name", "sha256"], registry=registry)

    def respond(endpoint: str, started: float, model: ServedModel | None, code: int, uid: str, **fields) -> Response:
        body = {"status_code": code, "request_uid": uid, "message": "", "error": "", "data": {}, **fields}
        headers = {}
        if model is not None:
            body["model"] = model.name
            headers = {"X-Model-Job": model.job_name, "X-Model-Sha256": model.sha256}
        requests_total.labels(endpoint, str(code)).inc()
        latency.labels(endpoint).observe(time.perf_counter() - started)
        return Response(orjson.dumps(body), status_code=code, media_type="application/json", headers=headers)

    def handle(endpoint: str, request_body: bytes, answer: Callable[[ServedModel, bytes], dict]) -> Response:
        started, uid = time.perf_counter(), uuid.uuid4().hex
        model = holder.current  # this request's model, whatever a swap does meanwhile
        if model is None:
            return respond(endpoint, started, None, 503, uid, error=f"no model loaded yet: {holder.error or 'starting'}")
        try:
            data = answer(model, request_body)
        except PayloadError as error:
            return respond(endpoint, started, model, error.code, uid, error=str(error))
        except UnknownIds as error:
            return respond(endpoint, started, model, TARGET_ID_NOT_IN_GRAPH, uid, error=str(error), unknown_ids=error.node_ids[:100])
        except Exception:  # a bug, not the client's: logged with the request's id
            _log.exception("request %s failed", uid)
            return respond(endpoint, started, model, INTERNAL_ERROR, uid, error=f"internal error (request {uid})")
        return respond(endpoint, started, model, OK, uid, message="ok", data=data)

    async def read_body(request: Request) -> bytes:
        """The body, or its first limit + 1 bytes when it is larger (the parser refuses those,
        with the limit). The rest is read and dropped, so the client can read the answer, up to
        DRAIN_LIMIT; past that the connection is closed under it."""
        kept, size = [], 0
        async for chunk in request.stream():
            if size <= limits.max_body_bytes:
                kept.append(chunk[: limits.max_body_bytes + 1 - size])
            size += len(chunk)
            if size > DRAIN_LIMIT:
                break
        return b"".join(kept)

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        body = await read_body(request)

        def answer(model: ServedModel, raw: bytes) -> dict:
            parsed = parse_realtime_request(raw, limits)
            return {"results": [a.to_result() for a in model.answer_subgraph(parsed)]}

        return handle("/invocations", body, answer)

    @app.post("/v1/embed")
    async def embed(request: Request) -> Response:
        body = await read_body(request)

        def answer(model: ServedModel, raw: bytes) -> dict:
            node_type, ids = parse_embed_request(raw, limits)
            return {"results": [a.to_result() for a in model.answer_ids(node_type, ids)]}

        return handle("/v1/embed", body, answer)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(orjson.dumps({"status": "ok"}), media_type="application/json")

    @app.get("/readyz")
    def readyz() -> Response:
        model = holder.current
        body = {"ready": model is not None, "model": model.name if model else None, "error": holder.error}
        return Response(orjson.dumps(body), status_code=200 if model is not None else 503, media_type="application/json")

    @app.get("/metrics")
    def metrics() -> Response:
        model_info.clear()
        if holder.current is not None:
            model_info.labels(holder.current.job_name, holder.current.sha256).set(1)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


_ENV = {"resource_config_uri": "GNN_SERVE_RESOURCE_CONFIG", "task_name": "GNN_SERVE_TASK", "job_name": "GNN_SERVE_JOB"}


def app_from_environment() -> FastAPI:
    """The app of one server process (uvicorn's factory: each worker process builds its own
    model and watcher from the environment serve() sets)."""
    import os

    import torch

    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.serving.deployment import read_deployment

    resources = load_resource_config(os.environ[_ENV["resource_config_uri"]])
    task_name, job_name = os.environ[_ENV["task_name"]], os.environ.get(_ENV["job_name"], "")
    torch.set_num_threads(int(os.environ.get("GNN_SERVE_TORCH_THREADS", "1")))
    holder = ModelHolder()
    stop = None
    if job_name:
        holder.current = ServedModel(resources, task_name, job_name)  # pinned: loaded once, must load
    else:
        watcher = DeploymentWatcher(
            holder, lambda: read_deployment(resources.layout, task_name), lambda job, sha: ServedModel(resources, task_name, job, sha)
        )
        watcher.start()
        stop = watcher.stop
    return create_app(holder, on_shutdown=stop)


def serve(resource_config_uri: str, task_name: str, job_name: str | None, host: str, port: int, workers: int = 1) -> None:
    """Serve job_name's model, or the task's deployed one (swapped when the deployment changes),
    in `workers` processes sharing the port; each runs its model on cores / workers torch threads."""
    import os

    import uvicorn

    os.environ.update(
        {
            _ENV["resource_config_uri"]: resource_config_uri,
            _ENV["task_name"]: task_name,
            _ENV["job_name"]: job_name or "",
            "GNN_SERVE_TORCH_THREADS": str(max(1, (os.cpu_count() or 1) // workers)),
        }
    )
    os.environ.setdefault(READ_SECONDS_ENV, str(Limits().request_read_seconds))
    uvicorn.run(
        "gnn_assets.serving.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        http=DeadlineHttpProtocol,
    )
