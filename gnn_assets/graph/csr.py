"""In-edges per destination node (CSR), per edge type of an enumerated graph.

Layer-wise inference reads, for a chunk of destination nodes, all their in-edges at once:
`sources[indptr[v]:indptr[v + 1]]` are the sources of node v. Built once per graph from the
enumerated edges and cached next to them (`csr/<src>-<relation>-<dst>.npz`), tagged with the
edges file's version, so a re-enumerated graph rebuilds its cache instead of reading a stale one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from gnn_assets import storage
from gnn_assets.graph.enumerated_layout import EdgeTypeKey, edge_type_name, edges_uri
from gnn_assets.graph.source import GraphSourceError


@dataclass(frozen=True)
class InEdges:
    indptr: np.ndarray  # int64 [num_dst + 1]
    sources: np.ndarray  # int64 [num_edges], grouped by destination, ascending within each

    @property
    def num_dst(self) -> int:
        return len(self.indptr) - 1

    @property
    def num_edges(self) -> int:
        return len(self.sources)

    @property
    def nbytes(self) -> int:
        return self.indptr.nbytes + self.sources.nbytes

    def positions(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """In-edges of the destinations `ids` (any int ids, in the order given): (their positions
        in `sources`, destinations counted in that order, the CSR offsets of that selection)."""
        lo = self.indptr[ids]
        degrees = self.indptr[ids + 1] - lo
        indptr = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(degrees, out=indptr[1:])
        positions = np.repeat(lo - indptr[:-1], degrees) + np.arange(indptr[-1], dtype=np.int64)
        return positions, np.repeat(np.arange(len(ids), dtype=np.int64), degrees), indptr


def build_in_edges(src: np.ndarray, dst: np.ndarray, num_dst: int) -> InEdges:
    order = np.lexsort((src, dst))
    indptr = np.zeros(num_dst + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=num_dst), out=indptr[1:])
    return InEdges(indptr, np.ascontiguousarray(src[order], dtype=np.int64))


def _cache_uri(directory: str, key: EdgeTypeKey) -> str:
    return storage.join(directory, "csr", f"{edge_type_name(key)}.npz")


def _edges_version(uri: str) -> str:
    versions = storage.file_versions(uri)
    return versions[0].version if versions else ""


def load_in_edges(directory: str, key: EdgeTypeKey, num_src: int, num_dst: int) -> InEdges:
    """The cached CSR of one edge type when it was built from the current edges file, else built
    (and cached) now."""
    edges = edges_uri(directory, key)
    version = _edges_version(edges)
    cache = _cache_uri(directory, key)
    if storage.exists(cache):
        with np.load(io.BytesIO(storage.read_bytes(cache))) as data:
            if str(data["edges_version"]) == version and len(data["indptr"]) == num_dst + 1:
                return InEdges(data["indptr"], data["sources"])
    table = storage.read_parquet(edges)
    src, dst = table["src"].to_numpy(), table["dst"].to_numpy()
    if len(src) and (src.min() < 0 or src.max() >= num_src or dst.min() < 0 or dst.max() >= num_dst):
        raise GraphSourceError(f"{edges}: edge ends outside 0..{num_src - 1} / 0..{num_dst - 1}; enumerate the graph again")
    csr = build_in_edges(src, dst, num_dst)
    buffer = io.BytesIO()
    np.savez(buffer, indptr=csr.indptr, sources=csr.sources, edges_version=np.array(version))
    storage.replace_atomically(cache, buffer.getvalue())  # two jobs may build it at once
    return csr
