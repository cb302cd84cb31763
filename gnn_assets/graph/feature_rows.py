"""Each node type's features as fixed-width float32 rows, row i for int id i, beside the nodes
file of a local enumeration (`features_<type>.f32`, written with it).

The nodes file is Parquet: reading any row of it decodes whole row groups, so a job that needs
the features of a few scattered nodes (an incremental job's frontier) reads every row. Mapped
rows are read where a job gathers them, and stay page cache rather than the job's own memory.
An enumeration in remote storage (nothing to map) or made before these files has the nodes
file alone; readers then read that.
"""

from __future__ import annotations

import os

import numpy as np

from gnn_assets import storage
from gnn_assets.errors import UserError

_ROW_BYTES_PER_VALUE = 4  # float32


def feature_rows_uri(directory: str, node_type: str) -> str:
    return storage.join(directory, f"features_{node_type}.f32")


class FeatureRowsWriter:
    """Appends rows in int id order; a no-op for an enumeration in remote storage."""

    def __init__(self, directory: str, node_type: str):
        self._stream = None if storage.is_remote(directory) else storage.open_write(feature_rows_uri(directory, node_type))

    def write(self, values: np.ndarray) -> None:
        """values: float32, one row after another (flat or 2-d)."""
        if self._stream is not None:
            self._stream.write(memoryview(np.ascontiguousarray(values, dtype=np.float32)).cast("B"))

    def __enter__(self) -> "FeatureRowsWriter":
        return self

    def __exit__(self, *exc) -> None:
        if self._stream is not None:
            self._stream.close()


def feature_rows_file(directory: str, node_type: str, shape: tuple[int, int]) -> str | None:
    """The local file of the rows, or None where the enumeration has none (remote, or made before
    these files); refused in one line where it holds another shape than (nodes, dim)."""
    uri = feature_rows_uri(directory, node_type)
    if storage.is_remote(uri) or not os.path.exists(uri):
        return None
    rows, dim = shape
    expected = rows * dim * _ROW_BYTES_PER_VALUE
    size = os.path.getsize(uri)
    if size != expected:
        raise UserError(f"{uri}: holds {size:,} bytes, {rows:,} nodes of {dim} float32 features are {expected:,}; enumerate the graph again")
    return uri
