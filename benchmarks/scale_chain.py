"""`make bench-scale`: the whole layer-wise chain at 4,000,000 nodes / 32,000,000 edges, every
step in a process of its own: its wall time and peak RSS, and plumbing_vs_inference
((enumeration + un-enumeration) ÷ the layer-wise job); then incremental_vs_full at 1,000,000
nodes (benchmarks/incremental.py) and layerwise_beam_vs_local at 1,000,000 nodes (the bench
model, engine BEAM on FnApiRunner with one worker process per core, default blocks and pieces,
÷ engine LOCAL; with the worker processes' peak RSS, each stage's seconds and the largest
message piece). Writes benchmarks/results/scale.{json,md}.

    python -m benchmarks.scale_chain [--nodes N] [--incremental-nodes N] [--beam-nodes N] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.harness import run_child, say

RESULTS = Path(__file__).resolve().parent / "results"
JOB = "scale"
TASK_FILE = "scale_layerwise.yaml"
TASK = {
    "taskMetadata": {"nodeBasedTaskMetadata": {"supervisionNodeTypes": ["paper"]}},
    "graphMetadata": {"nodeTypes": ["paper"], "edgeTypes": [{"srcNodeType": "paper", "relation": "cites", "dstNodeType": "paper"}]},
    "inferencerConfig": {
        "inferencerClsPath": "gnn_assets.inference.task_specs.NodeClassificationTaskSpec",
        "inferencerArgs": {"hid_dim": "256", "out_dim": "128", "num_layers": "2", "num_classes": "8"},
    },
    "gnnAssetsConfig": {"graphName": "scale", "inferenceMode": "LAYERWISE"},
}


def _paths(workdir: Path) -> tuple[str, str]:
    return str(workdir / TASK_FILE), str(workdir / "resources.yaml")


def child_generate(workdir: Path, num_nodes: int) -> dict:
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.graph.demo import generate_homogeneous_demo_graph
    from gnn_assets.graph.source import write_graph_source

    started = time.perf_counter()
    resources = load_resource_config(_paths(workdir)[1])
    source = generate_homogeneous_demo_graph(num_nodes, feature_dim=64)
    write_graph_source(resources.layout.graph_source_dir("scale"), source)
    return {"seconds": time.perf_counter() - started, "nodes": source.nodes.num_rows, "edges": source.edges.num_rows}


def child_enumerate(workdir: Path) -> dict:
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.graph.enumeration import enumerate_deployment_graph
    from gnn_assets.jobs.unenumerate import load_node_id_mappings
    from gnn_assets.warehouse import open_warehouse

    resources = load_resource_config(_paths(workdir)[1])
    started = time.perf_counter()
    report = enumerate_deployment_graph(resources, "scale")
    load_node_id_mappings(open_warehouse(resources), resources, "scale", list(report.nodes))
    return {"seconds": time.perf_counter() - started}


def child_init_model(workdir: Path) -> dict:
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.config.task_config import freeze_task_config, load_task_config, write_frozen_config
    from gnn_assets.inference.task_specs import write_untrained_model

    task, resources_uri = _paths(workdir)
    resources = load_resource_config(resources_uri)
    frozen = freeze_task_config(load_task_config(task), resources, JOB)
    write_frozen_config(frozen)
    write_untrained_model(frozen, 0, resources.model_policy)
    return {}


def child_stage(workdir: Path, stage: str) -> dict:
    from gnn_assets.jobs import driver

    task, resources_uri = _paths(workdir)
    started = time.perf_counter()
    driver.run(JOB, task, resources_uri, stages=[stage], progress=lambda _: None)
    return {"seconds": time.perf_counter() - started}


CHILDREN = {
    "_chain_generate": child_generate,
    "_chain_enumerate": child_enumerate,
    "_chain_init_model": child_init_model,
    "_chain_stage": child_stage,
}


def run(num_nodes: int) -> dict:
    steps = {}
    with tempfile.TemporaryDirectory(prefix="gnn-bench-scale-") as tmp:
        workdir = Path(tmp)
        (workdir / "resources.yaml").write_text(
            "storage: {root: data}\nlocalRunner: {}\nduckdb: {memoryLimitMb: 2048, tempDirectory: spill}\ndevice: cpu\n"
        )
        (workdir / TASK_FILE).write_text(yaml.safe_dump(TASK))
        for name, args in (
            ("generate the source (not a step of the chain)", ["_chain_generate", str(workdir), str(num_nodes)]),
            ("enumerate (node_id_mapping)", ["_chain_enumerate", str(workdir)]),
            ("write a model file", ["_chain_init_model", str(workdir)]),
            ("layer-wise job, engine LOCAL (raw_embeddings)", ["_chain_stage", str(workdir), "infer"]),
            ("un-enumerate (embeddings, predictions)", ["_chain_stage", str(workdir), "unenumerate"]),
        ):
            started = time.perf_counter()
            result, rss = run_child(args)
            steps[name] = {"seconds": round(result.get("seconds", time.perf_counter() - started), 1), "peak_rss_mb": round(rss)}
            say(f"{name}: {steps[name]['seconds']} s, peak RSS {steps[name]['peak_rss_mb']:,} MB")
            if "nodes" in result:
                edges = result["edges"]
    seconds = {k: v["seconds"] for k, v in steps.items()}
    plumbing = seconds["enumerate (node_id_mapping)"] + seconds["un-enumerate (embeddings, predictions)"]
    return {
        "nodes": num_nodes,
        "edges": edges,
        "steps": steps,
        "metrics": {"plumbing_vs_inference": plumbing / seconds["layer-wise job, engine LOCAL (raw_embeddings)"]},
    }


def run_incremental(num_nodes: int) -> dict:
    """incremental_vs_full (0.1% and 1% changed) on the bench model over a demo graph of num_nodes."""
    import dataclasses

    from benchmarks import incremental
    from benchmarks.bench import SIZES, TASK, prepare

    with tempfile.TemporaryDirectory(prefix="gnn-bench-incremental-") as tmp:
        size = dataclasses.replace(SIZES["full"], num_nodes=num_nodes)
        prepare(Path(tmp), size)
        return {"nodes": num_nodes, **incremental.measure(Path(tmp), TASK, num_nodes)}


def run_beam(num_nodes: int) -> dict:
    """layerwise_beam_vs_local on the bench model over a demo graph of num_nodes."""
    import dataclasses

    from benchmarks import layerwise
    from benchmarks.bench import SIZES, TASK, prepare

    with tempfile.TemporaryDirectory(prefix="gnn-bench-beam-") as tmp:
        workdir = Path(tmp)
        prepare(workdir, dataclasses.replace(SIZES["full"], num_nodes=num_nodes))
        layerwise.write_tasks(workdir, TASK, budget_mb=1)
        local, local_rss = run_child(["_layerwise", str(workdir), layerwise.LAYERWISE_2, "local"])
        beam, beam_rss = run_child(["_layerwise_beam", str(workdir), layerwise.LAYERWISE_BEAM, "beam"])
    say(f"layer-wise at {num_nodes:,} nodes: LOCAL {local['seconds']:.1f} s, BEAM {beam['seconds']:.1f} s, stages {beam['stage_seconds']}")
    return {
        "nodes": num_nodes,
        "metrics": {"layerwise_beam_vs_local": local["seconds"] / beam["seconds"]},
        "measurements": {"local": {**local, "peak_rss_mb": local_rss}, "beam": {**beam, "runner_peak_rss_mb": beam_rss}},
    }


def markdown(result: dict) -> str:
    lines = [f"{result['nodes']:,} nodes / {result['edges']:,} edges, 64 features, 2-layer GraphSAGE 64→256→128", "",
             "| step | seconds | peak RSS (MB) |", "|---|---|---|"]
    lines += [f"| {name} | {s['seconds']} | {s['peak_rss_mb']:,} |" for name, s in result["steps"].items()]
    lines += ["", f"plumbing_vs_inference (enumerate + un-enumerate ÷ layer-wise job): {result['metrics']['plumbing_vs_inference']:.2f}"]
    if "incremental" in result:
        inc = result["incremental"]
        lines += ["", f"Incremental jobs on {inc['nodes']:,} nodes (2-layer GraphSAGE, hidden 256): whole job ÷ incremental job", "",
                  "| change | whole job (s) | incremental (s) | ratio | share recomputed per stage | ran the whole job |", "|---|---|---|---|---|---|"]
        for name, ratio in inc["metrics"].items():
            m = inc["measurements"][name]
            lines.append(f"| {m['fraction_changed']:.1%} | {m['full_seconds']:.2f} | {m['incremental_seconds']:.2f} | {ratio:.2f} | "
                         f"{m['share_recomputed_per_stage']} | {m['ran_whole_job']} |")
    if "beam" in result:
        b = result["beam"]
        local, beam = b["measurements"]["local"], b["measurements"]["beam"]
        lines += ["", f"Layer-wise on Beam at {b['nodes']:,} nodes (FnApiRunner, {beam['workers']} worker processes, pieces of "
                  f"{beam['piece_nodes']:,} nodes): LOCAL ÷ BEAM", "",
                  "| LOCAL (s) | BEAM (s) | ratio | seconds per stage | worker peak RSS (MB) | runner peak RSS (MB) | largest message piece (bytes) |",
                  "|---|---|---|---|---|---|---|",
                  f"| {local['seconds']:.1f} | {beam['seconds']:.1f} | {b['metrics']['layerwise_beam_vs_local']:.2f} | {beam['stage_seconds']} | "
                  f"{beam['worker_peak_rss_mb']:,.0f} | {beam['runner_peak_rss_mb']:,.0f} | {beam['largest_message_piece_bytes']:,} |"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_chain", description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4_000_000)
    parser.add_argument("--incremental-nodes", type=int, default=1_000_000, help="graph size of the incremental measurement (0: none)")
    parser.add_argument("--beam-nodes", type=int, default=1_000_000, help="graph size of the BEAM engine measurement (0: none)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    result = run(args.nodes)
    if args.incremental_nodes:
        result["incremental"] = run_incremental(args.incremental_nodes)
    if args.beam_nodes:
        result["beam"] = run_beam(args.beam_nodes)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "scale.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
