"""The real-time server over real sockets: GraphStorm's payload and /v1/embed answer as the batch
job does; every error code comes from a real malformed request and the server keeps answering;
a model swap under load loses no request and every response names its model."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from gnn_assets.graph.enumeration import read_enumerated_graph
from gnn_assets.jobs import driver
from gnn_assets.serving.deployment import write_deployment
from gnn_assets.warehouse import open_warehouse
from gnn_assets.inference.protocol import load_state_dict
from tests.support.deployments import prepare_job
from tests.support.exactness import FULL, final_rows
from gnn_assets.serving.slow_clients import READ_SECONDS_ENV
from tests.support.servers import free_port, start_server, stop_server
from tests.support.waits import wait_until


def _post(url: str, body: bytes | dict, timeout: float = 30) -> tuple[int, dict, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def served_job(tmp_path_factory, small_homogeneous_graph):
    """A node classification job with full neighbourhoods, run in batch, and its model deployed."""
    tmp_path = tmp_path_factory.mktemp("served")
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **FULL)
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    sha = load_state_dict(job.frozen.trained_model_uri, job.resources.model_policy).sha256
    write_deployment(job.resources.layout, job.frozen.task_name, job.job_name, sha)
    return job, tmp_path


@pytest.fixture(scope="module")
def server(served_job):
    job, tmp_path = served_job
    # A short read deadline, so that the slow-client test waits seconds, not the default 10 s per socket.
    with _serving(job, tmp_path, {READ_SECONDS_ENV: "3"}) as url:
        yield url


@contextlib.contextmanager
def _serving(job, tmp_path, env: dict | None = None):
    """`gnn-assets serve` for the job's task on a free port, ready; its URL."""
    port = free_port()
    command = [sys.executable, "-m", "gnn_assets.cli", "serve", "--task_config_uri", job.task_config_uri,
               "--resource_config_uri", job.resources.uri, "--port", str(port)]
    process = start_server(command, port, tmp_path / "server.log", env, ready_url=f"http://127.0.0.1:{port}/readyz", timeout=120)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def _two_hop_payload(job, paper_int_id: int, mapping: dict[int, str]) -> dict:
    """The paper's whole 2-hop in-neighbourhood with features, as GraphStorm's request."""
    graph = read_enumerated_graph(job.resources.layout.enumerated_graph_dir(job.frozen.graph_name))
    src, dst = graph.edges[("paper", "cites", "paper")]
    hop1 = src[dst == paper_int_id]
    into_hop1 = np.isin(dst, hop1)
    edges = [(int(s), paper_int_id) for s in hop1] + list(zip(src[into_hop1].tolist(), dst[into_hop1].tolist()))
    nodes = sorted({paper_int_id, *[s for s, _ in edges], *[d for _, d in edges]})
    features = graph.features["paper"]
    return {
        "version": "gs-realtime-v0.1",
        "gml_task": "node_classification",
        "graph": {
            "nodes": [{"node_type": "paper", "node_id": mapping[n], "features": {"features": features[n].tolist()}} for n in nodes],
            "edges": [{"edge_type": ["paper", "cites", "paper"], "src_node_id": mapping[s], "dest_node_id": mapping[d]} for s, d in edges],
        },
        "targets": [{"node_type": "paper", "node_id": mapping[paper_int_id]}],
    }


def _mapping(job) -> dict[int, str]:
    from gnn_assets import storage
    from gnn_assets.graph.enumerated_layout import mapping_uri

    table = storage.read_parquet(mapping_uri(job.resources.layout.enumerated_graph_dir(job.frozen.graph_name), "paper"))
    return dict(zip(table["int_id"].to_pylist(), table["node_id"].to_pylist()))


def test_graphstorm_request_and_embed_by_id_equal_the_batch_job(server, served_job):
    job, _ = served_job
    mapping = _mapping(job)
    batch_embeddings, batch_predictions = final_rows(job, "paper"), final_rows(job, "paper", "predictions")
    for paper in (3, 417):
        code, body, headers = _post(f"{server}/invocations", _two_hop_payload(job, paper, mapping))
        assert code == 200 and body["status_code"] == 200, body
        (result,) = body["data"]["results"]
        node_id = mapping[paper]
        assert result["node_id"] == node_id
        assert np.abs(np.array(result["embedding"]) - np.array(batch_embeddings[node_id])).max() < 1e-4
        assert result["predicted_class"] == batch_predictions[node_id] == int(np.argmax(result["predictions"]))
        assert body["model"]["job_name"] == job.job_name == headers["x-model-job"]
    ids = [mapping[5], mapping[900], mapping[5]]
    code, body, _ = _post(f"{server}/v1/embed", {"node_ids": ids})
    assert code == 200, body
    for result, node_id in zip(body["data"]["results"], ids):
        assert result["node_id"] == node_id
        assert np.abs(np.array(result["embedding"]) - np.array(batch_embeddings[node_id])).max() < 1e-4


def test_every_error_code_comes_from_a_real_malformed_request(server, served_job):
    job, _ = served_job
    mapping = _mapping(job)
    good = _two_hop_payload(job, 3, mapping)

    def variant(change) -> dict:
        payload = json.loads(json.dumps(good))
        change(payload)
        return payload

    cases = {
        # NaN, Infinity and numbers beyond a double (1e999) in features are refused where the JSON is parsed.
        400: [
            b"{not json",
            b"[1, 2]",
            json.dumps(good).replace("]", ", NaN]", 1).encode(),
            json.dumps(variant(lambda p: p["graph"]["nodes"][0]["features"].update(features=[123.0] * 32))).replace("123.0", "1e999", 1).encode(),
        ],
        401: [variant(lambda p: p.pop("gml_task")), variant(lambda p: p["graph"]["nodes"][0].pop("node_id")), variant(lambda p: p.pop("targets"))],
        402: [variant(lambda p: p.update(gml_task="")), variant(lambda p: p["graph"]["nodes"][0].update(node_id=None))],
        403: [variant(lambda p: p.update(targets=[{"node_type": "author", "node_id": "a1"}]))],
        404: [variant(lambda p: p.update(targets=[{"node_type": "paper", "node_id": "no-such-paper"}]))],
        411: [
            variant(lambda p: p["graph"]["nodes"][0]["features"].update(features=[1.0, 2.0])),  # wrong dimension
            variant(lambda p: p["graph"]["edges"].append({"edge_type": ["paper", "cites", "paper"], "src_node_id": "x", "dest_node_id": mapping[3]})),
            variant(lambda p: p["graph"]["nodes"][0].update(node_type="author")),
        ],
        421: [variant(lambda p: p.update(gml_task="link_prediction"))],
        413: [b" " * (9 << 20), variant(lambda p: p.update(targets=[p["targets"][0]] * 1001))],
    }
    for code, payloads in cases.items():
        for payload in payloads:
            status, body, _ = _post(f"{server}/invocations", payload)
            assert (status, body["status_code"]) == (code, code), (code, body)
            assert body["error"] and "\n" not in body["error"] and body["data"] == {}
    status, body, _ = _post(f"{server}/v1/embed", {"node_ids": ["no-such-paper", mapping[1]]})
    assert status == 404 and body["unknown_ids"] == ["no-such-paper"]
    assert _get(f"{server}/healthz")[0] == 200 and _post(f"{server}/invocations", good)[0] == 200  # still answering
    metrics = _get(f"{server}/metrics")[1].decode()
    assert 'gnn_requests_total{code="421",endpoint="/invocations"} 1.0' in metrics
    assert f'gnn_model_info{{job_name="{job.job_name}"' in metrics


def test_a_swap_under_load_loses_no_request_and_every_answer_names_its_model(server, served_job):
    job, tmp_path = served_job
    mapping = _mapping(job)
    from gnn_assets.inference.task_specs import write_untrained_model
    from gnn_assets.config.task_config import freeze_task_config, load_task_config, write_frozen_config

    other = freeze_task_config(load_task_config(job.task_config_uri), job.resources, "other-job")
    write_frozen_config(other)
    write_untrained_model(other, seed=7)
    other_sha = load_state_dict(other.trained_model_uri, job.resources.model_policy).sha256
    answers, failures, stop = [], [], threading.Event()

    def client():
        while not stop.is_set():
            code, body, _ = _post(f"{server}/v1/embed", {"node_ids": [mapping[11], mapping[12]]})
            (answers if code == 200 else failures).append(body)

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    wait_until(lambda: len(answers) >= 8, "answers from the first model")
    write_deployment(job.resources.layout, job.frozen.task_name, "other-job", other_sha)
    switched_at = wait_until(
        lambda: next((i + 1 for i, a in enumerate(list(answers)) if a["model"]["job_name"] == "other-job"), None), "an answer from the new model"
    )
    wait_until(lambda: len(answers) >= switched_at + 16, "answers after the switch")
    stop.set()
    for thread in clients:
        thread.join()
    assert not failures, failures[:2]
    names = [a["model"]["job_name"] for a in answers]
    assert names[0] == job.job_name and names[-1] == "other-job"
    switched = names.index("other-job")
    assert all(n == "other-job" for n in names[switched + 8 :])  # the threads' in-flight requests may finish on the old model
    assert {a["model"]["sha256"] for a in answers if a["model"]["job_name"] == "other-job"} == {other_sha}


def test_materializing_deployed_model_makes_a_running_server_serve_that_job(deployment, materialized, tmp_path):
    """The chain of the shared Dagster deployment succeeded for PARTITION: deploying with no job
    named picks it, and a server started before any deployment starts serving it."""
    from dagster import AssetKey

    from tests.support.deployments import PARTITION, TASK

    result, frozen = materialized
    assert result.success
    port = free_port()
    command = [sys.executable, "-m", "gnn_assets.cli", "serve", "--task_config_uri", str(deployment.template(TASK)),
               "--resource_config_uri", str(deployment.resource_config), "--port", str(port)]
    process = start_server(command, port, tmp_path / "server.log", timeout=120)
    try:
        url = f"http://127.0.0.1:{port}"
        status, body = _get(f"{url}/readyz")
        assert status == 503 and "no model is deployed" in json.loads(body)["error"]
        deployed = deployment.definitions().resolve_job_def(f"{TASK}_deploy").execute_in_process(instance=deployment.instance)
        assert deployed.success
        record = deployment.instance.get_latest_materialization_event(AssetKey([TASK, "deployed_model"])).asset_materialization
        assert record.metadata["job_name"].value == PARTITION
        wait_until(lambda: _get(f"{url}/readyz")[0] == 200, "the server to serve the deployed model")
        code, body, headers = _post(f"{url}/v1/embed", {"node_ids": ["paper_00000000"]})
        assert code == 200 and headers["x-model-job"] == PARTITION and body["model"]["sha256"] == record.metadata["model_sha256"].value
        # The README's example request is a subgraph of this demo graph.
        from tests.support import REPO

        code, body, _ = _post(f"{url}/invocations", (REPO / "examples" / "invocation_node_classification.json").read_bytes())
        assert code == 200 and body["data"]["results"][0]["node_id"] == "paper_00000000", body
    finally:
        stop_server(process)


def test_slow_clients_are_cut_off_and_others_still_served(server, served_job):
    """Before: twenty sockets dripping their headers stayed open for ever."""
    job, _ = served_job
    port = int(server.rsplit(":", 1)[1])
    slow = []
    for i in range(20):
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"")  # half send nothing at all
        slow.append(sock)
    assert _post(f"{server}/invocations", _two_hop_payload(job, 3, _mapping(job)))[0] == 200
    for sock in slow:
        assert sock.recv(1024) == b""  # closed by the server (recv waits up to the socket's 60 s)
        sock.close()
    assert _get(f"{server}/healthz")[0] == 200


@pytest.mark.slow
def test_embed_by_id_equals_the_published_table_for_every_node_with_a_sampled_fanout(tmp_path, small_homogeneous_graph):
    """Before: the batch sampler drew per chunk of roots and the server per request, so
    /v1/embed answered up to 1.85 per value away from the job's own table for the same node."""
    from gnn_assets.serving.model import ServedModel

    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"gnnAssetsConfig.sampler.fanout": [3, 2]})
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    embeddings, predictions = final_rows(job, "paper"), final_rows(job, "paper", "predictions")
    served = ServedModel(job.resources, job.frozen.task_name, job.job_name)
    ids = sorted(embeddings)
    for start in range(0, len(ids), 250):  # requests of 250 ids, as clients send them
        for answer in served.answer_ids("paper", ids[start : start + 250]):
            assert np.abs(np.array(answer.embedding) - np.array(embeddings[answer.node_id])).max() < 1e-4, answer.node_id
            assert int(np.argmax(answer.logits)) == predictions[answer.node_id]


def _typed_two_hop_payload(job, gml_task: str, roots: list[tuple[str, int]], targets: list[dict] | None = None) -> dict:
    """The roots' whole 2-hop in-neighbourhoods over every edge type of a typed graph, with
    features, as GraphStorm's request; targets: the roots themselves unless given (by original id)."""
    from gnn_assets import storage
    from gnn_assets.graph.enumerated_layout import mapping_uri

    graph_dir = job.resources.layout.enumerated_graph_dir(job.frozen.graph_name)
    graph = read_enumerated_graph(graph_dir)
    ids = {t: storage.read_parquet(mapping_uri(graph_dir, t))["node_id"].to_pylist() for t in graph.node_types}
    frontier, nodes, edges = set(roots), set(roots), set()
    for _ in range(2):
        reached = set()
        for key, (src, dst) in graph.edges.items():
            into = np.isin(dst, np.array([n for t, n in frontier if t == key[2]], dtype=np.int64))
            for s, d in zip(src[into].tolist(), dst[into].tolist()):
                edges.add((key, s, d))
                reached.add((key[0], s))
        nodes |= reached
        frontier = reached
    features = graph.features
    return {
        "version": "gs-realtime-v0.1",
        "gml_task": gml_task,
        "graph": {
            "nodes": [{"node_type": t, "node_id": ids[t][n], "features": {"features": features[t][n].tolist()}} for t, n in sorted(nodes)],
            "edges": [{"edge_type": list(k), "src_node_id": ids[k[0]][s], "dest_node_id": ids[k[2]][d]} for k, s, d in sorted(edges)],
        },
        "targets": targets or [{"node_type": t, "node_id": ids[t][n]} for t, n in roots],
    }


@pytest.mark.slow
def test_node_regression_answers_equal_the_published_values(tmp_path, small_typed_graph):
    """gml_task node_regression over a real socket, and /v1/embed for every item: the value each
    answer predicts is the published table's (full neighbourhoods, a layer-wise job)."""
    job = prepare_job(tmp_path, "demo_node_regression", small_typed_graph, **FULL)
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    write_deployment(job.resources.layout, job.frozen.task_name, job.job_name, load_state_dict(job.frozen.trained_model_uri, job.resources.model_policy).sha256)
    embeddings, values = final_rows(job, "item"), final_rows(job, "item", "predictions")
    with _serving(job, tmp_path) as url:
        for item in (0, 123):
            code, body, _ = _post(f"{url}/invocations", _typed_two_hop_payload(job, "node_regression", [("item", item)]))
            assert code == 200, body
            (result,) = body["data"]["results"]
            assert result["predictions"] == [result["predicted_value"]] and abs(result["predicted_value"] - values[result["node_id"]]) < 1e-4
            assert np.abs(np.array(result["embedding"]) - np.array(embeddings[result["node_id"]])).max() < 1e-4
        status, body, _ = _post(f"{url}/invocations", _typed_two_hop_payload(job, "node_classification", [("item", 0)]))
        assert status == 421 and "does not match the deployed model's task 'node_regression'" in body["error"]
        ids = sorted(values)
        code, body, _ = _post(f"{url}/v1/embed", {"node_type": "item", "node_ids": ids})
        assert code == 200, body
        got = {r["node_id"]: r["predicted_value"] for r in body["data"]["results"]}
        assert got.keys() == values.keys() and max(abs(got[n] - values[n]) for n in ids) < 1e-4


@pytest.mark.slow
def test_edge_regression_answers_for_target_edges_equal_the_published_predictions(tmp_path, small_typed_graph):
    """gml_task edge_regression (beyond GraphStorm) over a real socket: a purchase given as the
    target, with its user's and its item's 2-hop neighbourhoods, scores as its published row."""
    from gnn_assets import storage
    from gnn_assets.graph.enumerated_layout import edges_uri, mapping_uri

    job = prepare_job(tmp_path, "demo_edge_regression", small_typed_graph, **FULL)
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    write_deployment(job.resources.layout, job.frozen.task_name, job.job_name, load_state_dict(job.frozen.trained_model_uri, job.resources.model_policy).sha256)
    table = open_warehouse(job.resources).read_table(job.frozen.edge_predictions_tables()[("user", "buys", "item")]).to_pydict()
    published = dict(zip(zip(table["src_node_id"], table["dst_node_id"]), table["pred"]))
    graph_dir = job.resources.layout.enumerated_graph_dir(job.frozen.graph_name)
    purchases = storage.read_parquet(edges_uri(graph_dir, ("user", "buys", "item")))
    ids = {t: storage.read_parquet(mapping_uri(graph_dir, t))["node_id"].to_pylist() for t in ("user", "item")}
    with _serving(job, tmp_path) as url:
        for row in (0, 777):
            user, item = purchases["src"][row].as_py(), purchases["dst"][row].as_py()
            target = {"edge_type": ["user", "buys", "item"], "src_node_id": ids["user"][user], "dest_node_id": ids["item"][item]}
            code, body, _ = _post(f"{url}/invocations", _typed_two_hop_payload(job, "edge_regression", [("user", user), ("item", item)], [target]))
            assert code == 200, body
            (result,) = body["data"]["results"]
            assert (result["src_node_id"], result["dest_node_id"]) == (target["src_node_id"], target["dest_node_id"])
            assert abs(result["predicted_value"] - published[(target["src_node_id"], target["dest_node_id"])]) < 1e-4
        node_targets = _typed_two_hop_payload(job, "edge_regression", [("item", 0)])
        status, body, _ = _post(f"{url}/invocations", node_targets)
        assert status == 402 and "answers for edges" in body["error"]


@pytest.mark.slow
def test_edge_classification_answers_in_process_equal_the_published_classes(tmp_path, small_homogeneous_graph):
    """The served model of an edge classification task: each citation given with both papers'
    2-hop in-neighbourhoods scores to its published class, and its logits pick that class."""
    from gnn_assets import storage
    from gnn_assets.graph.enumerated_layout import edges_uri, mapping_uri
    from gnn_assets.serving.model import ServedModel
    from gnn_assets.serving.payloads import Limits, parse_realtime_request

    job = prepare_job(tmp_path, "demo_edge_classification", small_homogeneous_graph, **FULL)
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    table = open_warehouse(job.resources).read_table(job.frozen.edge_predictions_tables()[("paper", "cites", "paper")]).to_pydict()
    published = dict(zip(zip(table["src_node_id"], table["dst_node_id"]), table["pred"]))
    graph_dir = job.resources.layout.enumerated_graph_dir(job.frozen.graph_name)
    citations = storage.read_parquet(edges_uri(graph_dir, ("paper", "cites", "paper")))
    ids = storage.read_parquet(mapping_uri(graph_dir, "paper"))["node_id"].to_pylist()
    served = ServedModel(job.resources, job.frozen.task_name, job.job_name)
    for row in (0, 1234, 4000):
        src, dst = citations["src"][row].as_py(), citations["dst"][row].as_py()
        target = {"edge_type": ["paper", "cites", "paper"], "src_node_id": ids[src], "dest_node_id": ids[dst]}
        payload = _typed_two_hop_payload(job, "edge_classification", [("paper", src), ("paper", dst)], [target])
        (answer,) = served.answer_subgraph(parse_realtime_request(json.dumps(payload).encode(), Limits()))
        result = answer.to_result()
        assert result["predicted_class"] == published[(ids[src], ids[dst])] == int(np.argmax(result["predictions"]))
