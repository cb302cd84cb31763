"""glibc malloc settings for inference workers: keep freed memory for the next batch.

Every batch allocates and frees buffers of about the same large sizes (joined records, decoded
arrays, activations). By default glibc hands large freed blocks back to the kernel (mmap'd
blocks are unmapped, the heap top is trimmed), so the next batch faults every page in again:
measured at about 30 page faults per sample on the benchmark, costing more than decoding.
Raising the mmap and trim thresholds keeps those blocks for reuse. Peak memory stays where it
was, since the same sizes recur batch after batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
KEEP_BYTES = 1 << 30


@functools.cache
def keep_freed_memory_for_reuse() -> bool:
    """Once per process; False where the C library is not glibc (nothing changes there)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES))
