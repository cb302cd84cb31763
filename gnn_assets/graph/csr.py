"""In-edges per destination node (CSR), per edge type of an enumerated graph.

Layer-wise inference reads, for a chunk of destination nodes, all their in-edges at once:
`sources[indptr[v]:indptr[v + 1]]` are the sources of node v, ascending. Built once per graph
from the enumerated edges and cached next to them (`csr/<src>-<relation>-<dst>/indptr.npy` and
`sources.npy`, then `version.json` naming the edges file's version, written last), so a
re-enumerated graph rebuilds its cache instead of reading a stale one.

The build never holds every edge: a counting sort over the edges file read a row group at a
time, one pass for the in-degrees, then one pass per block of destinations whose in-edges fit
the memory it is given (ATLAS's destination blocks, sources streamed), each block written to
the file in order. It holds 8 bytes per destination node (indptr) besides that block. Readers
map the files (copy-on-write, read-only in effect): the kernel pages them in and out, and
release_pages() drops the pages a chunk touched, so a CSR larger than memory is read like one
in memory. Where the graph lies in object storage (which cannot be mapped), the cache is a
local folder under the system's temporary directory, keyed by the edges file's version.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field

import numpy as np
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.graph.enumerated_layout import EdgeTypeKey, edge_type_name, edges_uri
from gnn_assets.graph.source import GraphSourceError

BUILD_BYTES = 256 << 20  # default memory of a build's block of destinations
_READ_ROWS = 1 << 21  # edges decoded at a time
_VERSION = "version.json"


@dataclass(frozen=True)
class InEdges:
    indptr: np.ndarray  # int64 [num_dst + 1]
    sources: np.ndarray  # int64 [num_edges], grouped by destination, ascending within each
    maps: tuple = field(default=(), repr=False, compare=False)  # the file mappings behind the arrays, if any

    @property
    def num_dst(self) -> int:
        return len(self.indptr) - 1

    @property
    def num_edges(self) -> int:
        return len(self.sources)

    @property
    def nbytes(self) -> int:
        return self.indptr.nbytes + self.sources.nbytes

    @property
    def held_bytes(self) -> int:
        """Bytes this process holds for it: none where the arrays are mapped files."""
        return 0 if self.maps else self.nbytes

    def release_pages(self) -> None:
        """Drop the mapped pages read so far from this process (the files keep the data)."""
        for mapped in self.maps:
            mapped.madvise(mmap.MADV_DONTNEED)

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
    """The CSR of edges held in memory (small graphs, blocks, tests)."""
    order = np.lexsort((src, dst))
    indptr = np.zeros(num_dst + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=num_dst), out=indptr[1:])
    return InEdges(indptr, np.ascontiguousarray(src[order], dtype=np.int64))


def _cache_dir(directory: str, key: EdgeTypeKey, version: str) -> str:
    if not storage.is_remote(directory):
        return os.path.join(directory, "csr", edge_type_name(key))
    tag = hashlib.sha256(f"{directory}\0{edge_type_name(key)}\0{version}".encode()).hexdigest()[:24]
    return os.path.join(tempfile.gettempdir(), "gnn_assets_csr", tag)


def _edges_version(uri: str) -> str:
    versions = storage.file_versions(uri)
    return versions[0].version if versions else ""


def _map(path: str) -> tuple[np.ndarray, mmap.mmap | None]:
    """An .npy file's array over a private mapping of the file (writes, which nothing makes,
    would stay in memory); an empty array has no mapping."""
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        offset = f.tell()
        count = int(np.prod(shape))
        if count == 0:
            return np.zeros(shape, dtype=dtype), None
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    return np.frombuffer(mapped, dtype=dtype, count=count, offset=offset).reshape(shape), mapped


def _open(cache: str, version: str, num_dst: int) -> InEdges | None:
    try:
        with open(os.path.join(cache, _VERSION)) as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        return None
    if recorded.get("edges_version") != version or recorded.get("num_dst") != num_dst:
        return None
    indptr, indptr_map = _map(os.path.join(cache, "indptr.npy"))
    sources, sources_map = _map(os.path.join(cache, "sources.npy"))
    if len(indptr) != num_dst + 1 or int(indptr[-1]) != len(sources):
        return None
    return InEdges(indptr, sources, tuple(m for m in (indptr_map, sources_map) if m is not None))


def load_in_edges(directory: str, key: EdgeTypeKey, num_src: int, num_dst: int, build_bytes: int = BUILD_BYTES) -> InEdges:
    """The cached CSR of one edge type (mapped) when it was built from the current edges file,
    else built now in blocks of about build_bytes (and cached)."""
    edges = edges_uri(directory, key)
    version = _edges_version(edges)
    cache = _cache_dir(directory, key, version)
    found = _open(cache, version, num_dst)
    if found is not None:
        return found
    # Built beside the cache and renamed into place: two jobs may build it at once.
    building = f"{cache}.building-{uuid.uuid4().hex[:8]}"
    os.makedirs(building)
    try:
        write_in_edges(edges, num_src, num_dst, building, build_bytes)
        with open(os.path.join(building, _VERSION), "w") as f:
            json.dump({"edges_version": version, "num_dst": num_dst}, f)
        shutil.rmtree(cache, ignore_errors=True)
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        os.replace(building, cache)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    found = _open(cache, version, num_dst)
    if found is None:
        raise GraphSourceError(f"{cache}: the CSR just built does not read back; remove the folder and run again")
    return found


def _batches(uri: str, columns: list[str]):
    with storage.open_read(uri) as stream:
        for batch in pq.ParquetFile(stream, pre_buffer=False).iter_batches(batch_size=_READ_ROWS, columns=columns):
            yield tuple(batch.column(i).to_numpy() for i in range(len(columns)))


def write_in_edges(uri: str, num_src: int, num_dst: int, folder: str, build_bytes: int = BUILD_BYTES) -> None:
    """The CSR of the edges file `uri` (columns src, dst; int ids) as indptr.npy and sources.npy
    in folder, built by destination blocks of about build_bytes."""
    degrees = np.zeros(num_dst + 1, dtype=np.int64)
    for src, dst in _batches(uri, ["src", "dst"]):
        if len(src) and (src.min() < 0 or src.max() >= num_src or dst.min() < 0 or dst.max() >= num_dst):
            raise GraphSourceError(f"{uri}: edge ends outside 0..{num_src - 1} / 0..{num_dst - 1}; enumerate the graph again")
        degrees[1:] += np.bincount(dst, minlength=num_dst)
    indptr = np.cumsum(degrees, out=degrees)
    np.save(os.path.join(folder, "indptr.npy"), indptr)
    sources = np.lib.format.open_memmap(os.path.join(folder, "sources.npy"), mode="w+", dtype=np.int64, shape=(int(indptr[-1]),))
    # Each block, its in-edges and one batch's copies (about six arrays of a batch) within build_bytes.
    block_edges = max(1, build_bytes // 8 - 6 * _READ_ROWS)
    start = 0
    while start < num_dst:
        stop = int(np.searchsorted(indptr, indptr[start] + block_edges, side="right")) - 1
        stop = min(num_dst, max(stop, start + 1))  # a destination with more in-edges than a block is a block alone
        sources[indptr[start] : indptr[stop]] = _block(uri, indptr, start, stop)
        sources.flush()
        start = stop
    del sources


def _block(uri: str, indptr: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The sources of the destinations start..stop-1, grouped by destination, ascending within each."""
    base = indptr[start]
    block = np.empty(int(indptr[stop] - base), dtype=np.int64)
    cursor = indptr[start:stop] - base  # where each destination's next source goes
    for src, dst in _batches(uri, ["src", "dst"]):
        inside = (dst >= start) & (dst < stop)
        if not inside.any():
            continue
        local = dst[inside] - start
        order = np.argsort(local, kind="stable")  # keeps the file's order within a destination
        local, ordered = local[order], src[inside][order]
        firsts = np.flatnonzero(np.r_[True, local[1:] != local[:-1]])
        counts = np.diff(np.r_[firsts, len(local)])
        rank = np.arange(len(local)) - np.repeat(firsts, counts)
        block[cursor[local] + rank] = ordered
        cursor[local[firsts]] += counts
    # Ascending sources within each destination: true already for edges written sorted by source
    # (the enumeration's order); any other file is sorted here, per block.
    descending = np.flatnonzero(block[1:] < block[:-1]) + 1
    if len(descending) and not np.isin(descending, indptr[start + 1 : stop] - base).all():
        owner = np.repeat(np.arange(stop - start), np.diff(indptr[start : stop + 1]))
        block = block[np.lexsort((block, owner))]
    return block
