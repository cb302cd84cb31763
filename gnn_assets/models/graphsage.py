"""GraphSAGE encoders (mean aggregation by default), homogeneous and heterogeneous, plus a classifier."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import HeteroConv, SAGEConv

from gnn_assets.graph.enumerated_layout import EdgeTypeKey


class GraphSAGE(nn.Module):
    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2, aggr: str = "mean"):
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.convs = nn.ModuleList(SAGEConv(a, b, aggr=aggr) for a, b in zip(dims[:-1], dims[1:]))

    @property
    def out_dim(self) -> int:
        return self.convs[-1].out_channels

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(self.convs):
            x = conv(x, edge_index)
            if i < len(self.convs) - 1:
                x = torch.relu(x)
        return x


class HeteroGraphSAGE(nn.Module):
    """One SAGEConv per edge type and layer; messages into a node type are summed over edge types.

    Every node type needs at least one incoming edge type, or it would get no representation.
    """

    def __init__(
        self,
        in_dims: dict[str, int],
        edge_types: list[EdgeTypeKey],
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        aggr: str = "mean",
    ):
        super().__init__()
        receivers = {dst for _, _, dst in edge_types}
        missing = sorted(set(in_dims) - receivers)
        if missing:
            raise ValueError(f"node types {missing} have no incoming edge type, so HeteroGraphSAGE cannot embed them")
        self.node_types = list(in_dims)
        self.convs = nn.ModuleList()
        dims = dict(in_dims)
        for layer in range(num_layers):
            width = out_dim if layer == num_layers - 1 else hidden_dim
            self.convs.append(
                HeteroConv({et: SAGEConv((dims[et[0]], dims[et[2]]), width, aggr=aggr) for et in edge_types}, aggr="sum")
            )
            dims = {t: width for t in dims}
        self.out_dim = out_dim

    def forward(self, x_dict: dict[str, torch.Tensor], edge_index_dict: dict[EdgeTypeKey, torch.Tensor]) -> dict[str, torch.Tensor]:
        for i, conv in enumerate(self.convs):
            x_dict = conv(x_dict, edge_index_dict)
            if i < len(self.convs) - 1:
                x_dict = {t: torch.relu(x) for t, x in x_dict.items()}
        return x_dict


class NodePredictor(nn.Module):
    """An encoder whose embeddings feed a linear head: a score per class, or (num_classes=1,
    node regression) one value per node."""

    def __init__(self, encoder: nn.Module, num_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.out_dim, num_classes)


class EdgePredictor(nn.Module):
    """An encoder whose two ends' embeddings score an edge: an MLP over their concatenation (a
    score per class, or one value), or (decoder 'dot') their dot product as the one value."""

    def __init__(self, encoder: nn.Module, outputs: int, hidden_dim: int, decoder: str = "mlp"):
        super().__init__()
        self.encoder = encoder
        self.decoder_kind = decoder
        if decoder == "mlp":
            width = encoder.out_dim
            self.decoder = nn.Sequential(nn.Linear(2 * width, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, outputs))

    def score(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """[edges, outputs] from the [edges, d] embeddings of each edge's src and dst."""
        if self.decoder_kind == "dot":
            return (src * dst).sum(dim=-1, keepdim=True)
        return self.decoder(torch.cat([src, dst], dim=-1))
