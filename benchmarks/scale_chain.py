"""`make bench-scale`: the whole layer-wise chain on demo graphs of 4,000,000 nodes / 32,000,000
edges (with --nodes 4000000,10000000, at each size given), every step in a process of its own
and, where this machine allows (root, cgroup v1), in a memory cgroup of its own capped at
--memory-cap-mb: its wall time, peak RSS, peak anonymous memory and peak cgroup memory
(memory-mapped pages and page cache included), and the disk the work folder holds after it. The layer-wise job runs under
`layerwise.memoryBudgetMb` = --budget-mb; DuckDB under memoryLimitMb 2048. Then the exactness
of 1,000 random nodes against PyG's forward of the same model on each one's exact 2-hop
in-neighbourhood, taken from the graph source (string ids, DuckDB), not from the enumeration.
Metrics: plumbing_vs_inference ((enumeration + un-enumeration) ÷ the layer-wise job) per size;
with two sizes, scale_peak_rss_growth (each step's anonymous peak at the larger ÷ at the
smaller, the largest) and seconds_per_million_nodes_growth (the chain's seconds per million nodes, larger ÷
smaller). Then incremental_vs_full at 1,000,000 nodes (benchmarks/incremental.py) and
layerwise_beam_vs_local at 1,000,000 nodes (the bench model, engine BEAM on FnApiRunner with one
worker process per core, default blocks and pieces, ÷ engine LOCAL; with the worker processes'
peak RSS, each stage's seconds and the largest message piece). Writes
benchmarks/results/scale.{json,md}.

    python -m benchmarks.scale_chain [--nodes N[,N2]] [--budget-mb MB] [--memory-cap-mb MB]
        [--incremental-nodes N] [--beam-nodes N] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.harness import AnonymousPeak, MemoryCap, run_child, say

RESULTS = Path(__file__).resolve().parent / "results"
JOB = "scale"
TASK_FILE = "scale_layerwise.yaml"
CHECKED_NODES = 1_000
TASK = {
    "taskMetadata": {"nodeBasedTaskMetadata": {"supervisionNodeTypes": ["paper"]}},
    "graphMetadata": {"nodeTypes": ["paper"], "edgeTypes": [{"srcNodeType": "paper", "relation": "cites", "dstNodeType": "paper"}]},
    "inferencerConfig": {
        "inferencerClsPath": "gnn_assets.inference.task_specs.NodeClassificationTaskSpec",
        "inferencerArgs": {"hid_dim": "256", "out_dim": "128", "num_layers": "2", "num_classes": "8"},
    },
    "gnnAssetsConfig": {"graphName": "scale", "inferenceMode": "LAYERWISE"},
}
GENERATE, ENUMERATE, INIT, INFER, UNENUMERATE, CHECK = (
    "generate the source (shard folders; not a step of the chain)",
    "enumerate (node_id_mapping)",
    "write a model file",
    "layer-wise job, engine LOCAL (raw_embeddings)",
    "un-enumerate (embeddings, predictions)",
    f"exactness of {CHECKED_NODES:,} random nodes (not a step of the chain)",
)
CHAIN = (ENUMERATE, INFER, UNENUMERATE)


def _paths(workdir: Path) -> tuple[str, str]:
    return str(workdir / TASK_FILE), str(workdir / "resources.yaml")


def child_generate(workdir: Path, num_nodes: int) -> dict:
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.graph.demo import write_demo_shards

    started = time.perf_counter()
    resources = load_resource_config(_paths(workdir)[1])
    nodes, edges = write_demo_shards(resources.layout.graph_source_dir("scale"), num_nodes, feature_dim=64)
    return {"seconds": time.perf_counter() - started, "nodes": nodes, "edges": edges}


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


def child_check(workdir: Path) -> dict:
    """The published embeddings of CHECKED_NODES random nodes against the model's forward on
    their exact 2-hop in-neighbourhoods (every in-edge of each node and of each in-neighbour),
    read from the graph source by original id: the largest difference."""
    import duckdb
    import numpy as np
    import torch

    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.config.task_config import freeze_task_config, load_task_config
    from gnn_assets.inference.protocol import load_inferencer

    started = time.perf_counter()
    task, resources_uri = _paths(workdir)
    resources = load_resource_config(resources_uri)
    frozen = freeze_task_config(load_task_config(task), resources, JOB)  # the job's frozen config (byte-identical)
    source = resources.layout.graph_source_dir("scale")
    con = duckdb.connect()
    # DuckDB's default (80% of the machine) let the check hold 9.5 GB at 20M nodes, past the
    # chain's default memory cap (the published table's scan); scans and joins spill past 2 GB.
    limits = {"memory_limit": "2GB", "temp_directory": str(workdir / "check_spill")}
    con.execute(f"SET memory_limit = '{limits['memory_limit']}'; SET temp_directory = '{limits['temp_directory']}'")
    con.execute(f"CREATE VIEW edges AS SELECT src, dst FROM read_parquet('{source}/edges/*.parquet')")
    con.execute(f"CREATE VIEW nodes AS SELECT node_id, features FROM read_parquet('{source}/nodes/*.parquet')")
    con.execute(f"CREATE TABLE targets AS SELECT node_id FROM nodes USING SAMPLE {CHECKED_NODES} ROWS (reservoir, 7)")
    con.execute("CREATE TABLE hop1 AS SELECT src, dst FROM edges WHERE dst IN (SELECT node_id FROM targets)")
    con.execute("CREATE TABLE hop2 AS SELECT src, dst FROM edges WHERE dst IN (SELECT DISTINCT src FROM hop1)")
    sub = con.execute("SELECT * FROM hop1 UNION SELECT * FROM hop2").fetchnumpy()
    targets = [r[0] for r in con.execute("SELECT node_id FROM targets").fetchall()]
    ids = np.unique(np.concatenate([np.array(targets, dtype=object), sub["src"], sub["dst"]]).astype(str))
    con.execute("CREATE TABLE wanted (node_id VARCHAR)")
    con.execute("INSERT INTO wanted SELECT * FROM unnest(?)", [ids.tolist()])
    rows = con.execute("SELECT node_id, features FROM nodes SEMI JOIN wanted USING (node_id) ORDER BY node_id").fetchall()
    position = {node_id: i for i, (node_id, _) in enumerate(rows)}
    x = torch.tensor(np.array([f for _, f in rows], dtype=np.float32))
    edge_index = torch.tensor([[position[s] for s in sub["src"]], [position[d] for d in sub["dst"]]], dtype=torch.long)
    model = load_inferencer(frozen, resources.model_policy).inferencer.model
    with torch.no_grad():
        expected = model.encoder(x, edge_index)
    table = frozen.output_tables("paper")["embeddings"]
    with duckdb.connect(resources.duckdb_path, read_only=True, config=limits) as warehouse:
        published = dict(warehouse.execute(f'SELECT node_id, emb FROM "{table}" WHERE node_id IN (SELECT unnest(?))', [targets]).fetchall())
    got = torch.tensor(np.array([published[t] for t in targets], dtype=np.float32))
    difference = (got - expected[[position[t] for t in targets]]).abs().max().item()
    return {"seconds": time.perf_counter() - started, "max_abs_difference": difference, "subgraph_nodes": len(rows),
            "subgraph_edges": len(sub["src"]), "exact": difference < 1e-4}


def _with_anonymous_peak(child):
    """The child's result with the peak of its anonymous memory (what it allocated: peak RSS also
    counts the pages of files it maps, which the kernel drops and reads again at will)."""

    def measured(*args) -> dict:
        with AnonymousPeak() as peak:
            result = child(*args)
        return {**result, "peak_anonymous_mb": peak.peak_mb}

    return measured


CHILDREN = {
    "_chain_generate": _with_anonymous_peak(child_generate),
    "_chain_enumerate": _with_anonymous_peak(child_enumerate),
    "_chain_init_model": _with_anonymous_peak(child_init_model),
    "_chain_stage": _with_anonymous_peak(child_stage),
    "_chain_check": _with_anonymous_peak(child_check),
}


def _disk_bytes(folder: Path) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(folder) for f in files)


def run(num_nodes: int, budget_mb: int, memory_cap_mb: int) -> dict:
    steps = {}
    capped = MemoryCap.available()
    if not capped:
        say("no writable memory cgroup (needs root and cgroup v1): peak cgroup memory not measured, steps not capped")
    with tempfile.TemporaryDirectory(prefix="gnn-bench-scale-") as tmp:
        workdir = Path(tmp)
        (workdir / "resources.yaml").write_text(
            "storage: {root: data}\nlocalRunner: {}\nduckdb: {memoryLimitMb: 2048, tempDirectory: spill}\ndevice: cpu\n"
        )
        task = json.loads(json.dumps(TASK))
        task["gnnAssetsConfig"]["layerwise"] = {"memoryBudgetMb": budget_mb}
        (workdir / TASK_FILE).write_text(yaml.safe_dump(task))
        for name, args in (
            (GENERATE, ["_chain_generate", str(workdir), str(num_nodes)]),
            (ENUMERATE, ["_chain_enumerate", str(workdir)]),
            (INIT, ["_chain_init_model", str(workdir)]),
            (INFER, ["_chain_stage", str(workdir), "infer"]),
            (UNENUMERATE, ["_chain_stage", str(workdir), "unenumerate"]),
            (CHECK, ["_chain_check", str(workdir)]),
        ):
            started = time.perf_counter()
            cgroup = MemoryCap(f"gnn-bench-{os.getpid()}-{len(steps)}", memory_cap_mb) if capped else None
            try:
                result, rss = run_child(args, cgroup)
                peak = round(cgroup.peak_mb()) if cgroup else None
            finally:
                if cgroup:
                    cgroup.close()
            steps[name] = {"seconds": round(result.get("seconds", time.perf_counter() - started), 1), "peak_rss_mb": round(rss),
                           "peak_anonymous_mb": round(result["peak_anonymous_mb"]),
                           "peak_cgroup_mb": peak, "disk_gb_after": round(_disk_bytes(workdir) / 1e9, 1)}
            say(f"{num_nodes:,} nodes, {name}: {steps[name]}")
            if "nodes" in result:
                edges = result["edges"]
            if "exact" in result:
                check = result
    seconds = {k: v["seconds"] for k, v in steps.items()}
    return {
        "nodes": num_nodes,
        "edges": edges,
        "budget_mb": budget_mb,
        "memory_cap_mb": memory_cap_mb if capped else None,
        "steps": steps,
        "check": check,
        "metrics": {
            "plumbing_vs_inference": (seconds[ENUMERATE] + seconds[UNENUMERATE]) / seconds[INFER],
            "seconds_per_million_nodes": sum(seconds[s] for s in CHAIN) / (num_nodes / 1e6),
        },
    }


def growth(small: dict, large: dict) -> dict:
    """How the chain grows from the smaller graph to the larger: goals ≤ 1.5 and ≤ 1.2. Memory is
    the anonymous peak (peak RSS counts mapped file pages a chunk touched, which the kernel
    reclaims under pressure: the cgroup's limit shows what the step needs in all)."""
    rss = {
        name: large["steps"][name]["peak_anonymous_mb"] / max(small["steps"][name]["peak_anonymous_mb"], 1)
        for name in (ENUMERATE, INIT, INFER, UNENUMERATE)
    }
    return {
        "scale_peak_rss_growth": max(rss.values()),
        "seconds_per_million_nodes_growth": large["metrics"]["seconds_per_million_nodes"] / small["metrics"]["seconds_per_million_nodes"],
        "peak_rss_growth_per_step": {k: round(v, 2) for k, v in rss.items()},
    }


def run_incremental(num_nodes: int, chain: int) -> dict:
    """incremental_vs_full (0.01%, 0.1%, 1% changed, then 0.1% `chain` times in a row) on the bench
    model over a demo graph of num_nodes, 8 edges per node; and 0.1% on one of 3 edges per node
    (a road network's degree): incremental_vs_full_roads."""
    import dataclasses

    from benchmarks import incremental
    from benchmarks.bench import SIZES, TASK, prepare

    result = {"nodes": num_nodes}
    with tempfile.TemporaryDirectory(prefix="gnn-bench-incremental-") as tmp:
        size = dataclasses.replace(SIZES["full"], num_nodes=num_nodes)
        prepare(Path(tmp), size)
        result.update(incremental.measure(Path(tmp), TASK, num_nodes, chain=chain))
        roads = incremental.measure(Path(tmp), TASK, num_nodes, average_degree=3.0, changes={"incremental_vs_full_roads": 0.001}, chain=0)
    result["metrics"]["incremental_vs_full_roads"] = roads["metrics"]["incremental_vs_full_roads"]
    result["measurements"]["incremental_vs_full_roads"] = roads["measurements"]["incremental_vs_full_roads"]
    return result


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


def _chain_markdown(chain: dict) -> list[str]:
    check = chain["check"]
    cap = f"each step in a memory cgroup capped at {chain['memory_cap_mb']:,} MB" if chain["memory_cap_mb"] else "no memory cgroup on this machine"
    lines = [f"{chain['nodes']:,} nodes / {chain['edges']:,} edges, 64 features, 2-layer GraphSAGE 64→256→128, "
             f"layerwise.memoryBudgetMb {chain['budget_mb']:,}, {cap}", "",
             "| step | seconds | peak RSS (MB) | peak anonymous memory (MB) | peak cgroup memory (MB) | disk after (GB) |", "|---|---|---|---|---|---|"]
    for name, step in chain["steps"].items():
        peak = f"{step['peak_cgroup_mb']:,}" if step["peak_cgroup_mb"] is not None else "-"
        lines.append(f"| {name} | {step['seconds']} | {step['peak_rss_mb']:,} | {step['peak_anonymous_mb']:,} | {peak} | {step['disk_gb_after']} |")
    metrics = chain["metrics"]
    lines += ["", f"plumbing_vs_inference (enumerate + un-enumerate ÷ layer-wise job): {metrics['plumbing_vs_inference']:.2f} (goal ≤ 1); "
              f"chain seconds per million nodes: {metrics['seconds_per_million_nodes']:.1f}; "
              f"exactness: largest difference {check['max_abs_difference']:.2e} over {CHECKED_NODES:,} nodes "
              f"({check['subgraph_nodes']:,} nodes, {check['subgraph_edges']:,} edges in their 2-hop in-neighbourhoods): "
              f"{'exact (< 1e-4)' if check['exact'] else 'NOT exact'}", ""]
    return lines


def markdown(result: dict) -> str:
    lines = []
    for chain in result["chains"]:
        lines += _chain_markdown(chain)
    if "growth" in result:
        g = result["growth"]
        small, large = result["chains"][0]["nodes"], result["chains"][-1]["nodes"]
        lines += [f"From {small:,} to {large:,} nodes (anonymous memory): scale_peak_rss_growth {g['scale_peak_rss_growth']:.2f} (goal ≤ 1.5; per step "
                  f"{g['peak_rss_growth_per_step']}), seconds_per_million_nodes_growth {g['seconds_per_million_nodes_growth']:.2f} (goal ≤ 1.2)", ""]
    if "incremental" in result:
        inc = result["incremental"]
        lines += [f"Incremental jobs on {inc['nodes']:,} nodes (2-layer GraphSAGE, hidden 256), job start to published tables: "
                  "whole job ÷ daily incremental job (baseJob SELF, keepStates)", "",
                  "| change | whole (s) | incremental (s) | of which the job (s) | ratio | share recomputed per stage | largest difference |",
                  "|---|---|---|---|---|---|---|"]
        rows = [(name, m) for name, m in inc["measurements"].items() if name.startswith("incremental_vs_full") and isinstance(m, dict)]
        rows += [(f"chain step {i + 1}", m) for i, m in enumerate(inc["measurements"].get("incremental_vs_full_chain", []))]
        for name, m in rows:
            lines.append(f"| {name}: {m['fraction_changed']:.2%} | {m['full_seconds']:.2f} | {m['incremental_seconds']:.2f} | "
                         f"{m['incremental_job_seconds']:.2f} | {m['ratio']:.2f} | {m['share_recomputed_per_stage']} | {m['largest_difference']:.1e} |")
        lines.append("")
    if "beam" in result:
        b = result["beam"]
        local, beam = b["measurements"]["local"], b["measurements"]["beam"]
        lines += [f"Layer-wise on Beam at {b['nodes']:,} nodes (FnApiRunner, {beam['workers']} worker processes, pieces of "
                  f"{beam['piece_nodes']:,} nodes): LOCAL ÷ BEAM", "",
                  "| LOCAL (s) | BEAM (s) | ratio | seconds per stage | worker peak RSS (MB) | runner peak RSS (MB) | largest message piece (bytes) |",
                  "|---|---|---|---|---|---|---|",
                  f"| {local['seconds']:.1f} | {beam['seconds']:.1f} | {b['metrics']['layerwise_beam_vs_local']:.2f} | {beam['stage_seconds']} | "
                  f"{beam['worker_peak_rss_mb']:,.0f} | {beam['runner_peak_rss_mb']:,.0f} | {beam['largest_message_piece_bytes']:,} |", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_chain", description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="4000000", help="graph sizes, comma-separated: the chain at each (growth from the first to the last; 0: none)")
    parser.add_argument("--budget-mb", type=int, default=4096, help="the layer-wise job's layerwise.memoryBudgetMb")
    parser.add_argument("--memory-cap-mb", type=int, default=8192, help="each step's memory cgroup limit, page cache included")
    parser.add_argument("--incremental-nodes", type=int, default=1_000_000, help="graph size of the incremental measurement (0: none)")
    parser.add_argument("--incremental-chain", type=int, default=5, help="0.1%% changes in a row after the three single changes")
    parser.add_argument("--beam-nodes", type=int, default=1_000_000, help="graph size of the BEAM engine measurement (0: none)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    result = {"chains": [run(int(n), args.budget_mb, args.memory_cap_mb) for n in args.nodes.split(",") if n.strip() and int(n)]}
    if len(result["chains"]) > 1:
        result["growth"] = growth(result["chains"][0], result["chains"][-1])
    if args.incremental_nodes:
        result["incremental"] = run_incremental(args.incremental_nodes, args.incremental_chain)
    if args.beam_nodes:
        result["beam"] = run_beam(args.beam_nodes)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "scale.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
