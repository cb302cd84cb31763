"""Layer-wise execution of split models equals each model's full-graph forward (PyG), in chunks
and spilled to files; models that cannot be split are refused with one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv, to_hetero

from gnn_assets.layerwise.executor import LayerwiseExecutor, LayerwiseGraph, probe
from gnn_assets.layerwise.spill import SpillArea
from gnn_assets.layerwise.split import GraphSignature, UnsplittableModel, split_model
from gnn_assets.models.graphsage import GraphSAGE, HeteroGraphSAGE

CITES = ("paper", "cites", "paper")
HOMOGENEOUS = GraphSignature(("paper",), (CITES,), False)
TYPED_EDGES = (("user", "buys", "item"), ("item", "bought_by", "user"), ("user", "follows", "user"))
TYPED = GraphSignature(("user", "item"), TYPED_EDGES, True)


# A user's model, written here the way a user would: registered nowhere.
class ResidualJumpingKnowledge(nn.Module):
    """Input projection, three SAGE layers with residual connections, JK concatenation, head."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.project = nn.Linear(in_dim, hidden)
        self.convs = nn.ModuleList(SAGEConv(hidden, hidden) for _ in range(3))
        self.norm = nn.LayerNorm(hidden)
        self.out = nn.Linear(3 * hidden, out_dim)

    def forward(self, x, edge_index):
        h = torch.relu(self.project(x))
        layers = []
        for conv in self.convs:
            h = self.norm(torch.relu(conv(h, edge_index)) + h)
            layers.append(h)
        return self.out(torch.cat(layers, dim=-1))


class GCN(nn.Module):
    def __init__(self, in_dim, hidden, out_dim):
        super().__init__()
        self.conv1, self.conv2 = GCNConv(in_dim, hidden), GCNConv(hidden, out_dim)

    def forward(self, x, edge_index):
        return self.conv2(torch.relu(self.conv1(x, edge_index)), edge_index)


class GAT(nn.Module):
    def __init__(self, in_dim, hidden, out_dim):
        super().__init__()
        self.conv1 = GATConv(in_dim, hidden, heads=2)
        self.conv2 = GATConv(2 * hidden, out_dim, heads=1)

    def forward(self, x, edge_index):
        return self.conv2(torch.nn.functional.elu(self.conv1(x, edge_index)), edge_index)


class GIN(nn.Module):
    def __init__(self, in_dim, hidden, out_dim):
        super().__init__()
        mlp = lambda a, b: nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, b))  # noqa: E731
        self.conv1, self.conv2 = GINConv(mlp(in_dim, hidden), train_eps=True), GINConv(mlp(hidden, out_dim))

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


class SageForHetero(nn.Module):
    def __init__(self, hidden, out_dim):
        super().__init__()
        self.conv1, self.conv2 = SAGEConv((-1, -1), hidden), SAGEConv((-1, -1), out_dim)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def _graph(signature: GraphSignature, nodes: dict[str, int], dims: dict[str, int], seed: int = 0, degree: int = 6):
    rng = np.random.default_rng(seed)
    x = {t: torch.from_numpy(rng.standard_normal((nodes[t], dims[t])).astype(np.float32)) for t in signature.node_types}
    edge_index = {}
    for src, rel, dst in signature.edge_types:
        e = degree * nodes[dst]
        pairs = np.unique(np.stack([rng.integers(0, nodes[src], e), rng.integers(0, nodes[dst], e)]), axis=1)
        edge_index[(src, rel, dst)] = torch.from_numpy(pairs)
    return x, edge_index


def _forward(model, signature, x, edge_index):
    with torch.inference_mode():
        if signature.heterogeneous:
            return model(x, edge_index)
        return {signature.node_types[0]: model(x["paper"], edge_index[CITES])}


def _layerwise(model, signature, x, edge_index, *, chunk_nodes=None, budget_bytes=1 << 34, spill=None):
    program = split_model(model, signature)
    row_bytes = probe(program, model, {t: v.shape[1] for t, v in x.items()}, torch.device("cpu"))
    executor = LayerwiseExecutor(
        program, LayerwiseGraph.from_edge_index(x, edge_index), torch.device("cpu"),
        budget_bytes=budget_bytes, spill=spill, chunk_nodes=chunk_nodes, row_bytes=row_bytes, progress=lambda _: None,
    )
    with torch.inference_mode():
        return executor.run(), executor


def _seeded(factory):
    torch.manual_seed(0)
    return factory().eval()


HOMOGENEOUS_MODELS = {
    "graphsage": lambda: GraphSAGE(12, 32, 8, num_layers=3),
    "gcn": lambda: GCN(12, 32, 8),
    "gat": lambda: GAT(12, 16, 8),
    "gin": lambda: GIN(12, 32, 8),
    "residual_jk_user_model": lambda: ResidualJumpingKnowledge(12, 32, 8),
}


@pytest.mark.parametrize("name", HOMOGENEOUS_MODELS)
@pytest.mark.parametrize("chunk_nodes", [None, 37])
def test_homogeneous_models_match_full_graph_forward(name, chunk_nodes):
    model = _seeded(HOMOGENEOUS_MODELS[name])
    x, edge_index = _graph(HOMOGENEOUS, {"paper": 300}, {"paper": 12})
    expected = _forward(model, HOMOGENEOUS, x, edge_index)
    got, executor = _layerwise(model, HOMOGENEOUS, x, edge_index, chunk_nodes=chunk_nodes)
    torch.testing.assert_close(got["paper"], expected["paper"], atol=1e-4, rtol=1e-4)
    assert {s.chunks for s in executor.stats.stages} == ({1} if chunk_nodes is None else {9})


class GatForHetero(nn.Module):
    """Attention over each edge type's in-edges (bipartite: no self loops), no fused kernel."""

    def __init__(self, hidden, out_dim):
        super().__init__()
        self.conv1 = GATConv((-1, -1), hidden, heads=2, add_self_loops=False)
        self.conv2 = GATConv((-1, -1), out_dim, add_self_loops=False)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


HETERO_MODELS = {
    "hetero_graphsage": lambda: HeteroGraphSAGE({"user": 10, "item": 6}, list(TYPED_EDGES), 32, 8),
    "to_hetero": lambda: to_hetero(SageForHetero(32, 8), (["user", "item"], list(TYPED_EDGES)), aggr="sum"),
    "to_hetero_gat": lambda: to_hetero(GatForHetero(16, 8), (["user", "item"], list(TYPED_EDGES)), aggr="mean"),
}


@pytest.mark.parametrize("name", HETERO_MODELS)
@pytest.mark.parametrize("chunk_nodes", [None, 29])
def test_heterogeneous_models_match_full_graph_forward(name, chunk_nodes):
    model = _seeded(HETERO_MODELS[name])
    x, edge_index = _graph(TYPED, {"user": 200, "item": 120}, {"user": 10, "item": 6})
    if name.startswith("to_hetero"):  # lazy input sizes are set by a first forward
        _forward(model, TYPED, x, edge_index)
    expected = _forward(model, TYPED, x, edge_index)
    got, _ = _layerwise(model, TYPED, x, edge_index, chunk_nodes=chunk_nodes)
    for node_type in ("user", "item"):
        torch.testing.assert_close(got[node_type], expected[node_type], atol=1e-4, rtol=1e-4)


def test_states_larger_than_the_budget_spill_to_files_and_stay_exact(tmp_path):
    model = _seeded(HOMOGENEOUS_MODELS["residual_jk_user_model"])
    x, edge_index = _graph(HOMOGENEOUS, {"paper": 2000}, {"paper": 12})
    expected = _forward(model, HOMOGENEOUS, x, edge_index)
    spill = SpillArea(str(tmp_path / "states"))
    budget = 300_000  # the kept states need about 1 MB
    got, executor = _layerwise(model, HOMOGENEOUS, x, edge_index, budget_bytes=budget, spill=spill)
    assert executor.stats.spilled and executor.stats.states_bytes > budget
    assert executor.stats.spill_bytes >= executor.stats.states_bytes
    assert max(s.chunks for s in executor.stats.stages) > 1
    torch.testing.assert_close(got["paper"].clone(), expected["paper"], atol=1e-4, rtol=1e-4)
    spill.close()
    assert not (tmp_path / "states").exists()


class _OutOfMemoryOverChunks(SAGEConv):
    """Fails like a GPU out of memory for chunks of more than 50 destinations (the model's own
    full-graph forward, the oracle, passes)."""

    def forward(self, x, edge_index, size=None):
        if isinstance(x, tuple) and x[1].size(0) > 50:  # a chunk of the layer-wise pass
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return super().forward(x, edge_index, size)


def test_out_of_memory_shrinks_the_chunk_and_retries():
    torch.manual_seed(0)
    model = GraphSAGE(12, 16, 8).eval()
    model.convs[1] = _OutOfMemoryOverChunks(16, 8)
    x, edge_index = _graph(HOMOGENEOUS, {"paper": 300}, {"paper": 12})
    expected = _forward(model, HOMOGENEOUS, x, edge_index)
    got, executor = _layerwise(model, HOMOGENEOUS, x, edge_index, chunk_nodes=200)
    torch.testing.assert_close(got["paper"], expected["paper"], atol=1e-4, rtol=1e-4)
    assert executor.stats.oom_retries == 2  # 200 -> 100 -> 50


class _DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = SAGEConv(12, 8)

    def forward(self, x, edge_index):
        if x.sum() > 0:
            return self.conv(x, edge_index)
        return self.conv(-x, edge_index)


class _ReadsEdgesOutsideMessagePassing(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = SAGEConv(12, 8)

    def forward(self, x, edge_index):
        return self.conv(x + x[edge_index[0]].mean(), edge_index)


class _NormalizesOverAllNodes(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = SAGEConv(12, 8)

    def forward(self, x, edge_index):
        h = self.conv(x, edge_index)
        return h - h.mean(dim=0)


class _NoMessagePassing(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(12, 8)

    def forward(self, x, edge_index):
        return self.lin(x)


@pytest.mark.parametrize(
    "model, reason",
    [
        (_DataDependent(), "torch.fx cannot trace its forward"),
        (_ReadsEdgesOutsideMessagePassing(), "reads the edge index outside a message-passing module"),
        (_NormalizesOverAllNodes(), "differs from its own forward on a probe graph"),
        (_NoMessagePassing(), "has no message-passing module"),
    ],
)
def test_models_that_cannot_be_split_are_refused_in_one_line(model, reason):
    with pytest.raises(UnsplittableModel) as refused:
        program = split_model(model.eval(), HOMOGENEOUS)
        probe(program, model, {"paper": 12}, torch.device("cpu"))
    message = str(refused.value)
    assert reason in message and "\n" not in message
    assert type(model).__name__ in message
