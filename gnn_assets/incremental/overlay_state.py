"""A layer state of an incremental job: the rows it recomputes, held in memory, over the base's
kept rows, read by id where a chunk gathers them. Nothing is copied for the nodes the change does
not reach: the executor reads and writes it as it does a state tensor (rows by index)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch


class OverlayState:
    """Rows `ids` (sorted) computed by this job; every other row is base_rows(ids)."""

    device = torch.device("cpu")

    def __init__(self, ids: np.ndarray, num_rows: int, row_shape: tuple, dtype: torch.dtype, base_rows: Callable[[np.ndarray, np.ndarray], None]):
        """base_rows(ids, out): the base's rows of those ids written into out."""
        self.ids = np.asarray(ids, dtype=np.int64)
        self.values = torch.zeros((len(self.ids), *row_shape), dtype=dtype)
        self.shape = torch.Size((num_rows, *row_shape))
        self.dtype = dtype
        self._base_rows = base_rows

    def _positions(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(where each id is among the recomputed rows, whether it is one)."""
        if not len(self.ids):
            return np.zeros(len(ids), np.int64), np.zeros(len(ids), bool)
        at = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return at, self.ids[at] == ids

    @staticmethod
    def _as_ids(index) -> np.ndarray:
        if isinstance(index, slice):
            return np.arange(*index.indices(np.iinfo(np.int64).max), dtype=np.int64)
        return index.numpy() if isinstance(index, torch.Tensor) else np.asarray(index, dtype=np.int64)

    def __getitem__(self, index) -> torch.Tensor:
        ids = self._as_ids(index)
        at, mine = self._positions(ids)
        if mine.all():
            return self.values[torch.from_numpy(at)]
        # Every row from the base (one gather into place, a few rows read for nothing), then
        # this job's rows over them.
        out = torch.empty((len(ids), *self.shape[1:]), dtype=self.dtype)
        self._base_rows(ids, out.numpy())
        if mine.any():
            out[torch.from_numpy(np.flatnonzero(mine))] = self.values[torch.from_numpy(at[mine])]
        return out

    def __setitem__(self, index, value: torch.Tensor) -> None:
        ids = self._as_ids(index)
        at, mine = self._positions(ids)
        if not mine.all():
            raise IndexError(f"{int((~mine).sum())} rows written that the plan does not recompute")
        self.values[torch.from_numpy(at)] = value.to(self.dtype)

    def all_rows(self, batch: int = 65_536):
        """(ids, rows) of every node, in id order, a batch at a time."""
        for start in range(0, self.shape[0], batch):
            ids = np.arange(start, min(start + batch, self.shape[0]), dtype=np.int64)
            yield ids, self[ids]

    def cpu(self) -> "OverlayState":
        return self

    def to(self, device) -> "OverlayState":
        if torch.device(device).type != "cpu":
            raise ValueError("an incremental job's states stay on the host; their rows travel with each chunk")
        return self
