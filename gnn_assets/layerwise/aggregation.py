"""Aggregations a message-passing call can compute in parts, and a chunk's aggregates computed
with its sources' states streamed in order (ATLAS's destination blocks, sources streamed).

A call whose messages are its sources' states and whose aggregation is a sum, mean, max or min
(SAGEConv without projection, GraphConv, GINConv) gives every destination the same result
whether its in-edges are aggregated at once or in parts combined afterwards: engine BEAM sends
such parts across the shuffle (blocks.py), and engine LOCAL, when the states are files larger
than memory, reads a chunk's sources a slab of consecutive rows at a time, in file order,
instead of gathering them at random (aggregate_streamed).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch_geometric.nn import GINConv, GraphConv, SAGEConv

_PARTIAL_CONVS = (SAGEConv, GraphConv, GINConv)
_AGGREGATIONS = {"mean": "mean", "add": "sum", "sum": "sum", "max": "max", "min": "min"}


def partial_aggregation(module) -> str | None:
    """The aggregation a call's messages can be combined with in parts ("sum", "mean", "max",
    "min"), or None when its destinations need their in-edges themselves."""
    if not isinstance(module, _PARTIAL_CONVS) or getattr(module, "project", False):
        return None
    aggr = getattr(module, "aggr", None)
    return _AGGREGATIONS.get(aggr) if isinstance(aggr, str) else None


def empty_aggregate(shape: tuple[int, ...], kind: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Aggregates before any message: zeros for sums and means, -inf (+inf) for maxima (minima)."""
    if kind in ("sum", "mean"):
        return torch.zeros(shape, dtype=dtype)
    return torch.full(shape, -torch.inf if kind == "max" else torch.inf, dtype=dtype)


def add_messages(aggregate: torch.Tensor, index: torch.Tensor, messages: torch.Tensor, kind: str) -> torch.Tensor:
    """Message i added into aggregate[index[i]], in order (a sum for sums and means)."""
    if kind in ("sum", "mean"):
        return aggregate.index_add_(0, index, messages)
    expanded = index.long().view(-1, *([1] * (messages.dim() - 1))).expand_as(messages)
    return aggregate.scatter_reduce_(0, expanded, messages, "amax" if kind == "max" else "amin")


def aggregate_streamed(
    x: torch.Tensor,
    sources: np.ndarray,
    local_dst: np.ndarray,
    num_dst: int,
    kind: str,
    slab_rows: int,
    read: Callable[[int, int, tuple[int, int] | None], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, np.ndarray]:
    """Each destination's aggregate of its sources' rows of x, and its in-degree.

    sources[i] -> local_dst[i] are the chunk's in-edges, grouped by destination with sources
    ascending within each (the CSR's order). x is read slab_rows consecutive rows at a time, in
    ascending order, and only slabs some edge reads; a destination's messages are added in the
    CSR's order, as a whole-graph call adds them. read(lo, hi, following) gives rows lo..hi-1 of
    x, told the next slab's rows (None after the last) so that a file-backed x can be read ahead
    (default: x[lo:hi]). At most slab_rows messages are held at once. A destination without
    in-edges gets zeros."""
    read = read or (lambda lo, hi, following: x[lo:hi])
    degrees = np.bincount(local_dst, minlength=num_dst)
    aggregate = empty_aggregate((num_dst, *x.shape[1:]), kind, x.dtype)
    if len(sources):
        slab = sources // slab_rows
        num_slabs = int(slab.max()) + 1
        # A stable sort of small integer keys is a radix sort: linear in the edges.
        keys = slab.astype(np.uint16) if num_slabs <= np.iinfo(np.uint16).max else slab
        order = np.argsort(keys, kind="stable")
        bounds = np.zeros(num_slabs + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys, minlength=num_slabs), out=bounds[1:])
        del slab
        used = np.flatnonzero(np.diff(bounds)).tolist()
        slabs = [(k * slab_rows, min((k + 1) * slab_rows, x.shape[0])) for k in used]
        for k, (lo, hi), following in zip(used, slabs, [*slabs[1:], None]):
            rows = read(lo, hi, following)
            for first in range(bounds[k], bounds[k + 1], slab_rows):  # at most a slab's bytes of messages at once
                edges = order[first : min(first + slab_rows, bounds[k + 1])]
                add_messages(aggregate, torch.from_numpy(local_dst[edges]), rows[torch.from_numpy(sources[edges] - lo)], kind)
    if kind == "mean":
        aggregate /= torch.from_numpy(np.maximum(degrees, 1)).to(x.dtype).view(-1, *([1] * (aggregate.dim() - 1)))
    elif kind in ("max", "min"):
        aggregate[torch.from_numpy(degrees == 0)] = 0
    return aggregate, degrees
