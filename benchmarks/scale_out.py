"""Scale-out: how the steps before inference grow with the graph (part of `make bench`).

- enumerate_peak_rss_growth: peak RSS of the enumeration's process (DuckDB runs inside it, under
  a memory limit of 256 MB) on the homogeneous demo graph at the larger size ÷ at the smaller
  (8x the nodes);
- sampler_peak_rss_growth: the same for the BEAM sampler (one process, FnApiRunner in_memory,
  so every worker's memory is this process's), fanout [5, 5];
- beam_sampler_vs_local: the BEAM sampler's roots/s with one worker process per core ÷ the
  LOCAL sampler's, same graph, same fanout, same neighbourhoods.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.harness import frozen_job, run_child, say

TASK_FILE = "scale_task.yaml"
FANOUT = [5, 5]


@dataclass(frozen=True)
class ScaleSize:
    enumerate_nodes: tuple[int, int]
    sampler_nodes: tuple[int, int]


SIZES = {
    "full": ScaleSize(enumerate_nodes=(250_000, 2_000_000), sampler_nodes=(10_000, 80_000)),
    "tiny": ScaleSize(enumerate_nodes=(1_000, 8_000), sampler_nodes=(500, 4_000)),
}


ENUMERATION_MEMORY_MB = 256  # DuckDB's limit in the enumeration runs: memory must not grow with the graph


def _workdir(root: Path, name: str, num_nodes: int, running_mode: str = "in_memory") -> Path:
    from gnn_assets.graph.demo import generate_homogeneous_demo_graph
    from gnn_assets.graph.source import write_graph_source

    workdir = root / name
    workdir.mkdir(parents=True)
    workers = os.cpu_count() or 1 if running_mode == "multi_processing" else 1
    (workdir / "resources.yaml").write_text(
        f"storage: {{root: data}}\nlocalRunner: {{runningMode: {running_mode}, numWorkers: {workers}}}\n"
        f"duckdb: {{memoryLimitMb: {ENUMERATION_MEMORY_MB}, tempDirectory: spill}}\ndevice: cpu\n"
    )
    task = {
        "graphMetadata": {"nodeTypes": ["paper"], "edgeTypes": [{"srcNodeType": "paper", "relation": "cites", "dstNodeType": "paper"}]},
        "taskMetadata": {"nodeAnchorBasedLinkPredictionTaskMetadata": {
            "supervisionEdgeTypes": [{"srcNodeType": "paper", "relation": "cites", "dstNodeType": "paper"}]}},
        "inferencerConfig": {"inferencerClsPath": "gnn_assets.inference.task_specs.NodeAnchorBasedLinkPredictionTaskSpec"},
        "gnnAssetsConfig": {"graphName": "scale", "sampler": {"fanout": FANOUT, "seed": "1"}},
    }
    (workdir / TASK_FILE).write_text(yaml.safe_dump(task))
    from gnn_assets.config.resource_config import load_resource_config

    resources = load_resource_config(str(workdir / "resources.yaml"))
    write_graph_source(resources.layout.graph_source_dir("scale"), generate_homogeneous_demo_graph(num_nodes))
    return workdir


def child_enumerate(workdir: Path) -> dict:
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.graph.enumeration import enumerate_deployment_graph

    resources = load_resource_config(str(workdir / "resources.yaml"))
    started = time.perf_counter()
    report = enumerate_deployment_graph(resources, "scale")
    return {"seconds": time.perf_counter() - started, "nodes": sum(report.nodes.values()), "edges": sum(report.edges.values())}


def child_sampler(workdir: Path, engine: str) -> dict:
    from gnn_assets.config.job import Job
    from gnn_assets.graph.beam_sampler import beam_sample_job
    from gnn_assets.graph.sampler import sample_job

    resources, frozen = frozen_job(workdir, f"sampler-{engine.lower()}", TASK_FILE)
    started = time.perf_counter()
    if engine == "BEAM":
        reports = beam_sample_job(Job.of(frozen, resources), progress=lambda _: None)
    else:
        reports = sample_job(frozen, resources, progress=lambda _: None)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "roots": sum(r.roots for r in reports.values())}


CHILDREN = {"_scale_enumerate": child_enumerate, "_scale_sampler": child_sampler}


def measure(root: Path, size_name: str) -> dict:
    size = SIZES[size_name]
    enumerated = {}
    for n in size.enumerate_nodes:
        workdir = _workdir(root, f"enumerate-{n}", n)
        enumerated[n], rss = run_child(["_scale_enumerate", str(workdir)])
        enumerated[n]["peak_rss_mb"] = rss
        say(f"enumeration of {n:,} nodes / {enumerated[n]['edges']:,} edges in DuckDB: {enumerated[n]['seconds']:.1f} s, peak RSS {rss:.0f} MB")
    sampled = {}
    for n in size.sampler_nodes:
        workdir = _workdir(root, f"sampler-{n}", n)
        run_child(["_scale_enumerate", str(workdir)])
        sampled[n], rss = run_child(["_scale_sampler", str(workdir), "BEAM"])
        sampled[n]["peak_rss_mb"] = rss
        say(f"BEAM sampler (one process) on {n:,} roots, fanout {FANOUT}: {sampled[n]['seconds']:.1f} s, peak RSS {rss:.0f} MB")
    n = size.sampler_nodes[0]
    workdir = _workdir(root, f"sampler-vs-local-{n}", n, running_mode="multi_processing")
    run_child(["_scale_enumerate", str(workdir)])
    beam_run, _ = run_child(["_scale_sampler", str(workdir), "BEAM"])
    local_run, _ = run_child(["_scale_sampler", str(workdir), "LOCAL"])
    beam_rate, local_rate = beam_run["roots"] / beam_run["seconds"], local_run["roots"] / local_run["seconds"]
    say(f"samplers on {n:,} roots: BEAM {beam_rate:,.0f} roots/s ({os.cpu_count()} worker processes), LOCAL {local_rate:,.0f} roots/s")
    small_e, large_e = size.enumerate_nodes
    small_s, large_s = size.sampler_nodes
    return {
        "metrics": {
            "enumerate_peak_rss_growth": enumerated[large_e]["peak_rss_mb"] / enumerated[small_e]["peak_rss_mb"],
            "sampler_peak_rss_growth": sampled[large_s]["peak_rss_mb"] / sampled[small_s]["peak_rss_mb"],
            "beam_sampler_vs_local": beam_rate / local_rate,
        },
        "measurements": {
            "enumeration": {str(k): v for k, v in enumerated.items()},
            "beam_sampler": {str(k): v for k, v in sampled.items()},
            "beam_sampler_roots_per_s": beam_rate,
            "local_sampler_roots_per_s": local_rate,
        },
    }
