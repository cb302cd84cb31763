"""Incremental exact inference in `make bench`: on the bench graph and the bench model (2-layer
GraphSAGE, hidden 256), a base job keeps its states; then 0.1% (1%) of the edges change, half
added and half removed, and the features of 0.1% (1%) of the nodes:

- incremental_vs_full: the whole layer-wise job on the changed graph ÷ the incremental job from
  the base, wall time, each in a fresh process, the in-edge CSR of the changed graph built
  before either runs; with the share of nodes each layer recomputed;
- incremental_vs_full_1pct: the same after the 1% change.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from benchmarks.harness import frozen_job, run_child, say

BASE_TASK = "incremental_base.yaml"
INCREMENTAL_TASK = "incremental_job.yaml"
FULL_TASK = "incremental_full.yaml"
CHANGES = {"incremental_vs_full": 0.001, "incremental_vs_full_1pct": 0.01}


def write_tasks(workdir: Path, main_task: dict) -> None:
    for name, ours in (
        (BASE_TASK, {"layerwise": {"keepStates": True}}),
        (INCREMENTAL_TASK, {"incremental": {"baseJob": "base"}}),
        (FULL_TASK, {}),
    ):
        task = copy.deepcopy(main_task)
        task["gnnAssetsConfig"].update({"taskName": "incremental", "inferenceMode": "LAYERWISE", **ours})  # one task, three jobs
        (workdir / name).write_text(yaml.safe_dump(task))


def child_incremental(workdir: Path, task_file: str, job: str) -> dict:
    """One layer-wise job (LOCAL) on the model file of job `base` (written first for `base`)."""
    from gnn_assets import storage
    from gnn_assets.config.job import Job
    from gnn_assets.inference.protocol import load_inferencer
    from gnn_assets.inference.task_specs import write_untrained_model
    from gnn_assets.layerwise.frame import run_layerwise
    from gnn_assets.layerwise.local import LocalEngine

    resources, frozen = frozen_job(workdir, job, task_file)
    if job == "base":
        write_untrained_model(frozen, seed=0)
    else:
        base = frozen_job(workdir, "base", BASE_TASK)[1]
        storage.write_bytes(frozen.trained_model_uri, storage.read_bytes(base.trained_model_uri))
    loaded = load_inferencer(frozen, resources.model_policy)
    started = time.perf_counter()
    result = run_layerwise(Job.of(frozen, resources), loaded, LocalEngine(), progress=lambda _: None)
    return {"seconds": time.perf_counter() - started, "incremental": result.details.get("incremental", {})}


CHILDREN = {"_incremental_job": child_incremental}


def _changed(source, fraction: float, seed: int):
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


def measure(workdir: Path, main_task: dict, num_nodes: int) -> dict:
    """workdir: the bench deployment, its graph the demo graph of num_nodes (restored after)."""
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.graph.csr import load_in_edges
    from gnn_assets.graph.demo import generate_homogeneous_demo_graph
    from gnn_assets.graph.enumeration import enumerate_deployment_graph
    from gnn_assets.graph.source import write_graph_source

    graph_name = main_task["gnnAssetsConfig"]["graphName"]
    source = generate_homogeneous_demo_graph(num_nodes)  # the bench graph (seeded)
    write_tasks(workdir, main_task)
    resources = load_resource_config(str(workdir / "resources.yaml"))
    base, _ = run_child(["_incremental_job", str(workdir), BASE_TASK, "base"])
    say(f"incremental: base job (keeping its states) {base['seconds']:.1f} s")
    metrics, measurements = {}, {"base_seconds": base["seconds"]}
    for i, (metric, fraction) in enumerate(CHANGES.items()):
        write_graph_source(resources.layout.graph_source_dir(graph_name), _changed(source, fraction, seed=i))
        report = enumerate_deployment_graph(resources, graph_name)
        num = report.nodes
        for e in source.metadata.edge_types:  # the changed graph's CSR, before either job
            load_in_edges(resources.layout.enumerated_graph_dir(graph_name), (e.src_node_type, e.relation, e.dst_node_type),
                          num[e.src_node_type], num[e.dst_node_type])
        full, _ = run_child(["_incremental_job", str(workdir), FULL_TASK, f"full-{i}"])
        incremental, _ = run_child(["_incremental_job", str(workdir), INCREMENTAL_TASK, f"incremental-{i}"])
        details = incremental["incremental"]
        total = sum(num.values())
        shares = {stage: round(sum(by_type.values()) / total, 4) for stage, by_type in details["recomputed_per_stage"].items()}
        metrics[metric] = full["seconds"] / incremental["seconds"]
        measurements[metric] = {"fraction_changed": fraction, "full_seconds": full["seconds"], "incremental_seconds": incremental["seconds"],
                                "share_recomputed_per_stage": shares, "ran_whole_job": details["ran_whole_job"]}
        say(f"incremental after {fraction:.1%} changed: full {full['seconds']:.2f} s, incremental {incremental['seconds']:.2f} s "
            f"({metrics[metric]:.2f}x), recomputed per stage {shares}")
    write_graph_source(resources.layout.graph_source_dir(graph_name), source)  # the bench graph as it was
    enumerate_deployment_graph(resources, graph_name)
    return {"metrics": metrics, "measurements": measurements}
