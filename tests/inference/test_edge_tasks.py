"""Edge classification and regression (linkBasedTaskMetadata): every supervision edge's published
prediction equals the task's decoder over PyG's full-graph forward of the same model (1e-4), on
either layer-wise engine; the edge labels an edge task reads are checked where it reads them, each
refusal one line naming the file and column; a config or model of the other kind is refused."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch
from torch_geometric.data import HeteroData

from gnn_assets.config.errors import ConfigError
from gnn_assets.config.task_config import TaskConfig, load_task_config
from gnn_assets.graph.edge_labels import read_edge_labels
from gnn_assets.graph.source import GraphSource, GraphSourceError, write_graph_source
from gnn_assets.inference.protocol import ModelMismatchError, load_inferencer
from gnn_assets.jobs import driver
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import prepare_job, write_task_config
from tests.support.exactness import full_graph

ON_BEAM = {"gnnAssetsConfig.layerwise": {"engine": "BEAM", "blockNodes": 128, "pieceKb": 8}}


def _published(job, edge_type) -> dict[tuple[str, str], float]:
    table = open_warehouse(job.resources).read_table(job.frozen.edge_predictions_tables()[edge_type]).to_pydict()
    return dict(zip(zip(table["src_node_id"], table["dst_node_id"]), table["pred"]))


def _oracle(job, source: GraphSource, edge_type) -> dict[tuple[str, str], float]:
    """The decoder over PyG's forward of the whole graph, for every edge of the type in the source."""
    index, x, edge_index = full_graph(source)
    model = load_inferencer(job.frozen, job.resources.model_policy).inferencer.model
    with torch.no_grad():
        if len(x) == 1:
            (node_type,) = x
            embeddings = {node_type: model.encoder(x[node_type], edge_index[edge_type])}
        else:
            data = HeteroData()
            for t, features in x.items():
                data[t].x = features
            for key, ei in edge_index.items():
                data[key].edge_index = ei
            embeddings = model.encoder(data.x_dict, data.edge_index_dict)
        src, dst = edge_index[edge_type]
        scores = model.score(embeddings[edge_type[0]][src], embeddings[edge_type[2]][dst])
    predicted = scores.reshape(-1) if job.frozen.task_kind.is_regression else scores.argmax(-1)
    names = {t: list(ids) for t, ids in index.items()}
    return {(names[edge_type[0]][s], names[edge_type[2]][d]): p for s, d, p in zip(src.tolist(), dst.tolist(), predicted.tolist())}


@pytest.mark.slow
@pytest.mark.parametrize(
    "task, engine",
    [("demo_edge_classification", "LOCAL"), ("demo_edge_classification", "BEAM"), ("demo_edge_regression", "LOCAL"), ("demo_edge_regression", "BEAM")],
)
def test_every_edge_s_published_prediction_equals_the_full_graph_forward(tmp_path, small_homogeneous_graph, small_typed_graph, task, engine):
    source = small_homogeneous_graph if task == "demo_edge_classification" else small_typed_graph
    job = prepare_job(tmp_path, task, source, **(ON_BEAM if engine == "BEAM" else {}))
    run = driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    assert run.job.details["engine"] == engine
    (edge_type,) = job.frozen.supervision_edge_types
    published, oracle = _published(job, edge_type), _oracle(job, source, edge_type)
    assert published.keys() == oracle.keys() and run.edges.edges["-".join(edge_type)].rows == len(oracle)
    ids = sorted(oracle)
    if job.frozen.task_kind.is_regression:
        assert np.abs(np.array([published[i] for i in ids]) - np.array([oracle[i] for i in ids])).max() < 1e-4
    else:
        assert [published[i] for i in ids] == [oracle[i] for i in ids]
        assert len(set(published.values())) == 2  # an untrained model still predicts both classes somewhere


def _with_edge_labels(source: GraphSource, labels: list) -> GraphSource:
    """The source with its edges' label column replaced by labels (repeated to the edges' count)."""
    column = pa.array((labels * (source.edges.num_rows // len(labels) + 1))[: source.edges.num_rows])
    edges = source.edges.drop_columns(["label"]).append_column("label", column)
    return GraphSource(source.metadata, source.nodes, edges)


@pytest.mark.parametrize(
    "labels, message",
    [
        ([1.5, float("nan")], r"edges\.parquet: column label has [\d,]+ NaN or infinite values, e\.g\. edges \['item_00000000->user_"),
        (["good", "bad"], r"edges\.parquet: column label is VARCHAR; a label is an integer \(a class, for classification\) or a floating"),
        ([3, None], r"edges\.parquet: column label holds classes \(integers\); this regression task needs values \(floating\)"),
    ],
)
def test_bad_edge_labels_are_refused_in_one_line_naming_the_file_and_column(tmp_path, small_typed_graph, labels, message):
    source = _with_edge_labels(small_typed_graph, labels)
    job = prepare_job(tmp_path, "demo_edge_regression", small_typed_graph)
    write_graph_source(job.resources.layout.graph_source_dir("demo_typed"), source)
    with pytest.raises(GraphSourceError, match=message) as refused:
        read_edge_labels(job.resources.layout.graph_source_dir("demo_typed"), job.resources.layout.enumerated_graph_dir("demo_typed"),
                         job.frozen.supervision_edge_types, values=True)
    assert "\n" not in str(refused.value)


def test_labels_on_an_edge_type_the_task_does_not_supervise_or_two_labels_for_one_edge_are_refused(tmp_path, small_typed_graph):
    job = prepare_job(tmp_path, "demo_edge_regression", small_typed_graph)
    source_dir, graph_dir = job.resources.layout.graph_source_dir("demo_typed"), job.resources.layout.enumerated_graph_dir("demo_typed")
    edges = small_typed_graph.edges
    labels = edges["label"].to_pylist()
    follows = edges["edge_type"].to_pylist().index("follows")
    labels[follows] = 2.0
    write_graph_source(source_dir, GraphSource(small_typed_graph.metadata, small_typed_graph.nodes, edges.set_column(5, "label", pa.array(labels))))
    with pytest.raises(GraphSourceError, match=r"column label labels edges of types \['user-follows-user'\], which the task does not supervise"):
        read_edge_labels(source_dir, graph_dir, job.frozen.supervision_edge_types, values=True)
    first = edges.slice(0, 1).to_pylist()[0]
    again = pa.Table.from_pylist([{**first, "label": (first["label"] or 0.0) + 1.0}], schema=edges.schema)
    write_graph_source(source_dir, GraphSource(small_typed_graph.metadata, small_typed_graph.nodes, pa.concat_tables([edges, again])))
    with pytest.raises(GraphSourceError, match=r"column label gives user-buys-item edges two labels"):
        read_edge_labels(source_dir, graph_dir, job.frozen.supervision_edge_types, values=True)


def test_an_edge_config_runs_layerwise_and_its_model_must_fit_its_kind(tmp_path, small_typed_graph):
    (tmp_path / "sampled").mkdir()
    sampled = write_task_config(tmp_path / "sampled", "demo_edge_regression", **{"gnnAssetsConfig.inferenceMode": "SAMPLED",
                                                                                 "gnnAssetsConfig.sampler.fanout": [5, 5]})
    with pytest.raises(ConfigError, match="gnnAssetsConfig.inferenceMode: edge tasks \\(linkBasedTaskMetadata\\) run LAYERWISE"):
        load_task_config(str(sampled))
    job = prepare_job(tmp_path, "demo_edge_regression", small_typed_graph)
    proto = type(job.frozen.proto)()
    proto.CopyFrom(job.frozen.proto)
    proto.gnn_assets_config.regression = False
    with pytest.raises(ModelMismatchError, match="no num_classes \\(regression\\) runs supervised_edge_regression tasks"):
        load_inferencer(TaskConfig(job.frozen.uri, proto), job.resources.model_policy)
