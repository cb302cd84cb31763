"""Models under test, named by class path in task configs (allowedClassPrefixes [gnn_assets., tests.]):
two-layer node classifiers of every convolution the incremental and BEAM engines must handle,
and the link prediction task's layers as a to_hetero model."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv, to_hetero

from gnn_assets.inference.protocol import LayerwiseModel
from gnn_assets.inference.task_specs import (
    NodeAnchorBasedLinkPredictionTaskSpec,
    NodeClassificationTaskSpec,
)

HIDDEN = 16


def _conv(kind: str, in_dim: int, out_dim: int) -> nn.Module:
    if kind == "sage_mean":
        return SAGEConv(in_dim, out_dim)
    if kind == "sage_max":
        return SAGEConv(in_dim, out_dim, aggr="max")
    if kind == "gin":
        return GINConv(nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU(), nn.Linear(out_dim, out_dim)))
    if kind == "gat":
        return GATConv(in_dim, out_dim, heads=1)
    if kind == "gcn":
        return GCNConv(in_dim, out_dim)
    raise ValueError(kind)


class _TwoLayers(nn.Module):
    def __init__(self, kind: str, in_dim: int, out_dim: int):
        super().__init__()
        self.first, self.second = _conv(kind, in_dim, HIDDEN), _conv(kind, HIDDEN, out_dim)

    def forward(self, x, edge_index):
        return self.second(self.first(x, edge_index).relu(), edge_index)


class _ConvSpec(NodeClassificationTaskSpec):
    kind = "sage_mean"

    def layerwise_model(self) -> LayerwiseModel:
        torch.manual_seed(0)  # the same layers for every job of the same model file
        return LayerwiseModel(_TwoLayers(self.kind, self.types.feature_dims[0], self.out_dim).eval(), head=self.model.head)


class SageMaxSpec(_ConvSpec):
    kind = "sage_max"


class GinSpec(_ConvSpec):
    kind = "gin"


class GatSpec(_ConvSpec):
    kind = "gat"


class GcnSpec(_ConvSpec):
    kind = "gcn"


SPECS = {"sage_mean": "gnn_assets.inference.task_specs.NodeClassificationTaskSpec", "sage_max": "tests.support.models.SageMaxSpec",
         "gin": "tests.support.models.GinSpec", "gat": "tests.support.models.GatSpec",
         "gcn": "tests.support.models.GcnSpec"}


class _SageForHetero(nn.Module):
    def __init__(self, out_dim: int):
        super().__init__()
        self.conv1, self.conv2 = SAGEConv((-1, -1), HIDDEN), SAGEConv((-1, -1), out_dim)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


class ToHeteroSpec(NodeAnchorBasedLinkPredictionTaskSpec):
    """The link prediction task's layers as a to_hetero model (summed over edge types)."""

    def layerwise_model(self) -> LayerwiseModel:
        torch.manual_seed(0)
        types = self.types
        model = to_hetero(_SageForHetero(self.out_dim), (list(types.node_types), list(types.edge_types)), aggr="sum").eval()
        x = {t: torch.zeros(2, d) for t, d in zip(types.node_types, types.feature_dims)}
        with torch.no_grad():  # lazy input sizes are set by a first forward
            model(x, {k: torch.zeros(2, 0, dtype=torch.long) for k in types.edge_types})
        return LayerwiseModel(model)


class _CentredSage(nn.Module):
    """Subtracts the mean over all nodes: nothing a layer over one chunk of nodes can compute."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.conv = SAGEConv(in_dim, out_dim)

    def forward(self, x, edge_index):
        h = self.conv(x, edge_index)
        return h - h.mean(dim=0)


class UnsplittableTaskSpec(NodeClassificationTaskSpec):
    """The built-in classifier whose layer-wise model centres its embeddings over all nodes."""

    def layerwise_model(self) -> LayerwiseModel:
        torch.manual_seed(0)
        conv_in = self.types.feature_dims[0]
        return LayerwiseModel(_CentredSage(conv_in, self.out_dim).eval(), head=self.model.head)
