"""Reading and writing files by URI: local paths and gs:// alike, through Beam's FileSystems.

Every path the project accepts goes through here, so that the local folders used in
development and the GCS buckets used in production share one code path.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

STORAGE_EMULATOR_ENV = "STORAGE_EMULATOR_HOST"


def _connect_anonymously_to_an_emulator() -> None:
    """Against a GCS emulator (STORAGE_EMULATOR_HOST), skip Beam's credential lookup.

    An emulator takes anonymous requests, which is what google-cloud-storage sends it when no
    credentials are given; but Beam first looks for credentials with retries, about twenty
    seconds in every process where there are none. Beam caches the outcome per process, so the
    cache is filled with 'none found' up front (Beam is pinned; this touches its internals).
    """
    if os.environ.get(STORAGE_EMULATOR_ENV):
        from apache_beam.internal.gcp import auth

        with auth._Credentials._credentials_lock:
            auth._Credentials._credentials = None
            auth._Credentials._credentials_init = True


_connect_anonymously_to_an_emulator()


def is_remote(uri: str) -> bool:
    return "://" in uri


def join(base: str, *parts: str) -> str:
    if is_remote(base):
        return "/".join([base.rstrip("/"), *[p.strip("/") for p in parts]])
    return os.path.join(base, *parts)


def resolve(uri: str, relative_to: str) -> str:
    """An absolute URI: remote and absolute paths as given, relative paths under relative_to."""
    if is_remote(uri) or os.path.isabs(uri):
        return uri
    return join(relative_to, uri) if is_remote(relative_to) else os.path.normpath(join(relative_to, uri))


def basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def exists(uri: str) -> bool:
    return FileSystems.exists(uri)


def read_bytes(uri: str) -> bytes:
    with FileSystems.open(uri) as f:
        return f.read()


def open_read(uri: str, buffer_size: int = 1 << 20) -> io.BufferedIOBase:
    """A readable stream for files too large to read whole, with a buffer large enough that
    many small reads stay cheap. Beam opens local files with Python's default 8 KiB buffer:
    that file is re-buffered (a second buffer on top would copy everything twice); GCS readers
    already download in large chunks."""
    stream = FileSystems.open(uri)
    if isinstance(stream, io.BufferedReader):
        return io.BufferedReader(stream.detach(), buffer_size)
    return stream


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def write_bytes(uri: str, data: bytes) -> None:
    with FileSystems.create(uri) as f:
        f.write(data)


def write_text(uri: str, text: str) -> None:
    write_bytes(uri, text.encode("utf-8"))


def replace_atomically(uri: str, data: bytes) -> None:
    """Write data so that a reader sees the old content or the new, never a part. A GCS object
    appears whole when its upload completes; a local file is written next to uri and renamed."""
    if is_remote(uri):
        write_bytes(uri, data)
        return
    temporary = f"{uri}.tmp-{uuid.uuid4().hex[:12]}"
    write_bytes(temporary, data)
    os.replace(temporary, uri)


def open_write(uri: str) -> io.BufferedIOBase:
    """A writable stream; parent folders are created as needed."""
    return FileSystems.create(uri)


@dataclass(frozen=True)
class FileMatch:
    path: str
    size: int
    updated: float  # seconds since the epoch


def match_files(pattern: str) -> list[FileMatch]:
    """Files matching a glob pattern with their size and update time, sorted by path."""
    results = FileSystems.match([pattern])[0].metadata_list
    return sorted((FileMatch(m.path, m.size_in_bytes, m.last_updated_in_seconds) for m in results), key=lambda m: m.path)


@dataclass(frozen=True)
class FileVersion:
    path: str
    size: int
    version: str  # changes whenever the content may have: a GCS object's generation; locally size, times and inode
    atomic: bool  # True where a file appears whole (GCS objects), False where a writer may still be writing


def file_versions(pattern: str) -> list[FileVersion]:
    """Files matching a glob pattern with a token that changes on every rewrite, sorted by path.

    Size and mtime miss a rewrite that keeps both (touch -d, a copy with preserved times); the
    local token also has the inode change time, which no user can set, and GCS has generations.
    """
    if not is_remote(pattern):
        out = []
        for match in match_files(pattern):
            st = os.stat(match.path)
            out.append(FileVersion(match.path, st.st_size, f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}", False))
        return out
    from google.cloud import storage as gcs

    bucket, _, key_pattern = pattern[len("gs://"):].partition("/")
    prefix = key_pattern.split("*", 1)[0].rsplit("/", 1)[0] + "/" if "/" in key_pattern else ""
    blobs = gcs.Client().list_blobs(bucket, prefix=prefix)
    return sorted(
        (FileVersion(f"gs://{bucket}/{b.name}", b.size, str(b.generation), True) for b in blobs if fnmatch.fnmatchcase(b.name, key_pattern) and "/" not in b.name[len(prefix):]),
        key=lambda v: v.path,
    )


def sha256(uri: str) -> str:
    digest = hashlib.sha256()
    with open_read(uri) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def glob(pattern: str) -> list[str]:
    """Sorted URIs of the files matching a glob pattern (empty when none match)."""
    return [m.path for m in match_files(pattern)]


def child_names(uri: str) -> list[str]:
    """Names directly under a folder (or object prefix), sorted; empty when it does not exist."""
    if not is_remote(uri):
        return sorted(os.listdir(uri)) if os.path.isdir(uri) else []
    prefix = uri.rstrip("/") + "/"
    return sorted({path[len(prefix):].split("/", 1)[0] for path in glob(prefix + "**")})


def size(uri: str) -> int:
    return FileSystems.match([uri])[0].metadata_list[0].size_in_bytes


def delete_tree(uri: str) -> None:
    """Delete a folder (or object prefix) and everything under it; absent is fine."""
    if is_remote(uri):
        files = glob(join(uri, "**"))
        if files:
            FileSystems.delete(files)
    elif os.path.exists(uri):
        FileSystems.delete([uri])


def write_parquet(uri: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    write_bytes(uri, buffer.getvalue())


def read_parquet(uri: str) -> pa.Table:
    return pq.read_table(io.BytesIO(read_bytes(uri)))
