"""The models and random graphs the layer-wise split is tested on (homogeneous and typed), each
model's own forward, and seeded construction."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv, to_hetero

from gnn_assets.layerwise.split import GraphSignature
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


def random_graph(signature: GraphSignature, nodes: dict[str, int], dims: dict[str, int], seed: int = 0, degree: int = 6):
    rng = np.random.default_rng(seed)
    x = {t: torch.from_numpy(rng.standard_normal((nodes[t], dims[t])).astype(np.float32)) for t in signature.node_types}
    edge_index = {}
    for src, rel, dst in signature.edge_types:
        e = degree * nodes[dst]
        pairs = np.unique(np.stack([rng.integers(0, nodes[src], e), rng.integers(0, nodes[dst], e)]), axis=1)
        edge_index[(src, rel, dst)] = torch.from_numpy(pairs)
    return x, edge_index


def forward_by_model(model, signature, x, edge_index):
    with torch.inference_mode():
        if signature.heterogeneous:
            return model(x, edge_index)
        return {signature.node_types[0]: model(x["paper"], edge_index[CITES])}


def seeded(factory):
    torch.manual_seed(0)
    return factory().eval()


HOMOGENEOUS_MODELS = {
    "graphsage": lambda: GraphSAGE(12, 32, 8, num_layers=3),
    "gcn": lambda: GCN(12, 32, 8),
    "gat": lambda: GAT(12, 16, 8),
    "gin": lambda: GIN(12, 32, 8),
    "residual_jk_user_model": lambda: ResidualJumpingKnowledge(12, 32, 8),
}


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
