"""With full neighbourhoods the Beam job must reproduce PyG's full-graph forward exactly.

The oracle builds the whole graph straight from the source Parquet (its own string-id
indexing, no enumeration, no sampler) and runs the same model on it.
"""

from __future__ import annotations

import threading

import pytest
import torch
import pyarrow as pa
import pyarrow.compute as pc

from gnn_assets.graph.source import GraphSource
from gnn_assets.proto.graph_schema_pb2 import GraphMetadata
from tests.support.gigl import EVERY_FIELD

from gnn_assets.jobs import driver
from tests.support.deployments import prepare_job
from tests.support.exactness import FULL, assert_matches_full_graph_forward, assert_matches_hetero_full_graph_forward

def _torch_threads_of_a_new_thread() -> int:
    """torch keeps its thread count per thread; a new thread starts from the last count set anywhere."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    return seen[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    "running_mode, num_workers, shared",
    [
        ("in_memory", 1, None),
        ("in_memory", 2, None),
        ("multi_threading", 2, None),
        ("multi_processing", 2, None),
        # One model for both worker processes, in a process of its own (what a GPU machine does).
        ("multi_processing", 2, True),
    ],
)
def test_homogeneous_classification_matches_full_graph_forward(
    tmp_path, caplog, small_homogeneous_graph, running_mode, num_workers, shared
):
    job = prepare_job(
        tmp_path, "demo_node_classification", small_homogeneous_graph, running_mode=running_mode, num_workers=num_workers,
        share_model_across_processes=shared, **FULL, **{"gnnAssetsConfig.sampler.numShards": 3},  # for the workers to share
    )
    threads = _torch_threads_of_a_new_thread()
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    assert _torch_threads_of_a_new_thread() == threads  # workers in this process set theirs; the job set it back
    assert "direct_num_workers" not in caplog.text  # FnApiRunner's word that in_memory workers do nothing

    assert_matches_full_graph_forward(job, small_homogeneous_graph, predictions=True)


@pytest.mark.slow
def test_heterogeneous_link_prediction_matches_full_graph_forward(tmp_path, small_typed_graph):
    job = prepare_job(tmp_path, "demo_link_prediction", small_typed_graph, **FULL)
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)

    assert_matches_hetero_full_graph_forward(job, small_typed_graph, ["user", "item"])


def _with_one_relation_name(source: GraphSource, relation: str) -> GraphSource:
    """The typed demo graph as GiGL's heterogeneous examples name it: item -> story, every relation 'to'."""
    rename = lambda column: pc.replace_substring_regex(column, "^item$", "story")  # noqa: E731
    nodes = source.nodes.set_column(1, "node_type", rename(source.nodes["node_type"]))
    edges = source.edges
    for name in ("src_type", "dst_type"):
        edges = edges.set_column(edges.schema.get_field_index(name), name, rename(edges[name]))
    edges = edges.set_column(edges.schema.get_field_index("edge_type"), "edge_type", pa.array([relation] * edges.num_rows))
    metadata = GraphMetadata(node_types=["user", "story"])
    for src, dst in (("user", "story"), ("story", "user"), ("user", "user")):
        metadata.edge_types.add(src_node_type=src, relation=relation, dst_node_type=dst)
    return GraphSource(metadata, nodes, edges)


@pytest.mark.slow
def test_a_gigl_config_whose_relation_names_repeat_matches_full_graph_forward(tmp_path, small_typed_graph):
    """Before: relation names had to be unique, so GiGL's configs (several edge types called 'to')
    did not load; edge types are now keyed by (src type, relation, dst type) everywhere."""
    source = _with_one_relation_name(small_typed_graph, "to")
    job = prepare_job(tmp_path, EVERY_FIELD, source, **{"sharedConfig.trainedModelMetadata": {}})
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    assert_matches_hetero_full_graph_forward(job, source, ["user", "story"])
