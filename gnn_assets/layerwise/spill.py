"""Node states that do not fit the memory budget, in memory-mapped files (DGL's SSD variant),
and the enumeration's feature rows mapped beside them (map_file).

Each array is a file mapped into memory; torch reads and writes it like any tensor, and the
kernel pages it in and out. Pages a chunk touched are dropped from this process after the
chunk (madvise DONTNEED: a shared file mapping keeps its data in the page cache and the file),
so the process's resident memory stays near the budget however large the states are. A state
read in order, a slab of rows at a time (aggregation.py), is read from its file instead, with
large sequential reads (slab_reader).
"""

from __future__ import annotations

import mmap
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np
import torch


class SpillArea:
    def __init__(self, directory: str):
        self.directory = directory
        self._maps: dict[str, mmap.mmap] = {}
        self._mapped_files: list[mmap.mmap] = []  # map_file's: released with the states, never deleted
        self._by_address: dict[int, tuple[mmap.mmap, str]] = {}  # a tensor's first byte -> its mapping and file
        self.bytes_written = 0
        self._reader: ThreadPoolExecutor | None = None  # slab_reader's read-ahead thread, made at first use

    def allocate(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """A zero-filled tensor backed by the file <directory>/<name>.bin (a new file when the name
        was allocated before: a second model's states never write into the first's)."""
        self.free(name)
        os.makedirs(self.directory, exist_ok=True)
        itemsize = torch.empty((), dtype=dtype).element_size()
        size = int(np.prod(shape)) * itemsize
        path = os.path.join(self.directory, f"{name}.bin")
        with open(path, "w+b") as f:
            f.truncate(max(size, 1))
            mapped = mmap.mmap(f.fileno(), max(size, 1))
        # Chunks gather rows of a state at random: without this the kernel reads ahead about 128 KB
        # around every faulted page, 30 times the rows asked for once the file outgrows memory.
        mapped.madvise(mmap.MADV_RANDOM)
        self._maps[name] = mapped
        self.bytes_written += size
        array = np.frombuffer(mapped, dtype=np.uint8, count=size)
        return self._register(torch.from_numpy(array).view(dtype).view(shape), mapped, path)

    def map_file(self, path: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """An existing file of exactly `shape` as a tensor, copy on write (the file never changes),
        read at random and its pages released with the states'; the file stays when the area closes."""
        size = int(np.prod(shape)) * torch.empty((), dtype=dtype).element_size()
        if size == 0:
            return torch.zeros(shape, dtype=dtype)
        with open(path, "rb") as f:
            mapped = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
        mapped.madvise(mmap.MADV_RANDOM)
        self._mapped_files.append(mapped)
        return self._register(torch.from_numpy(np.frombuffer(mapped, dtype=np.uint8, count=size)).view(dtype).view(shape), mapped, path)

    def _register(self, tensor: torch.Tensor, mapped: mmap.mmap, path: str) -> torch.Tensor:
        self._by_address[tensor.data_ptr()] = (mapped, path)
        return tensor

    def slab_reader(self, tensor: torch.Tensor) -> Callable[[int, int, tuple[int, int] | None], torch.Tensor]:
        """For a tensor of this area read in ascending slabs of rows: read(lo, hi, following) gives
        rows lo..hi-1 read from the file with positioned reads (large, sequential requests, where
        faulting the mapped pages in would read a page at a time) while a thread reads the
        following slab into a second buffer: the caller computes on one slab while the disk
        reads the next. A slab stays valid until the next call. A tensor not mapped here is
        sliced."""
        found = self._by_address.get(tensor.data_ptr()) if tensor.numel() else None
        if found is None:
            return lambda lo, hi, following: tensor[lo:hi]
        path = found[1]
        row_bytes = tensor[0].numel() * tensor.element_size()
        buffers = [bytearray(), bytearray()]
        ahead: dict[tuple[int, int], tuple[int, Future]] = {}  # a slab being read ahead: its buffer

        def fill(index: int, lo: int, hi: int) -> torch.Tensor:
            size = (hi - lo) * row_bytes
            if len(buffers[index]) < size:
                buffers[index] = bytearray(size)
            view, done = memoryview(buffers[index])[:size], 0
            fd = os.open(path, os.O_RDONLY)
            try:
                while done < size:
                    got = os.preadv(fd, [view[done:]], lo * row_bytes + done)
                    if got == 0:
                        raise OSError(f"{path}: ends before row {hi:,}")
                    done += got
            finally:
                os.close(fd)
            return torch.frombuffer(buffers[index], dtype=tensor.dtype, count=(hi - lo) * tensor[0].numel()).view(hi - lo, *tensor.shape[1:])

        def read(lo: int, hi: int, following: tuple[int, int] | None) -> torch.Tensor:
            if (lo, hi) in ahead:
                index, future = ahead.pop((lo, hi))
                rows = future.result()
            else:
                for _, future in ahead.values():  # another slab than the one asked for: let its read end
                    future.result()
                ahead.clear()
                index, rows = 0, fill(0, lo, hi)
            if following is not None:
                if self._reader is None:
                    self._reader = ThreadPoolExecutor(1, thread_name_prefix="slab-reader")
                ahead[following] = (1 - index, self._reader.submit(fill, 1 - index, *following))
            return rows

        return read

    def release_pages(self) -> None:
        """Drop every mapped page from this process's memory; the data stays in the files."""
        for mapped in [*self._maps.values(), *self._mapped_files]:
            mapped.madvise(mmap.MADV_DONTNEED)

    def free(self, name: str) -> None:
        """Forget one array (its tensor must no longer be used) and delete its file."""
        mapped = self._maps.pop(name, None)
        if mapped is not None:
            self._by_address = {address: found for address, found in self._by_address.items() if found[0] is not mapped}
            try:
                mapped.close()
            except BufferError:  # a tensor still views it: the mapping goes with the last view
                pass
            os.remove(os.path.join(self.directory, f"{name}.bin"))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.shutdown(wait=True)
            self._reader = None
        for name in list(self._maps):
            self.free(name)
        for mapped in self._mapped_files:
            try:
                mapped.close()
            except BufferError:  # a tensor still views it: the mapping goes with the last view
                pass
        self._mapped_files.clear()
        self._by_address.clear()
        shutil.rmtree(self.directory, ignore_errors=True)
