"""The block engine (what engine BEAM's workers compute: gather, merge, apply over blocks of
nodes) equals each model's full-graph forward, with partial aggregation (mean, sum, max) and with
full gather (attention, a user's model), and GCN with its degrees from a degree pass (self loops
in the graph, improved, without self loops)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch_geometric.nn import GCNConv, SAGEConv

from gnn_assets.layerwise.aggregation import partial_aggregation
from gnn_assets.layerwise.blocks import BlockEngine, Blocks, run_in_process
from gnn_assets.layerwise.probe import probe, probe_blocks
from gnn_assets.layerwise.split import split_model
from tests.support.split_models import CITES, HETERO_MODELS, HOMOGENEOUS, HOMOGENEOUS_MODELS, TYPED, forward_by_model, random_graph, seeded


class MaxSage(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = SAGEConv(12, 32, aggr="max"), SAGEConv(32, 8, aggr="sum")

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def _blocks(model, signature, x, edge_index, block_nodes):
    program = split_model(model, signature)
    dims = {t: v.shape[1] for t, v in x.items()}
    row_bytes = probe(program, model, dims, torch.device("cpu"))
    widths = probe_blocks(program, model, dims, row_bytes, torch.device("cpu"))
    engine = BlockEngine(program, widths)
    blocks = Blocks(block_nodes, {t: v.shape[0] for t, v in x.items()})
    got = run_in_process(engine, blocks, {t: v.numpy() for t, v in x.items()}, {k: (e[0].numpy(), e[1].numpy()) for k, e in edge_index.items()})
    return got, engine


MODELS = {**{k: v for k, v in HOMOGENEOUS_MODELS.items() if k != "gcn"}, "max_sage": MaxSage}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("block_nodes", [1000, 37])
def test_homogeneous_models_in_blocks_match_full_graph_forward(name, block_nodes):
    model = seeded(MODELS[name])
    x, edge_index = random_graph(HOMOGENEOUS, {"paper": 300}, {"paper": 12})
    expected = forward_by_model(model, HOMOGENEOUS, x, edge_index)
    got, engine = _blocks(model, HOMOGENEOUS, x, edge_index, block_nodes)
    np.testing.assert_allclose(got["paper"], expected["paper"].numpy(), atol=1e-4, rtol=1e-4)
    kinds = {c.kind for plan in engine.plans for calls in plan.calls.values() for c in calls}
    assert kinds == {"graphsage": {"mean"}, "gat": {"gather"}, "gin": {"sum"}, "residual_jk_user_model": {"mean"}, "max_sage": {"max", "sum"}}[name]


@pytest.mark.parametrize("name", HETERO_MODELS)
def test_heterogeneous_models_in_blocks_match_full_graph_forward(name):
    model = seeded(HETERO_MODELS[name])
    x, edge_index = random_graph(TYPED, {"user": 200, "item": 120}, {"user": 10, "item": 6})
    if name.startswith("to_hetero"):
        forward_by_model(model, TYPED, x, edge_index)
    expected = forward_by_model(model, TYPED, x, edge_index)
    got, _ = _blocks(model, TYPED, x, edge_index, 29)
    for node_type in ("user", "item"):
        np.testing.assert_allclose(got[node_type], expected[node_type].numpy(), atol=1e-4, rtol=1e-4)


class TwoGcn(nn.Module):
    def __init__(self, **options):
        super().__init__()
        self.conv1, self.conv2 = GCNConv(12, 32, **options), GCNConv(32, 8, **options)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


@pytest.mark.parametrize("options", [{}, {"improved": True}, {"add_self_loops": False}], ids=["default", "improved", "no_self_loops"])
@pytest.mark.parametrize("block_nodes", [1000, 37])
def test_gcn_in_blocks_matches_full_graph_forward(options, block_nodes):
    """Each source's degree travels with its rows: the blocks see what gcn_norm sees on the
    whole graph, self loops of the graph included (the random graph has some)."""
    model = seeded(lambda: TwoGcn(**options))
    x, edge_index = random_graph(HOMOGENEOUS, {"paper": 300}, {"paper": 12})
    assert (edge_index[CITES][0] == edge_index[CITES][1]).any()
    expected = forward_by_model(model, HOMOGENEOUS, x, edge_index)
    got, engine = _blocks(model, HOMOGENEOUS, x, edge_index, block_nodes)
    np.testing.assert_allclose(got["paper"], expected["paper"].numpy(), atol=1e-4, rtol=1e-4)
    assert engine.degree_edge_types() == [CITES]


def test_projected_sage_gathers_its_in_edges():
    assert partial_aggregation(SAGEConv(4, 4, project=True)) is None and partial_aggregation(SAGEConv(4, 4)) == "mean"
