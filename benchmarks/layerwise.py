"""Layer-wise inference in `make bench`, side by side with the sampled path and the bare forward.

On the bench graph with the bench model (2-layer GraphSAGE, hidden 256; untrained, seed 0, so
every task holds the same weights):

- layerwise_vs_sampled_all_nodes: sampler + sampled Beam job over every node (fanout [10, 10])
  ÷ the layer-wise job; the 3-layer [15, 10, 5] case the same way, except that sampling and
  the Beam job run on two subsets of the roots and are extrapolated to all nodes from the
  seconds per extra root (fixed costs counted once);
- layerwise_vs_bare_forward: PyG's forward of the same model on the whole graph in memory
  (edge index or CSR adjacency, whichever is faster; its second call) ÷ the layer-wise job run
  a second time in its process (both warm; the comparisons with the sampled path use the
  job's first run, in a fresh process like the Beam job's);
- layerwise_beam_vs_local: the layer-wise job with engine BEAM on FnApiRunner in
  multi_processing mode, one worker per core (default blocks and pieces), ÷ the LOCAL engine's
  job (the first run above), wall time; and the BEAM job's messages: bytes its gather step sends
  per edge and layer (partial aggregates: at most one row per destination and outbox flush);
- layerwise_peak_rss_mb / layerwise_anonymous_rss_vs_budget: the layer-wise job under a memory
  budget a quarter of its states: its process's peak RSS, and its peak growth in anonymous
  memory ÷ (budget + model + CSR). The whole RSS also counts the spilled states' file pages
  while they are mapped: page cache the kernel maps around every fault (64 KiB at a time) and
  drops under pressure, so a random gather over a spilled array maps most of it; the executor
  unmaps them after every chunk.

Every job runs in a child process of its own; times are each job's own wall time.
"""

from __future__ import annotations

import copy
import resource
import time
import warnings
from pathlib import Path

import yaml

from benchmarks.harness import MAIN_TASK, AnonymousPeak, frozen_job, own_rss_mb, run_child, sampled_job, say

LAYERWISE_2 = "bench_layerwise.yaml"
LAYERWISE_2_BUDGET = "bench_layerwise_budget.yaml"
SAMPLED_3 = "bench_sampled3.yaml"
LAYERWISE_3 = "bench_layerwise3.yaml"
LAYERWISE_BEAM = "bench_layerwise_beam.yaml"
BEAM_RESOURCES = "resources_multiprocessing.yaml"


def write_tasks(workdir: Path, main_task: dict, budget_mb: int) -> None:
    def variant(name: str, layers: int, mode: str, fanout: list[int] | None = None, budget: int | None = None, beam: bool = False) -> None:
        task = copy.deepcopy(main_task)
        task["inferencerConfig"]["inferencerArgs"]["num_layers"] = str(layers)
        ours = task["gnnAssetsConfig"]
        ours["inferenceMode"] = mode
        if fanout:
            ours["sampler"]["fanout"] = fanout
        if budget:
            ours["layerwise"] = {"memoryBudgetMb": budget}
        if beam:
            ours["layerwise"] = {"engine": "BEAM"}
        (workdir / name).write_text(yaml.safe_dump(task))

    variant(LAYERWISE_2, 2, "LAYERWISE")
    variant(LAYERWISE_2_BUDGET, 2, "LAYERWISE", budget=budget_mb)
    variant(SAMPLED_3, 3, "SAMPLED", fanout=[15, 10, 5])
    variant(LAYERWISE_3, 3, "LAYERWISE")
    variant(LAYERWISE_BEAM, 2, "LAYERWISE", beam=True)
    resources = yaml.safe_load((workdir / "resources.yaml").read_text())
    resources["localRunner"]["runningMode"] = "multi_processing"
    (workdir / BEAM_RESOURCES).write_text(yaml.safe_dump(resources))


# --- children ------------------------------------------------------------------------------


def child_layerwise(workdir: Path, task_file: str, job: str, runs: int = 1) -> dict:
    """The layer-wise job `runs` times in this process; seconds of the first (cold: a fresh
    process, as a scheduled job runs) and of the last (warm, as the bare forward is timed)."""
    from gnn_assets.inference.protocol import load_inferencer
    from gnn_assets.inference.task_specs import write_untrained_model
    from gnn_assets.config.job import Job
    from gnn_assets.layerwise.frame import run_layerwise
    from gnn_assets.layerwise.local import LocalEngine

    resources, frozen = frozen_job(workdir, job, task_file)
    write_untrained_model(frozen, seed=0)
    loaded = load_inferencer(frozen, resources.model_policy)
    baseline = own_rss_mb()
    with AnonymousPeak() as anonymous:
        results = [run_layerwise(Job.of(frozen, resources), loaded, LocalEngine(), progress=lambda _: None) for _ in range(runs)]
    result = results[0]
    details = result.details
    return {
        "seconds": result.seconds,
        "warm_seconds": results[-1].seconds,
        "nodes": sum(details["nodes"].values()),
        "baseline_rss_mb": baseline,
        "anonymous_growth_mb": anonymous.peak_mb - anonymous.baseline_mb,
        "budget_mb": details["budget_bytes"] / 2**20,
        "states_mb": details["states_bytes"] / 2**20,
        "csr_mb": details["csr_bytes"] / 2**20,
        "model_mb": loaded.weights.size_bytes / 2**20,
        "spilled": details["spilled"],
        "spill_mb": details["spill_bytes"] / 2**20,
        "chunks": sum(s["chunks"] for s in details["stages"]),
    }


def child_bare_forward(workdir: Path, task_file: str, job: str) -> dict:
    """PyG's own forward of the model over the whole graph in memory: the kernel limit."""
    import numpy as np
    import torch

    from gnn_assets.config.resource_config import ModelPolicy
    from gnn_assets.graph.csr import build_in_edges
    from gnn_assets.graph.enumeration import read_enumerated_graph
    from gnn_assets.inference.protocol import load_inferencer
    from gnn_assets.inference.task_specs import write_untrained_model

    resources, frozen = frozen_job(workdir, job, task_file)
    write_untrained_model(frozen, seed=0)
    model = load_inferencer(frozen, ModelPolicy()).inferencer.layerwise_model().module
    graph = read_enumerated_graph(resources.layout.enumerated_graph_dir(frozen.graph_name))
    (node_type,), (key,) = graph.node_types, graph.edge_types
    x = torch.from_numpy(graph.features[node_type].copy())
    src, dst = graph.edges[key]
    csr = build_in_edges(src, dst, len(x))
    with warnings.catch_warnings():  # torch calls its sparse CSR support beta
        warnings.simplefilter("ignore", UserWarning)
        adjacency = torch.sparse_csr_tensor(
            torch.from_numpy(csr.indptr), torch.from_numpy(csr.sources), torch.ones(csr.num_edges), size=(len(x), len(x))
        )
    seconds = {}
    with torch.inference_mode():
        for name, edges in (("edge_index", torch.from_numpy(np.stack([src, dst]))), ("csr", adjacency)):
            model(x, edges)  # the first call allocates
            started = time.perf_counter()
            model(x, edges)
            seconds[name] = time.perf_counter() - started
    return {"seconds": min(seconds.values()), "seconds_edge_index": seconds["edge_index"], "seconds_csr": seconds["csr"], "nodes": len(x)}


def child_layerwise_beam(workdir: Path, task_file: str, job: str) -> dict:
    """The layer-wise job with engine BEAM on worker processes, one per core."""
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.config.task_config import freeze_task_config, load_task_config, write_frozen_config
    from gnn_assets.inference.protocol import load_inferencer
    from gnn_assets.inference.task_specs import write_untrained_model
    from gnn_assets.config.job import Job
    from gnn_assets.layerwise.beam import BeamEngine
    from gnn_assets.layerwise.frame import run_layerwise

    resources = load_resource_config(str(workdir / BEAM_RESOURCES))
    frozen = freeze_task_config(load_task_config(str(workdir / task_file)), resources, job)
    write_frozen_config(frozen)
    write_untrained_model(frozen, seed=0)
    result = run_layerwise(Job.of(frozen, resources), load_inferencer(frozen, resources.model_policy), BeamEngine(), progress=lambda _: None)
    per_edge = result.details["message_bytes_per_edge"]
    return {
        "seconds": result.seconds,
        # The worker processes are this process's children, waited for when the job ends.
        "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "largest_message_piece_bytes": max(result.details["largest_message_piece_bytes"].values(), default=0),
        "piece_nodes": result.details["piece_nodes"],
        "stage_seconds": result.details["stage_seconds"],
        "workers": resources.proto.local_runner.num_workers,
        "blocks": result.details["blocks"],
        "message_bytes": result.details["message_bytes"],
        "message_bytes_per_edge": per_edge,
        "mean_message_bytes_per_edge": sum(per_edge.values()) / max(len(per_edge), 1),
    }


CHILDREN = {"_layerwise": child_layerwise, "_bare_forward": child_bare_forward, "_layerwise_beam": child_layerwise_beam}


# --- measurements --------------------------------------------------------------------------


def _sampled_seconds_all_nodes(workdir: Path, num_nodes: int, subset: int) -> dict:
    """Sampler + Beam job of the 3-layer task on `subset` and 2 x `subset` roots, extrapolated
    to every node from the seconds each extra root cost."""
    seconds = {}
    for count in (subset, 2 * subset):
        job = f"sampled3-{count}"
        _, sampler_seconds = sampled_job(workdir, job, count, cycle=num_nodes, task_file=SAMPLED_3)
        beam, _ = run_child(["_pipeline", str(workdir), job, SAMPLED_3])
        seconds[count] = (sampler_seconds, beam["seconds"])
    per_root = [(seconds[2 * subset][i] - seconds[subset][i]) / subset for i in (0, 1)]
    sampler, beam = (seconds[subset][i] + (num_nodes - subset) * max(per_root[i], 0.0) for i in (0, 1))
    return {"sampler_seconds": sampler, "beam_seconds": beam, "measured_roots": [subset, 2 * subset]}


def measure(workdir: Path, main_task: dict, *, num_nodes: int, all_nodes_job: str, sampler_seconds: float, subset: int) -> dict:
    """The layer-wise metrics; all_nodes_job holds samples of every node (the main task's
    fanout), which the sampler wrote in sampler_seconds."""
    from gnn_assets.inference.task_specs import write_untrained_model

    write_untrained_model(frozen_job(workdir, all_nodes_job, MAIN_TASK)[1], seed=0)
    sampled2, _ = run_child(["_pipeline", str(workdir), all_nodes_job, MAIN_TASK])
    layerwise2, _ = run_child(["_layerwise", str(workdir), LAYERWISE_2, "layerwise2", "2"])
    bare, _ = run_child(["_bare_forward", str(workdir), LAYERWISE_2, "bare"])
    say(
        f"all {num_nodes:,} nodes, 2 layers: sampler {sampler_seconds:.1f}s + Beam job {sampled2['seconds']:.1f}s; layer-wise "
        f"{layerwise2['seconds']:.2f}s in a fresh process, {layerwise2['warm_seconds']:.2f}s run again ({layerwise2['chunks']} chunks); "
        f"bare forward {bare['seconds']:.2f}s "
        f"(edge index {bare['seconds_edge_index']:.2f}s, CSR {bare['seconds_csr']:.2f}s)"
    )
    on_beam, _ = run_child(["_layerwise_beam", str(workdir), LAYERWISE_BEAM, "layerwise-beam"])
    say(
        f"layer-wise on Beam ({on_beam['workers']} worker processes, blocks {on_beam['blocks']}): {on_beam['seconds']:.1f}s vs "
        f"{layerwise2['seconds']:.2f}s LOCAL; messages {on_beam['mean_message_bytes_per_edge']:.0f} bytes per edge and layer, "
        f"worker peak RSS {on_beam['worker_peak_rss_mb']:.0f} MB"
    )
    sampled3 = _sampled_seconds_all_nodes(workdir, num_nodes, subset)
    layerwise3, _ = run_child(["_layerwise", str(workdir), LAYERWISE_3, "layerwise3"])
    say(
        f"all nodes, 3 layers [15, 10, 5]: sampler {sampled3['sampler_seconds']:.1f}s + Beam job {sampled3['beam_seconds']:.1f}s "
        f"(extrapolated from {sampled3['measured_roots']} roots); layer-wise {layerwise3['seconds']:.2f}s"
    )
    budget, budget_rss = run_child(["_layerwise", str(workdir), LAYERWISE_2_BUDGET, "budget"])
    growth = budget_rss - budget["baseline_rss_mb"]
    bound = budget["budget_mb"] + budget["model_mb"] + budget["csr_mb"]
    say(
        f"layer-wise under a {budget['budget_mb']:.0f} MB budget (states {budget['states_mb']:.0f} MB, spilled "
        f"{budget['spill_mb']:.0f} MB): peak RSS {budget_rss:.0f} MB, {growth:.0f} MB over the {budget['baseline_rss_mb']:.0f} MB "
        f"before the job, of which anonymous {budget['anonymous_growth_mb']:.0f} MB; budget + model + CSR = {bound:.0f} MB"
    )
    if not budget["spilled"]:
        raise RuntimeError("the budget run did not spill: its budget is not below its states")
    return {
        "metrics": {
            "layerwise_vs_sampled_all_nodes": (sampler_seconds + sampled2["seconds"]) / layerwise2["seconds"],
            "layerwise_vs_sampled_all_nodes_3_layers": (sampled3["sampler_seconds"] + sampled3["beam_seconds"]) / layerwise3["seconds"],
            "layerwise_vs_bare_forward": bare["seconds"] / layerwise2["warm_seconds"],
            "layerwise_nodes_per_s": layerwise2["nodes"] / layerwise2["seconds"],
            "layerwise_beam_vs_local": layerwise2["seconds"] / on_beam["seconds"],
            "layerwise_beam_message_bytes_per_edge": on_beam["mean_message_bytes_per_edge"],
            "layerwise_peak_rss_mb": budget_rss,
            "layerwise_anonymous_rss_vs_budget": budget["anonymous_growth_mb"] / bound,
        },
        "measurements": {
            "sampled_2_layers": {"sampler_seconds": sampler_seconds, "beam_seconds": sampled2["seconds"]},
            "layerwise_2_layers": layerwise2,
            "bare_forward_2_layers": bare,
            "sampled_3_layers": sampled3,
            "layerwise_3_layers": layerwise3,
            "layerwise_beam_2_layers": on_beam,
            "layerwise_under_budget": {**budget, "peak_rss_mb": budget_rss},
        },
    }
