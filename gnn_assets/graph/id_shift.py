"""How enumerated ids move from one enumeration of a graph to the next.

GiGL's rule numbers a node type's nodes in node_id order (int_id = its rank), so between two
enumerations the nodes present in both keep their order: a node's new id is its old id, less
the removed nodes before it, plus the added nodes before it. The shift is therefore held as the
sorted added ids (new numbering) and removed ids (old numbering) alone, O(change) whatever the
graph's size, and maps any ids either way by binary search.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


def _survivor(ranks: np.ndarray, gone: np.ndarray) -> np.ndarray:
    """The id of the survivor of each rank, where `gone` (sorted) are the ids that did not survive."""
    return ranks + np.searchsorted(gone - np.arange(len(gone), dtype=np.int64), ranks, side="right")


def _member(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[at] == ids


@dataclass(frozen=True)
class IdShift:
    num_old: int
    num_new: int
    added: np.ndarray  # new ids of the nodes the old numbering does not have, sorted
    removed: np.ndarray  # old ids of the nodes the new numbering does not have, sorted

    def __post_init__(self):
        if self.num_old - len(self.removed) != self.num_new - len(self.added):
            raise ValueError(f"an id shift of {self.num_old:,} -> {self.num_new:,} nodes cannot add {len(self.added):,} and remove {len(self.removed):,}")

    @classmethod
    def identity(cls, num_nodes: int) -> "IdShift":
        return cls(num_nodes, num_nodes, _empty(), _empty())

    @property
    def is_identity(self) -> bool:
        return not len(self.added) and not len(self.removed)

    def old_of_new(self, ids: np.ndarray) -> np.ndarray:
        """The old id of each new id; -1 for added nodes."""
        return self._moved(ids, arrived=self.added, left=self.removed)

    def new_of_old(self, ids: np.ndarray) -> np.ndarray:
        """The new id of each old id; -1 for removed nodes."""
        return self._moved(ids, arrived=self.removed, left=self.added)

    def _moved(self, ids: np.ndarray, arrived: np.ndarray, left: np.ndarray) -> np.ndarray:
        """Ids of one numbering in the other, where `arrived` (sorted) are the ids only the first
        numbering has (-1 for them) and `left` those only the other has: the same rank among the
        nodes both have. Either direction is this one mapping with the roles swapped."""
        ids = np.asarray(ids, dtype=np.int64)
        if self.is_identity:
            return ids.copy()
        out = _survivor(ids - np.searchsorted(arrived, ids), left)
        out[_member(arrived, ids)] = -1
        return out

    def then(self, later: "IdShift") -> "IdShift":
        """This shift followed by `later` (from this one's new numbering on), as one shift."""
        if later.num_old != self.num_new:
            raise ValueError(f"cannot follow an id shift to {self.num_new:,} nodes with one from {later.num_old:,}")
        survived = later.new_of_old(self.added)
        added = np.union1d(later.added, survived[survived >= 0])
        before = self.old_of_new(later.removed)
        removed = np.union1d(self.removed, before[before >= 0])
        return IdShift(self.num_old, later.num_new, added, removed)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, sizes=np.array([self.num_old, self.num_new], dtype=np.int64), added=self.added, removed=self.removed)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "IdShift":
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            num_old, num_new = (int(v) for v in arrays["sizes"])
            return cls(num_old, num_new, arrays["added"].astype(np.int64), arrays["removed"].astype(np.int64))
