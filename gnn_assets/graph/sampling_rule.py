"""The one sampling rule of batch inference and the server: bottom-k of a seeded hash per edge.

Each edge (u -> v) of an edge type gets a 64-bit priority, a seeded hash of (edge type, u, v);
a node's sampled in-edges at a hop with fanout k are its k in-edges of smallest priority (ties,
which need a 64-bit collision, broken by the source id). The rule is a function of the graph
and the seed alone: the LOCAL sampler, the BEAM sampler on any number of workers and the
real-time server pick the same neighbours for a node, wherever it appears (a root, a hop-2
neighbour of another root); and bottom-k merges (the k smallest of a union are the k smallest
of the parts' k smallest), so a node with millions of in-edges is sampled by a combiner without
any worker holding its edges. A priority is a uniformly random draw, so a node's k sampled
in-edges are a uniform sample without replacement, as GiGL's random uniform sampling is.
"""

from __future__ import annotations

import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer over uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def edge_type_salt(seed: int, edge_type: tuple[str, str, str]) -> np.uint64:
    """The seed and the edge type's name as one 64-bit value (the same in every process)."""
    digest = hashlib.sha256(f"{seed}\x00{'-'.join(edge_type)}".encode()).digest()
    return np.uint64(int.from_bytes(digest[:8], "little"))


def edge_priorities(seed: int, edge_type: tuple[str, str, str], src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Each edge's priority (uint64): the smaller, the earlier it is sampled."""
    salt = edge_type_salt(seed, edge_type)
    h = _splitmix64(np.asarray(src, dtype=np.int64).view(np.uint64) ^ salt)
    return _splitmix64(h ^ np.asarray(dst, dtype=np.int64).view(np.uint64))


def priority_order(priority: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Edge positions grouped by destination, each group in sampling order (priority, then source)."""
    return np.lexsort((np.asarray(src), priority, np.asarray(dst)))
