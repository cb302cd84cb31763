"""The real-time server in `make bench`: `hey` (Debian's HTTP load generator) against
`gnn-assets serve` on loopback, at concurrency 1, 8 and 32, for GraphStorm requests carrying a
sampled 2-hop neighbourhood (fanout [10, 10]) of about 100 nodes and for /v1/embed requests of one id (the
server samples the neighbourhood). Latencies are hey's per-request times (CSV); requests/s are
requests answered 200 over the run's duration. The server's model is the bench task's (2-layer
GraphSAGE, hidden 256) on the bench graph, on the CPU.
"""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.harness import MAIN_TASK, frozen_job, say

CONCURRENCY = (1, 8, 32)
WORKERS = os.cpu_count() or 1  # one server process per core
PAYLOAD_NODES = 100
HEY = "/usr/bin/hey"


def _payloads(workdir: Path, job: str, roots: int = 256) -> tuple[list[bytes], list[bytes]]:
    """GraphStorm requests, each a sampled 2-hop neighbourhood of one root, and /v1/embed requests."""
    from gnn_assets import storage
    from gnn_assets.graph.enumerated_layout import mapping_uri
    from gnn_assets.graph.enumeration import read_enumerated_graph
    from gnn_assets.graph.sampler import NeighborSampler, neighborhoods

    resources, frozen = frozen_job(workdir, job, MAIN_TASK)
    directory = resources.layout.enumerated_graph_dir(frozen.graph_name)
    graph = read_enumerated_graph(directory)
    names = storage.read_parquet(mapping_uri(directory, "paper"))["node_id"].to_pylist()
    rng = np.random.default_rng(0)
    picked = rng.choice(graph.num_nodes("paper"), roots, replace=False)
    chunk = NeighborSampler(graph, frozen.fanout).sample("paper", picked, rng)
    subgraphs, ids = [], []
    for sample in neighborhoods(graph, "paper", chunk):
        nodes = sample.node_ids[0]
        src, dst = sample.edges.get(0, (np.zeros(0, int), np.zeros(0, int)))
        subgraphs.append(
            json.dumps(
                {
                    "version": "gs-realtime-v0.1",
                    "gml_task": "link_prediction",
                    "graph": {
                        "nodes": [
                            {"node_type": "paper", "node_id": names[n], "features": {"features": sample.features[0][i].tolist()}}
                            for i, n in enumerate(nodes.tolist())
                        ],
                        "edges": [
                            {"edge_type": ["paper", "cites", "paper"], "src_node_id": names[nodes[s]], "dest_node_id": names[nodes[d]]}
                            for s, d in zip(src.tolist(), dst.tolist())
                        ],
                    },
                    "targets": [{"node_type": "paper", "node_id": names[sample.root_node_id]}],
                }
            ).encode()
        )
        ids.append(json.dumps({"node_ids": [names[sample.root_node_id]]}).encode())
    return subgraphs, ids


def _hey(url: str, body: Path, concurrency: int, seconds: int) -> dict:
    output = subprocess.run(
        [HEY, "-z", f"{seconds}s", "-c", str(concurrency), "-m", "POST", "-T", "application/json", "-D", str(body), "-o", "csv", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = list(csv.DictReader(io.StringIO(output)))
    ok = [float(r["response-time"]) * 1000 for r in rows if r["status-code"] == "200"]
    if not ok:
        raise RuntimeError(f"no request to {url} succeeded: {output[:500]}")
    ok.sort()
    return {
        "requests": len(rows),
        "failed": len(rows) - len(ok),
        "p50_ms": ok[len(ok) // 2],
        "p99_ms": ok[min(len(ok) - 1, int(len(ok) * 0.99))],
        "mean_ms": statistics.fmean(ok),
        "rps": len(ok) / seconds,
    }


def measure(workdir: Path, job: str, seconds: int) -> dict:
    """job: a bench job with a frozen config and a model file."""
    from tests.support.servers import free_port, start_server, stop_server

    if not Path(HEY).exists():
        raise RuntimeError(f"{HEY} is missing: `make bench` installs Debian's hey (apt-get install hey)")
    subgraphs, ids = _payloads(workdir, job)
    sizes = [len(json.loads(p)["graph"]["nodes"]) for p in subgraphs]
    port = free_port()
    command = [sys.executable, "-m", "gnn_assets.cli", "serve", "--resource_config_uri", str(workdir / "resources.yaml"),
               "--task_config_uri", str(workdir / MAIN_TASK), "--job_name", job, "--port", str(port),
               "--workers", str(WORKERS)]
    server = start_server(command, port, workdir / "server.log", ready_url=f"http://127.0.0.1:{port}/readyz", timeout=180)
    results = {}
    try:
        url = f"http://127.0.0.1:{port}"
        # hey sends one body: the neighbourhood closest to 100 nodes (and its root's id).
        chosen = min(range(len(subgraphs)), key=lambda i: abs(sizes[i] - PAYLOAD_NODES))
        bodies = {"invocations_2hop": (f"{url}/invocations", subgraphs[chosen]), "embed_by_id": (f"{url}/v1/embed", ids[chosen])}
        for name, (target, body) in bodies.items():
            path = workdir / f"{name}.json"
            path.write_bytes(body)
            _hey(target, path, 1, 1)  # warm-up: first requests load the graph and allocate
            for concurrency in CONCURRENCY:
                results[f"{name}_c{concurrency}"] = measured = _hey(target, path, concurrency, seconds)
                say(
                    f"serving {name} at concurrency {concurrency}: p50 {measured['p50_ms']:.1f} ms, p99 {measured['p99_ms']:.1f} ms, "
                    f"{measured['rps']:,.0f} requests/s, {measured['failed']} failed"
                )
    finally:
        stop_server(server)
    main = results["invocations_2hop_c8"]
    return {
        "metrics": {"serving_p50_ms": main["p50_ms"], "serving_p99_ms": main["p99_ms"], "serving_rps": main["rps"]},
        "measurements": {"payload_nodes": sizes[chosen], "payload_bytes": len(subgraphs[chosen]), "runs": results},
    }
