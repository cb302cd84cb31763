"""The BEAM sampler writes the neighbourhoods the LOCAL sampler writes, for the same seed, on one
worker or two; with fanout -1 a job on its samples equals PyG's full-graph forward."""

from __future__ import annotations

import glob

import numpy as np
import pytest

from gnn_assets.config.job import Job
from gnn_assets.graph.beam_sampler import beam_sample_job
from gnn_assets.graph.codec import SampleDecoder
from gnn_assets.graph.sample_manifest import read_sample_manifest
from gnn_assets.graph.tfrecord import iter_records
from gnn_assets.inference.steps import sample_decoder
from tests.support.deployments import prepare_job

pytestmark = pytest.mark.slow


def _neighbourhoods(config, node_type: str, prefix: str) -> dict[int, tuple]:
    """root -> (node ids per type, edges as sorted (src, dst) positions among those ids per type, label)."""
    decoder: SampleDecoder = sample_decoder(config, node_type)
    out = {}
    for path in sorted(glob.glob(prefix + "*.tfrecord")):
        with open(path, "rb") as stream:
            records = list(iter_records(stream))
        if not records:
            continue
        batch, failures = decoder.decode_batch(records)
        assert not failures
        starts = {t: np.cumsum(c) - c for t, c in batch.node_counts.items()}
        estarts = {t: np.cumsum(c) - c for t, c in batch.edge_counts.items()}
        for i, root in enumerate(batch.root_node_ids.tolist()):
            nodes = {t: batch.node_ids[t][starts[t][i] : starts[t][i] + batch.node_counts[t][i]].tolist() for t in batch.node_ids}
            edges = {}
            for e, (src, dst) in batch.edges.items():
                a, b = estarts[e][i], estarts[e][i] + batch.edge_counts[e][i]
                edges[e] = sorted(zip(src[a:b].tolist(), dst[a:b].tolist()))
            out[root] = (nodes, edges, int(batch.labels[i]))
    return out


@pytest.mark.parametrize("task, graph, workers", [
    ("demo_node_classification", "small_homogeneous_graph", 1),
    ("demo_link_prediction", "small_typed_graph", 2),
])
def test_beam_and_local_samplers_write_the_same_neighbourhoods(tmp_path, request, task, graph, workers):
    source = request.getfixturevalue(graph)
    running_mode = "multi_processing" if workers > 1 else "in_memory"
    job = prepare_job(tmp_path, task, source, running_mode=running_mode, num_workers=workers, **{"gnnAssetsConfig.sampler.fanout": [3, 2]})
    sets = [(t, p) for t in job.frozen.root_node_types for p in job.frozen.sample_prefixes(t)]
    local = {p: _neighbourhoods(job.frozen, t, p) for t, p in sets}
    beam_sample_job(Job.of(job.frozen, job.resources), progress=lambda _: None)
    for node_type, prefix in sets:
        expected = local[prefix]
        got = _neighbourhoods(job.frozen, node_type, prefix)
        assert got.keys() == expected.keys() and got == expected, prefix
        assert sum(read_sample_manifest(prefix).samples_per_shard.values()) == len(expected)


def test_with_every_neighbour_a_job_on_beam_samples_equals_the_full_graph_forward(tmp_path, small_homogeneous_graph):
    from gnn_assets.jobs import driver
    from tests.support.exactness import FULL, assert_matches_full_graph_forward

    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **FULL)
    beam_sample_job(Job.of(job.frozen, job.resources), progress=lambda _: None)  # replaces the LOCAL samples
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    assert_matches_full_graph_forward(job, small_homogeneous_graph)
