"""What make bench measures on: its sizes (full and tiny), the bench task (2-layer GraphSAGE link
prediction on the demo graph) and the deployment and graph each run prepares."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.harness import MAIN_TASK, deployment, say


@dataclass(frozen=True)
class Size:
    num_nodes: int
    throughput_samples: int  # the throughput rounds' Beam job and forward run on this many samples
    rss_samples: tuple[int, int]  # peak_rss_growth compares the Beam job at these sample counts
    gigl_samples: int
    rounds: int  # of the throughput measurements
    layerwise_subset: int  # roots of the smaller 3-layer sampled job (layerwise.py)
    serving_seconds: int  # each load-generator run against the server (serving.py)
    ab_rounds: int  # A/B job vs single job, alternated (several_models.py)
    candidate_sources: int  # sources scored against candidate_destinations (several_models.py)
    candidate_destinations: int


SIZES = {
    "full": Size(num_nodes=125_000, throughput_samples=250_000, rss_samples=(100_000, 500_000), gigl_samples=5_000, rounds=5, layerwise_subset=3_000, serving_seconds=10, ab_rounds=3, candidate_sources=20_000, candidate_destinations=100_000),
    "tiny": Size(num_nodes=2_000, throughput_samples=2_000, rss_samples=(500, 2_500), gigl_samples=200, rounds=1, layerwise_subset=100, serving_seconds=1, ab_rounds=1, candidate_sources=600, candidate_destinations=2_000),
}


BATCH_SIZE = 512


FEATURE_DIM, HIDDEN = 32, 256  # the demo generator's features; the model's hidden and output width


TASK = {
    "taskMetadata": {
        "nodeAnchorBasedLinkPredictionTaskMetadata": {
            "supervisionEdgeTypes": [{"srcNodeType": "paper", "relation": "cites", "dstNodeType": "paper"}]
        }
    },
    "graphMetadata": {
        "nodeTypes": ["paper"],
        "edgeTypes": [{"srcNodeType": "paper", "relation": "cites", "dstNodeType": "paper"}],
    },
    "inferencerConfig": {
        "inferencerClsPath": "gnn_assets.inference.task_specs.NodeAnchorBasedLinkPredictionTaskSpec",
        "inferencerArgs": {"hid_dim": str(HIDDEN), "out_dim": str(HIDDEN), "num_layers": "2"},
        "inferenceBatchSize": BATCH_SIZE,
    },
    "gnnAssetsConfig": {"graphName": "bench", "sampler": {"fanout": [10, 10], "seed": "1"}},
}


def prepare(workdir: Path, size: Size) -> None:
    from gnn_assets.graph.demo import generate_homogeneous_demo_graph
    from gnn_assets.graph.enumeration import enumerate_deployment_graph
    from gnn_assets.graph.source import write_graph_source

    (workdir / "resources.yaml").write_text(
        "storage: {root: data, modelRoot: models}\n"
        # One worker per core in this process: the way the job uses a machine best (README, Performance).
        f"localRunner: {{runningMode: in_memory, numWorkers: {os.cpu_count() or 1}}}\n"
        "duckdb: {}\n"
        # The ratios compare the job with a forward on the CPU: on a GPU machine too.
        "device: cpu\n"
    )
    (workdir / MAIN_TASK).write_text(yaml.safe_dump(TASK))
    resources, template = deployment(workdir)
    source = generate_homogeneous_demo_graph(size.num_nodes)
    write_graph_source(resources.layout.graph_source_dir(template.graph_name), source)
    enumerate_deployment_graph(resources, template.graph_name)
    say(f"graph: {source.nodes.num_rows:,} nodes, {source.edges.num_rows:,} edges")
