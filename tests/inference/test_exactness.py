"""With full neighbourhoods the Beam job must reproduce PyG's full-graph forward exactly.

The oracle builds the whole graph straight from the source Parquet (its own string-id
indexing, no enumeration, no sampler) and runs the same model on it.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import pyarrow as pa
import pyarrow.compute as pc
from torch_geometric.data import HeteroData

from gnn_assets.graph.source import GraphSource
from gnn_assets.proto.graph_schema_pb2 import GraphMetadata
from tests.config.test_gigl_configs import EVERY_FIELD

from gnn_assets.jobs import driver
from gnn_assets.config.resource_config import ModelPolicy
from gnn_assets.inference.protocol import load_inferencer
from gnn_assets.warehouse import open_warehouse
from tests.conftest import prepare_job

FULL = {"gnnAssetsConfig.sampler.fanout": [-1, -1], "inferencerConfig.inferenceBatchSize": 64}


def _full_graph(source):
    """x per node type and edge_index per edge type, indexed by each type's node_id order in the file."""
    nodes = source.nodes.to_pydict()
    index, features = {}, {}
    for node_id, node_type, x in zip(nodes["node_id"], nodes["node_type"], nodes["features"]):
        index.setdefault(node_type, {})[node_id] = len(index.get(node_type, {}))
        features.setdefault(node_type, []).append(x)
    edges = source.edges.to_pydict()
    edge_lists = {}
    for src, dst, key in zip(edges["src"], edges["dst"], source.edge_keys()):
        edge_lists.setdefault(key, []).append((index[key[0]][src], index[key[2]][dst]))
    x = {t: torch.tensor(v, dtype=torch.float32) for t, v in features.items()}
    edge_index = {k: torch.tensor(v, dtype=torch.long).t().contiguous() for k, v in edge_lists.items()}
    return index, x, edge_index


def _torch_threads_of_a_new_thread() -> int:
    """torch keeps its thread count per thread; a new thread starts from the last count set anywhere."""
    seen = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    return seen[0]


def _final_rows(job, node_type, kind="embeddings"):
    table = open_warehouse(job.resources).read_table(job.frozen.output_tables(node_type)[kind]).to_pydict()
    return dict(zip(table["node_id"], table["emb" if kind == "embeddings" else "pred"]))


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

    index, x, edge_index = _full_graph(small_homogeneous_graph)
    model = load_inferencer(job.frozen, ModelPolicy()).inferencer.model
    with torch.no_grad():
        expected = model.encoder(x["paper"], edge_index[("paper", "cites", "paper")])
        expected_pred = model.head(expected).argmax(-1)

    embeddings, predictions = _final_rows(job, "paper"), _final_rows(job, "paper", "predictions")
    assert len(embeddings) == len(index["paper"]) == len(predictions)
    order = [index["paper"][node_id] for node_id in embeddings]
    got = torch.tensor(np.array(list(embeddings.values()), dtype=np.float32))
    assert (got - expected[order]).abs().max().item() < 1e-4
    assert [predictions[n] for n in embeddings] == expected_pred[order].tolist()


@pytest.mark.slow
def test_heterogeneous_link_prediction_matches_full_graph_forward(tmp_path, small_typed_graph):
    job = prepare_job(tmp_path, "demo_link_prediction", small_typed_graph, **FULL)
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)

    _assert_matches_hetero_full_graph_forward(job, small_typed_graph, ["user", "item"])


def _assert_matches_hetero_full_graph_forward(job, source, node_types):
    index, x, edge_index = _full_graph(source)
    full = HeteroData()
    for node_type, features in x.items():
        full[node_type].x = features
    for key, ei in edge_index.items():
        full[key].edge_index = ei
    model = load_inferencer(job.frozen, ModelPolicy()).inferencer.model
    with torch.no_grad():
        expected = model(full.x_dict, full.edge_index_dict)

    for node_type in node_types:
        rows = _final_rows(job, node_type)
        assert len(rows) == len(index[node_type])
        order = [index[node_type][node_id] for node_id in rows]
        got = torch.tensor(np.array(list(rows.values()), dtype=np.float32))
        assert (got - expected[node_type][order]).abs().max().item() < 1e-4


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
    _assert_matches_hetero_full_graph_forward(job, source, ["user", "story"])
