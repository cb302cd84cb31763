"""Convolutions whose output depends on more than a destination's in-edges."""

from __future__ import annotations

from torch_geometric.nn import GCNConv


def is_normalized_gcn(module) -> bool:
    """GCNConv with its normalization on: each edge is weighted by both ends' degrees, so a
    node's output depends on its in-neighbours' degrees too."""
    return isinstance(module, GCNConv) and module.normalize
