"""The oracle every exactness test compares with: PyG's forward of the same model over the whole
graph, built straight from the source Parquet (its own string-id indexing, no enumeration, no
sampler), against the rows a job published."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import HeteroData

from gnn_assets.inference.protocol import load_inferencer
from gnn_assets.warehouse import open_warehouse

# Every neighbour of every hop: a sampled job then equals the full-graph forward.
FULL = {"gnnAssetsConfig.sampler.fanout": [-1, -1], "inferencerConfig.inferenceBatchSize": 64}
PAPERS = ("paper", "cites", "paper")  # the homogeneous demo graph's one edge type


def full_graph(source):
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


def final_rows(job, node_type, kind="embeddings"):
    """A job's published rows of one kind, by original node id."""
    table = open_warehouse(job.resources).read_table(job.frozen.output_tables(node_type)[kind]).to_pydict()
    return dict(zip(table["node_id"], table["emb" if kind == "embeddings" else "pred"]))


def assert_matches_full_graph_forward(job, source, *, forward=None, predictions: bool = False) -> dict:
    """A homogeneous job's published embeddings (and predicted classes) equal the model's forward
    over the whole graph (1e-4); forward(x, edge_index) defaults to the model's encoder. Returns
    the published embeddings."""
    index, x, edge_index = full_graph(source)
    model = load_inferencer(job.frozen, job.resources.model_policy).inferencer.model
    with torch.no_grad():
        expected = (forward or model.encoder)(x["paper"], edge_index[PAPERS])
    embeddings = final_rows(job, "paper")
    assert embeddings.keys() == index["paper"].keys()
    order = [index["paper"][node_id] for node_id in embeddings]
    got = torch.tensor(np.array(list(embeddings.values()), dtype=np.float32))
    assert (got - expected[order]).abs().max().item() < 1e-4
    if predictions:
        published = final_rows(job, "paper", "predictions")
        with torch.no_grad():
            assert [published[n] for n in embeddings] == model.head(expected).argmax(-1)[order].tolist()
    return embeddings


def assert_matches_hetero_full_graph_forward(job, source, node_types, *, values: bool = False) -> dict:
    """A heterogeneous job's published embeddings of each node type equal the model's forward (1e-4);
    values: and its predicted values (node regression) equal the head's on that forward. Returns
    the forward's embeddings by node type."""
    index, x, edge_index = full_graph(source)
    full = HeteroData()
    for node_type, features in x.items():
        full[node_type].x = features
    for key, ei in edge_index.items():
        full[key].edge_index = ei
    model = load_inferencer(job.frozen, job.resources.model_policy).inferencer.model
    encoder = getattr(model, "encoder", model)  # a node task's model wraps its encoder with a head
    with torch.no_grad():
        expected = encoder(full.x_dict, full.edge_index_dict)
    for node_type in node_types:
        rows = final_rows(job, node_type)
        assert len(rows) == len(index[node_type])
        order = [index[node_type][node_id] for node_id in rows]
        got = torch.tensor(np.array(list(rows.values()), dtype=np.float32))
        assert (got - expected[node_type][order]).abs().max().item() < 1e-4
        if values:
            published = final_rows(job, node_type, "predictions")
            with torch.no_grad():
                oracle = model.head(expected[node_type]).reshape(-1)[order].double().numpy()
            assert np.abs(np.array([published[n] for n in rows]) - oracle).max() < 1e-4
    return expected
