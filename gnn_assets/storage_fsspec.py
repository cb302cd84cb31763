"""storage.py's remote files as an fsspec filesystem, so DuckDB reads gs:// Parquet where it lies.

DuckDB reads local files itself; for other schemes it takes an fsspec filesystem
(`register_filesystem`). This one serves the `gs` protocol through storage.py (Beam's GCS
client: the same credentials, the same emulator as every other read), with ranged reads, so
DuckDB fetches a Parquet file's footer and the row groups it needs, never the whole file.
"""

from __future__ import annotations

import datetime

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from gnn_assets import storage

BLOCK_BYTES = 8 << 20  # read-ahead per open file: a row group of a wide nodes file in one request


class _RangedFile(AbstractBufferedFile):
    """A remote file read by byte ranges over one seekable stream."""

    def __init__(self, fs, path, **kwargs):
        super().__init__(fs, path, mode="rb", block_size=BLOCK_BYTES, cache_type="readahead", **kwargs)
        self._stream = None

    def _fetch_range(self, start: int, end: int) -> bytes:
        if self._stream is None:
            self._stream = storage.open_read(self.fs.uri(self.path))
        self._stream.seek(start)
        return self._stream.read(end - start)

    def close(self):
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        super().close()


class StorageFileSystem(AbstractFileSystem):
    """Read-only gs:// through storage.py (DuckDB writes nothing here: outputs stream through
    storage.open_write)."""

    protocol = "gs"
    cachable = False

    def uri(self, path: str) -> str:
        return path if path.startswith("gs://") else "gs://" + path.lstrip("/")

    def ls(self, path, detail=True, **kwargs):
        prefix = self.uri(path).rstrip("/")
        found = [m for m in storage.match_files(prefix) if m.path == prefix] or storage.match_files(prefix + "/*")
        entries = [{"name": self._strip_protocol(m.path), "size": m.size, "type": "file"} for m in found]
        return entries if detail else [e["name"] for e in entries]

    def _match(self, path) -> storage.FileMatch:
        uri = self.uri(path)
        matches = [m for m in storage.match_files(uri) if m.path == uri]
        if not matches:
            raise FileNotFoundError(uri)
        return matches[0]

    def info(self, path, **kwargs):
        match = self._match(path)
        return {"name": self._strip_protocol(match.path), "size": match.size, "type": "file"}

    def modified(self, path):
        return datetime.datetime.fromtimestamp(self._match(path).updated, tz=datetime.timezone.utc)

    def _open(self, path, mode="rb", **kwargs):
        if mode != "rb":
            raise PermissionError(f"{self.uri(path)}: DuckDB only reads remote storage here")
        return _RangedFile(self, path, size=kwargs.get("size") or self.info(path)["size"])


def register_remote_storage(con) -> None:
    """Let a DuckDB connection read gs:// files."""
    con.register_filesystem(StorageFileSystem())
