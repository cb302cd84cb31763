"""Exact top-k destinations for source embeddings: the "model" of the link candidates stage.

The index holds every destination node's embedding (unit rows for cosine). A batch of sources
is scored against all of them with one matrix product per slice of destinations, pairs to leave
out (edges that already exist, a node with itself) are set to -inf, and torch.topk keeps the k
best of each slice, merged across slices; a source with fewer than k eligible destinations
gets fewer rows. Exact: no approximate index, ties broken by the lower destination id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gnn_assets.graph.csr import InEdges

SCORE_BYTES_PER_SLICE = 64 << 20  # the scores of one batch against one slice of destinations


@dataclass
class Candidates:
    src: np.ndarray  # int64 [rows]: enumerated source ids
    dst: np.ndarray  # int64 [rows]
    score: np.ndarray  # float32 [rows]
    rank: np.ndarray  # int32 [rows]: 1 for the best destination of a source


class CandidateIndex:
    def __init__(
        self,
        destinations: torch.Tensor,
        k: int,
        *,
        cosine: bool = False,
        exclude: InEdges | None = None,
        exclude_self: bool = False,
        absent: np.ndarray | None = None,
    ):
        """destinations: [num_dst, dim], row i for destination id i. exclude: for each source id,
        the destination ids to leave out (a CSR by source). exclude_self: source and destination
        are one node type, and a node is not its own candidate. absent: destination ids that have
        no embedding (their rows are placeholders), never candidates."""
        self.destinations = torch.nn.functional.normalize(destinations, dim=1) if cosine else destinations
        self.k, self.cosine, self.exclude, self.exclude_self = k, cosine, exclude, exclude_self
        self.absent = torch.from_numpy(np.asarray(absent if absent is not None else [], dtype=np.int64))

    @property
    def num_destinations(self) -> int:
        return self.destinations.shape[0]

    def _excluded(self, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row in the batch, destination id) pairs to leave out."""
        rows, cols = [], []
        if self.exclude is not None:
            starts, ends = self.exclude.indptr[sources], self.exclude.indptr[sources + 1]
            counts = ends - starts
            rows.append(np.repeat(np.arange(len(sources)), counts))
            offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
            cols.append(self.exclude.sources[offsets])
        if self.exclude_self:
            keep = sources < self.num_destinations
            rows.append(np.flatnonzero(keep))
            cols.append(sources[keep])
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(rows), np.concatenate(cols)

    def top_k(self, sources: np.ndarray, queries: torch.Tensor) -> Candidates:
        """The k best destinations of each source (enumerated id sources[i], embedding queries[i])."""
        if self.cosine:
            queries = torch.nn.functional.normalize(queries, dim=1)
        n = len(sources)
        k = min(self.k, self.num_destinations)
        excluded_rows, excluded_cols = self._excluded(sources)
        slice_rows = max(k, SCORE_BYTES_PER_SLICE // 4 // max(n, 1))
        best_scores = torch.full((n, 0), -torch.inf)
        best_ids = torch.zeros((n, 0), dtype=torch.int64)
        for start in range(0, self.num_destinations, slice_rows):
            stop = min(start + slice_rows, self.num_destinations)
            scores = queries @ self.destinations[start:stop].T
            inside = (excluded_cols >= start) & (excluded_cols < stop)
            scores[torch.from_numpy(excluded_rows[inside]), torch.from_numpy(excluded_cols[inside] - start)] = -torch.inf
            if len(self.absent):
                gone = self.absent[(self.absent >= start) & (self.absent < stop)]
                scores[:, gone - start] = -torch.inf
            top = torch.topk(scores, min(k, stop - start), dim=1, sorted=False)
            best_scores = torch.cat([best_scores, top.values], dim=1)
            best_ids = torch.cat([best_ids, top.indices + start], dim=1)
            if best_scores.shape[1] > k:
                # Keep the k best so far; equal scores keep the lower id (a stable order by id first).
                order = torch.argsort(best_ids, dim=1)
                best_scores, best_ids = best_scores.gather(1, order), best_ids.gather(1, order)
                keep = torch.topk(best_scores, k, dim=1, sorted=False).indices
                best_scores, best_ids = best_scores.gather(1, keep), best_ids.gather(1, keep)
        # Best first; among equal scores the lower destination id first.
        order = np.lexsort((best_ids.numpy(), -best_scores.numpy()), axis=1) if n else np.zeros((0, 0), np.int64)
        scores = np.take_along_axis(best_scores.numpy(), order, axis=1)
        ids = np.take_along_axis(best_ids.numpy(), order, axis=1)
        ranks = np.broadcast_to(np.arange(1, scores.shape[1] + 1, dtype=np.int32), scores.shape)
        eligible = np.isfinite(scores)
        return Candidates(
            src=np.broadcast_to(sources[:, None], scores.shape)[eligible].astype(np.int64),
            dst=ids[eligible].astype(np.int64),
            score=scores[eligible].astype(np.float32),
            rank=ranks[eligible],
        )
