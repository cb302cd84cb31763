"""Each edge type's out-edges by source (an out-edge CSR), written by the enumeration beside the
edges file as it streams the edges in (src, dst) order:

  out_edges_<src>-<relation>-<dst>.indptr.i64   num_src + 1 int64: source s's out-edges are
                                                destinations[indptr[s]:indptr[s + 1]]
  out_edges_<src>-<relation>-<dst>.dst.i64      the destinations, int64

An incremental job's plan asks for the out-neighbours of the nodes a stage recomputes: read here,
that is work in proportion to those nodes' out-degrees, where the in-edges had to be scanned
whole (one pass over every edge, and 8 bytes per edge held for it). Local files are memory-mapped;
in remote storage (nothing to map) they are read whole.
"""

from __future__ import annotations

import numpy as np

from gnn_assets import storage
from gnn_assets.errors import UserError
from gnn_assets.graph.enumerated_layout import EdgeTypeKey, edge_type_name

_INT64 = np.dtype("<i8")


def out_edges_uris(directory: str, key: EdgeTypeKey) -> tuple[str, str]:
    """(indptr, destinations) files of one edge type."""
    stem = storage.join(directory, f"out_edges_{edge_type_name(key)}")
    return f"{stem}.indptr.i64", f"{stem}.dst.i64"


class OutEdgesWriter:
    """Takes the edges of one type in (src, dst) order, a batch at a time; writes the
    destinations as they come and the indptr when it closes (it holds 8 bytes per source)."""

    def __init__(self, directory: str, key: EdgeTypeKey, num_src: int):
        self._uris = out_edges_uris(directory, key)
        self._counts = np.zeros(num_src, dtype=np.int64)
        self._last_src = -1
        self._destinations = storage.open_write(self._uris[1])

    def write(self, src: np.ndarray, dst: np.ndarray) -> None:
        src = np.asarray(src, dtype=np.int64)
        if len(src):
            if src[0] < self._last_src or np.any(src[1:] < src[:-1]):
                raise ValueError("out-edges are written in source order")  # the enumeration's own order: a bug if not
            self._last_src = int(src[-1])
            self._counts += np.bincount(src, minlength=len(self._counts))
        self._destinations.write(memoryview(np.ascontiguousarray(dst, dtype=_INT64)).cast("B"))

    def __enter__(self) -> "OutEdgesWriter":
        return self

    def __exit__(self, kind, *exc) -> None:
        self._destinations.close()
        if kind is None:
            indptr = np.concatenate([np.zeros(1, np.int64), np.cumsum(self._counts)])
            storage.write_bytes(self._uris[0], indptr.astype(_INT64).tobytes())


class OutEdges:
    """One edge type's out-edge CSR."""

    def __init__(self, indptr: np.ndarray, destinations: np.ndarray, uri: str):
        self.indptr, self.destinations, self.uri = indptr, destinations, uri

    def neighbours(self, sources: np.ndarray) -> np.ndarray:
        """The destinations of every out-edge of `sources` (each source's in turn; repeats kept)."""
        sources = np.asarray(sources, dtype=np.int64)
        starts, stops = self.indptr[sources], self.indptr[sources + 1]
        lengths = stops - starts
        # Checked where read (a check of every source would be a pass over the graph): a run that
        # ends before it starts, or lies outside the destinations, would gather wrong rows.
        if len(sources) and (np.any(lengths < 0) or starts.min() < 0 or stops.max() > len(self.destinations)):
            raise UserError(
                f"{self.uri}: its indptr decreases or points outside its {len(self.destinations):,} destinations; enumerate the graph again"
            )
        total = int(lengths.sum())
        if not total:
            return np.zeros(0, np.int64)
        # Position k of the answer is starts[i] + (k - where source i's run begins).
        begins = np.cumsum(lengths) - lengths
        return np.asarray(self.destinations[np.repeat(starts - begins, lengths) + np.arange(total)], dtype=np.int64)


def _array(uri: str, count: int) -> np.ndarray:
    """The file's `count` int64 values (its size checked already): mapped, or read where remote."""
    if storage.is_remote(uri):
        return np.frombuffer(storage.read_bytes(uri), dtype=_INT64)
    if count == 0:
        return np.zeros(0, np.int64)  # an empty file cannot be mapped
    return np.memmap(uri, dtype=_INT64, mode="r", shape=(count,))


def open_out_edges(directory: str, key: EdgeTypeKey, num_src: int) -> OutEdges | None:
    """The enumeration's out-edges of one type; None where it wrote none (made by an earlier
    version); refused in one line where the files disagree with each other or the graph."""
    indptr_uri, dst_uri = out_edges_uris(directory, key)
    if not (storage.exists(indptr_uri) and storage.exists(dst_uri)):
        return None
    size = storage.size(indptr_uri)
    if size != 8 * (num_src + 1):
        raise UserError(f"{indptr_uri}: holds {size:,} bytes, {num_src:,} sources need {8 * (num_src + 1):,}; enumerate the graph again")
    indptr = np.asarray(_array(indptr_uri, num_src + 1))
    edges, held = int(indptr[-1]), storage.size(dst_uri)
    if held != 8 * edges or indptr[0] != 0:
        raise UserError(f"{dst_uri}: holds {held:,} bytes, its indptr says {edges:,} edges; enumerate the graph again")
    return OutEdges(indptr, _array(dst_uri, edges), dst_uri)
