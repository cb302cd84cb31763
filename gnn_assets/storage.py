"""Reading and writing files by URI: local paths and gs:// alike.

Every path the project accepts goes through here. Remote URIs (gs://) go through Beam's
FileSystems, the layer the Beam jobs use too; local paths through Python's own file calls,
which is all Beam's local file system does, without importing Beam: a command that only reads
a local config (--help, every config error) answers in well under two seconds.
"""

from __future__ import annotations

import fnmatch
import glob as _glob
import hashlib
import io
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import xxhash

if TYPE_CHECKING:
    import pyarrow as pa

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


_FILESYSTEMS = None


def _remote():
    """Beam's FileSystems, imported on first use of a remote URI."""
    global _FILESYSTEMS
    if _FILESYSTEMS is None:
        from apache_beam.io.filesystems import FileSystems

        _connect_anonymously_to_an_emulator()
        _FILESYSTEMS = FileSystems
    return _FILESYSTEMS


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


def is_inside(uri: str, root: str) -> bool:
    """Whether uri lies under root once local links are resolved (a folder linked out of it is not)."""
    if is_remote(uri) or is_remote(root):
        return uri.startswith(root.rstrip("/") + "/")
    return os.path.realpath(uri).startswith(os.path.realpath(root) + os.sep)


def exists(uri: str) -> bool:
    return _remote().exists(uri) if is_remote(uri) else os.path.exists(uri)


def open_read(uri: str, buffer_size: int = 1 << 20) -> io.BufferedIOBase:
    """A readable stream for files too large to read whole, with a buffer large enough that
    many small reads stay cheap (GCS readers already download in large chunks)."""
    if not is_remote(uri):
        return open(uri, "rb", buffering=buffer_size)
    return _remote().open(uri)


def read_bytes(uri: str) -> bytes:
    with open_read(uri) as f:
        return f.read()


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def open_write(uri: str) -> io.BufferedIOBase:
    """A writable stream; parent folders are created as needed."""
    if not is_remote(uri):
        os.makedirs(os.path.dirname(os.path.abspath(uri)), exist_ok=True)
        return open(uri, "wb")
    return _remote().create(uri)


def write_bytes(uri: str, data: bytes) -> None:
    with open_write(uri) as f:
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


@dataclass(frozen=True)
class FileMatch:
    path: str
    size: int
    updated: float  # seconds since the epoch


def match_files(pattern: str) -> list[FileMatch]:
    """Files matching a glob pattern with their size and update time, sorted by path."""
    if not is_remote(pattern):
        paths = (p for p in _glob.glob(pattern) if os.path.isfile(p))
        return sorted((FileMatch(p, os.path.getsize(p), os.path.getmtime(p)) for p in paths), key=lambda m: m.path)
    results = _remote().match([pattern])[0].metadata_list
    return sorted((FileMatch(m.path, m.size_in_bytes, m.last_updated_in_seconds) for m in results), key=lambda m: m.path)


@dataclass(frozen=True)
class FileVersion:
    path: str
    size: int
    version: str  # changes whenever the content may have: a GCS object's generation; locally size, times and inode
    atomic: bool  # True where a file appears whole (GCS objects), False where a writer may still be writing


def file_versions(pattern: str) -> list[FileVersion]:
    """Regular files matching a glob pattern with a token that changes on every rewrite, sorted
    by path; locally, symbolic links are left out.

    Size and mtime miss a rewrite that keeps both (touch -d, a copy with preserved times); the
    local token also has the inode change time, which no user can set, and GCS has generations.
    """
    if not is_remote(pattern):
        out = []
        for path in sorted(_glob.glob(pattern)):
            st = os.lstat(path)  # a symbolic link is not followed: it may point anywhere
            if not stat.S_ISREG(st.st_mode):
                continue
            out.append(FileVersion(path, st.st_size, _local_version(st), False))
        return out
    from google.cloud import storage as gcs

    bucket, _, key_pattern = pattern[len("gs://"):].partition("/")
    prefix = key_pattern.split("*", 1)[0].rsplit("/", 1)[0] + "/" if "/" in key_pattern else ""
    blobs = gcs.Client().list_blobs(bucket, prefix=prefix)
    return sorted(
        (
            FileVersion(f"gs://{bucket}/{b.name}", b.size, str(b.generation), True)
            for b in blobs
            if fnmatch.fnmatchcase(b.name, key_pattern) and "/" not in b.name[len(prefix):]
        ),
        key=lambda v: v.path,
    )


def _local_version(st: os.stat_result) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def file_version(uri: str) -> str | None:
    """One file's version token (file_versions'); None where it is not a regular file."""
    if is_remote(uri):
        return next((v.version for v in file_versions(uri) if v.path == uri), None)
    try:
        st = os.lstat(uri)
    except FileNotFoundError:
        return None
    return _local_version(st) if stat.S_ISREG(st.st_mode) else None


def sha256(uri: str) -> str:
    return hex_digest(uri, hashlib.sha256())


def content_hash(uri: str) -> str:
    """A fast content hash (xxh3-128) of a file the project wrote itself, to tell whether it was
    rewritten since (sha256 is for files taken from users)."""
    return hex_digest(uri, xxhash.xxh3_128(), 8 << 20)


def hex_digest(uri: str, digest, block_bytes: int = 1 << 20) -> str:
    """A file's content through a hashlib-like digest (update, hexdigest), a block at a time."""
    with open_read(uri) as stream:
        for block in iter(lambda: stream.read(block_bytes), b""):
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
    if not is_remote(uri):
        return os.path.getsize(uri)
    return _remote().match([uri])[0].metadata_list[0].size_in_bytes


def delete_tree(uri: str) -> None:
    """Delete a folder (or object prefix) and everything under it; absent is fine."""
    if is_remote(uri):
        files = glob(join(uri, "**"))
        if files:
            _remote().delete(files)
    elif os.path.isdir(uri):
        shutil.rmtree(uri)
    elif os.path.exists(uri):
        os.remove(uri)


def link(src: str, dst: str) -> None:
    """The file src also at dst, without moving its bytes through this process: a hard link
    locally (a copy across file systems), a server-side copy in object storage. Files linked so
    are never rewritten in place (a run's files are written once)."""
    if is_remote(src) or is_remote(dst):
        _remote().copy([src], [dst])
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def replace_tree(new: str, current: str) -> None:
    """The folder `new`, complete, in place of `current` (which may be absent).

    Locally two renames, the old folder removed last: a reader sees the old or the new one.
    On GCS, whose folders are prefixes, each object is renamed (copied, then deleted) into
    place and the objects that only the old folder had are deleted after: not atomic, so a
    failure part way leaves a mix of the two (derived data: run what wrote `new` again)."""
    if not is_remote(new):
        old = f"{current}.replaced-{os.urandom(4).hex()}"
        if os.path.exists(current):
            os.replace(current, old)
        os.replace(new, current)
        delete_tree(old)
        return
    new_prefix, current_prefix = new.rstrip("/") + "/", current.rstrip("/") + "/"
    sources = glob(new_prefix + "**")
    targets = [current_prefix + s[len(new_prefix):] for s in sources]
    stale = sorted(set(glob(current_prefix + "**")) - set(targets))
    if sources:
        _remote().rename(sources, targets)
    if stale:
        _remote().delete(stale)


def write_parquet(uri: str, table: "pa.Table", row_group_size: int | None = None) -> None:
    """row_group_size: rows per row group (the unit a reader decodes at once); default pyarrow's."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=row_group_size)
    write_bytes(uri, buffer.getvalue())


def read_parquet(uri: str) -> "pa.Table":
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(read_bytes(uri)))
