"""The distinct node ids of an array of ids, sorted, with each entry's position among them.

np.unique sorts the whole array: about half a second for the million gathered sources of a
layer-wise chunk. Ids are enumerated (0 .. bound), so where the array is not much smaller than
the id range, marking the ids in a table of the range finds the same answer in one pass; small
arrays out of a large range are still sorted, so the work follows the array, not the graph.
"""

from __future__ import annotations

import numpy as np

_RANGE_PER_VALUE = 8  # a table of the id range when it is at most this many times the array


def distinct_with_inverse(ids: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct, inverse): the sorted distinct ids (all in [0, bound)) and, per entry of `ids`,
    its position in `distinct`, so that distinct[inverse] == ids; as np.unique(ids,
    return_inverse=True) answers."""
    ids = np.asarray(ids).reshape(-1)
    if len(ids) == 0 or bound > _RANGE_PER_VALUE * len(ids):
        distinct, inverse = np.unique(ids, return_inverse=True)
        return distinct, inverse.reshape(-1)
    seen = np.zeros(bound, dtype=bool)
    seen[ids] = True
    distinct = np.flatnonzero(seen).astype(ids.dtype, copy=False)
    position = np.empty(bound, dtype=np.int64)
    position[distinct] = np.arange(len(distinct), dtype=np.int64)
    return distinct, position[ids]
