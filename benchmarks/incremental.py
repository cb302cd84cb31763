"""Incremental exact inference, measured from job start to published tables: on the bench graph
and the bench model (2-layer GraphSAGE, hidden 256), a daily job (layerwise.keepStates,
incremental.baseJob SELF) runs once over the whole graph; then the graph changes (a share of the
edges, half added and half removed, and the features of the same share of the nodes), is
enumerated again (with its change record, its mapping loaded into DuckDB as refresh_graphs does,
and the in-edge CSR built before either job), and a
whole job and the daily job each run in a fresh process and publish their tables to DuckDB:

- incremental_vs_full (0.1% changed), incremental_vs_full_001pct (0.01%),
  incremental_vs_full_1pct (1%): the whole job's seconds (job + publication) ÷ the daily job's;
- incremental_vs_full_chain: the same after each of CHAIN more 0.1% changes in a row (the
  smallest ratio of them), every daily run's table checked against the whole job's after it;
- with the share of nodes each stage recomputed, where each job's time went, and the largest
  difference between the daily and the whole job's published embeddings on 1,000 nodes.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from benchmarks.harness import frozen_job, run_child, say

DAILY_TASK = "incremental_daily.yaml"
FULL_TASK = "incremental_full.yaml"
CHANGES = {"incremental_vs_full": 0.001, "incremental_vs_full_001pct": 0.0001, "incremental_vs_full_1pct": 0.01}
CHAIN = 5
_CHECKED_NODES = 1_000


def write_tasks(workdir: Path, main_task: dict) -> None:
    for name, ours in (
        (DAILY_TASK, {"layerwise": {"keepStates": True}, "incremental": {"baseJob": "SELF"}}),
        (FULL_TASK, {}),
    ):
        task = copy.deepcopy(main_task)
        task["gnnAssetsConfig"].update({"taskName": "incremental", "inferenceMode": "LAYERWISE", **ours})  # one task, two jobs
        (workdir / name).write_text(yaml.safe_dump(task))


def child_incremental(workdir: Path, task_file: str, job: str) -> dict:
    """One layer-wise job (LOCAL) and its publication to DuckDB, on the model file of job
    `daily` (written by its first run)."""
    from gnn_assets import storage
    from gnn_assets.config.job import Job
    from gnn_assets.inference.protocol import load_inferencer
    from gnn_assets.inference.task_specs import write_untrained_model
    from gnn_assets.jobs.unenumerate import unenumerate_outputs
    from gnn_assets.layerwise.frame import run_layerwise
    from gnn_assets.layerwise.local import LocalEngine
    from gnn_assets.warehouse.duckdb import DuckDbWarehouse

    resources, frozen = frozen_job(workdir, job, task_file)
    daily = frozen_job(workdir, "daily", DAILY_TASK)[1]
    if not storage.exists(daily.trained_model_uri):
        write_untrained_model(daily, seed=0)
    if job != "daily":
        storage.write_bytes(frozen.trained_model_uri, storage.read_bytes(daily.trained_model_uri))
    loaded = load_inferencer(frozen, resources.model_policy)
    started = time.perf_counter()
    result = run_layerwise(Job.of(frozen, resources), loaded, LocalEngine(), progress=lambda _: None)
    job_seconds = time.perf_counter() - started
    unenumerate_outputs(Job.of(frozen, resources), DuckDbWarehouse.from_resources(resources), progress=lambda _: None)
    return {
        "seconds": time.perf_counter() - started,
        "job_seconds": job_seconds,
        "incremental": result.details.get("incremental", {}),
        "table": frozen.output_tables("paper")["embeddings"],
    }


CHILDREN = {"_incremental_job": child_incremental}


def changed(source, fraction: float, seed: int):
    """The graph after `fraction` of its edges changed (half removed, as many added between
    random nodes) and the features of `fraction` of its nodes (+1.0)."""
    from gnn_assets.graph.source import GraphSource

    rng = np.random.default_rng(seed)
    nodes, edges = source.nodes, source.edges
    count = max(2, int(edges.num_rows * fraction))
    keep = np.ones(edges.num_rows, dtype=bool)
    keep[rng.choice(edges.num_rows, count // 2, replace=False)] = False
    ids = nodes["node_id"]
    added = {c: pa.repeat(edges[c][0], count - count // 2) for c in edges.column_names}
    added["src"] = ids.take(pa.array(rng.integers(0, nodes.num_rows, count - count // 2)))
    added["dst"] = ids.take(pa.array(rng.integers(0, nodes.num_rows, count - count // 2)))
    edges = pa.concat_tables([edges.filter(pa.array(keep)), pa.table(added).cast(edges.schema)])
    features = nodes["features"].combine_chunks()
    dim = len(features[0])
    values = features.flatten().to_numpy().reshape(nodes.num_rows, dim).copy()
    rows = rng.choice(nodes.num_rows, max(1, int(nodes.num_rows * fraction)), replace=False)
    values[rows] += 1.0
    changed = pa.ListArray.from_arrays(pa.array(np.arange(0, (nodes.num_rows + 1) * dim, dim, dtype=np.int32)), pa.array(values.reshape(-1)))
    nodes = nodes.set_column(nodes.column_names.index("features"), "features", changed.cast(nodes.schema.field("features").type))
    return GraphSource(source.metadata, nodes, edges)


def _largest_difference(resources, table_a: str, table_b: str, seed: int) -> float:
    """The largest difference between two published embedding tables on a sample of nodes (and
    inf where they do not hold the same nodes)."""
    import duckdb

    with duckdb.connect(resources.duckdb_path, read_only=True) as con:
        (rows_a,), (rows_b,) = (con.execute(f'SELECT count(*) FROM "{t}"').fetchone() for t in (table_a, table_b))
        rows = con.execute(
            f'SELECT a.emb, b.emb FROM (SELECT * FROM "{table_a}" USING SAMPLE {_CHECKED_NODES} ROWS (reservoir, {seed})) a '
            f'JOIN "{table_b}" b USING (node_id)'
        ).fetchall()
    if rows_a != rows_b or len(rows) < min(_CHECKED_NODES, rows_a):
        return float("inf")
    return float(max(np.abs(np.asarray(a) - np.asarray(b)).max() for a, b in rows))


def measure(workdir: Path, main_task: dict, num_nodes: int, average_degree: float = 8.0, changes: dict | None = None, chain: int = CHAIN) -> dict:
    """workdir: the bench deployment, its graph the demo graph of num_nodes (restored after)."""
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.graph.csr import load_in_edges
    from gnn_assets.graph.demo import generate_homogeneous_demo_graph
    from gnn_assets.graph.enumeration import enumerate_deployment_graph
    from gnn_assets.graph.source import write_graph_source
    from gnn_assets.jobs.unenumerate import load_node_id_mappings
    from gnn_assets.warehouse.duckdb import DuckDbWarehouse

    graph_name = main_task["gnnAssetsConfig"]["graphName"]
    resources = load_resource_config(str(workdir / "resources.yaml"))
    bench_graph = generate_homogeneous_demo_graph(num_nodes)
    source = bench_graph if average_degree == 8.0 else generate_homogeneous_demo_graph(num_nodes, average_degree=average_degree)
    write_tasks(workdir, main_task)

    def enumerate_(graph) -> float:
        write_graph_source(resources.layout.graph_source_dir(graph_name), graph)
        started = time.perf_counter()
        report = enumerate_deployment_graph(resources, graph_name)
        load_node_id_mappings(DuckDbWarehouse.from_resources(resources), resources, graph_name, list(report.nodes))  # as refresh_graphs does
        seconds = time.perf_counter() - started
        for e in graph.metadata.edge_types:  # the graph's CSR, before either job
            load_in_edges(resources.layout.enumerated_graph_dir(graph_name), (e.src_node_type, e.relation, e.dst_node_type),
                          report.nodes[e.src_node_type], report.nodes[e.dst_node_type])
        return seconds

    enumerate_(source)
    first, _ = run_child(["_incremental_job", str(workdir), DAILY_TASK, "daily"])
    say(f"incremental ({average_degree:g} edges per node): the daily job's first run, every node, published: {first['seconds']:.1f} s")
    metrics, measurements = {}, {"first_run_seconds": first["seconds"], "average_degree": average_degree}
    steps = [(metric, fraction) for metric, fraction in (changes or CHANGES).items()] + [("incremental_vs_full_chain", 0.001)] * chain
    chain_ratios = []
    for seed, (metric, fraction) in enumerate(steps):
        source = changed(source, fraction, seed=seed)
        enumeration_seconds = enumerate_(source)
        full, _ = run_child(["_incremental_job", str(workdir), FULL_TASK, "full"])
        daily, _ = run_child(["_incremental_job", str(workdir), DAILY_TASK, "daily"])
        details = daily["incremental"]
        shares = {stage: round(sum(by_type.values()) / num_nodes, 4) for stage, by_type in details["recomputed_per_stage"].items()}
        ratio = full["seconds"] / daily["seconds"]
        difference = _largest_difference(resources, full["table"], daily["table"], seed)
        measured = {
            "fraction_changed": fraction, "full_seconds": full["seconds"], "incremental_seconds": daily["seconds"],
            "full_job_seconds": full["job_seconds"], "incremental_job_seconds": daily["job_seconds"],
            "enumeration_seconds": enumeration_seconds, "share_recomputed_per_stage": shares, "ran_whole_job": details["ran_whole_job"],
            "largest_difference": difference, "ratio": ratio,
        }
        say(f"incremental after {fraction:.2%} changed: whole {full['seconds']:.2f} s (job {full['job_seconds']:.2f}), daily "
            f"{daily['seconds']:.2f} s (job {daily['job_seconds']:.2f}): {ratio:.2f}x; recomputed per stage {shares}; "
            f"largest difference {difference:.2e}")
        if metric == "incremental_vs_full_chain":
            chain_ratios.append(ratio)
            measurements.setdefault(metric, []).append(measured)
            metrics[metric] = min(chain_ratios)
        else:
            metrics[metric] = ratio
            measurements[metric] = measured
    metrics["incremental_largest_difference"] = max(m["largest_difference"] for m in [*measurements.get("incremental_vs_full_chain", []),
                                                                                        *(measurements[k] for k in (changes or CHANGES))])
    write_graph_source(resources.layout.graph_source_dir(graph_name), bench_graph)  # the bench graph as it was
    enumerate_deployment_graph(resources, graph_name)
    return {"metrics": metrics, "measurements": measurements}
