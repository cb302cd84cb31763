"""What a layer-wise job keeps for a later incremental job (layerwise.keepStates), committed
with it: every layer state a later layer reads, in layers, oldest first, each layer the folder of
the run that wrote it beside the run folders (JobLayout.kept_dir):

  kept/<run id>/states/<name>.npy           every node's row (a whole job, or a compaction)
  kept/<run id>/states/<name>.ids.npy       the rows an incremental job recomputed (its ids,
  kept/<run id>/states/<name>.rows.npy      sorted) and their values
  kept/<run id>/shift_<node type>.npz       how ids moved from the previous layer's enumeration
  kept/<run id>-base-<i>/...                another job's layer i, linked by the run built on it

A row is read from the newest layer that holds it, its id moved back through the shifts to each
older layer's numbering (reading a few rows reads a few rows). An incremental run lists its
base's layers in its own record, read in place (nothing is linked or copied, but for another
job's layers: a link changes the files' inode change time, which their versions below record),
and adds one; past MAX_LAYERS it writes every row again as one layer (compaction). Once a run
commits, the layers it does not list are removed (release_kept_layers). States are named by the
traced model's node, the same for every trace of the same model.

The manifest (details["kept"]) records the layers, each state's node type and row shape, the
enumeration each layer's ids are in, the model file's sha256, the content hash of every kept
file (xxh3-128, taken as it is written; its files are written by the job itself, not taken from
users) and its version when that content was known (storage.file_version: recorded after each
write). An incremental job verifies every file of its base before it uses any: a file whose
version changed since is hashed again (verify_kept_content). A base is always its job's committed
run.
"""

from __future__ import annotations

import contextlib
import io
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import xxhash

from gnn_assets import storage
from gnn_assets.graph.id_shift import IdShift
from gnn_assets.incremental.errors import IncrementalRefused
from gnn_assets.incremental.overlay_state import OverlayState

MAX_LAYERS = 8  # an incremental run whose base has this many layers writes every row again


@dataclass
class KeptLayer:
    directory: str
    enumeration_id: str
    whole: bool  # every node's row (else: the rows recomputed)


@dataclass
class KeptRun:
    model_sha256: str
    layers: list[KeptLayer] = field(default_factory=list)  # oldest first
    states: dict[str, dict] = field(default_factory=dict)  # state name -> {"node_type", "shape", "dtype"} (shape: all nodes)
    file_hashes: dict[str, str] = field(default_factory=dict)  # every kept file -> content hash (xxh3-128)
    # every kept file -> its version (storage.file_version) when its content was last known to be
    # the hashed one: where it still is, the file was not rewritten since and is not read again
    file_versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "KeptRun":
        return cls(data["model_sha256"], [KeptLayer(**layer) for layer in data["layers"]], dict(data["states"]), dict(data["file_hashes"]),
                   dict(data.get("file_versions", {})))  # a record from before versions: every file hashed

    @property
    def enumeration_id(self) -> str:
        """The enumeration the newest layer's ids are in (the run's)."""
        return self.layers[-1].enumeration_id

    @contextlib.contextmanager
    def write(self, uri: str):
        """A kept file written through a stream that hashes what passes, recorded once it is complete."""
        with storage.open_write(uri) as stream:
            hashing = _HashingStream(stream)
            yield hashing
        self.file_hashes[uri] = hashing.digest.hexdigest()
        self.file_versions[uri] = storage.file_version(uri)

    def save(self, uri: str, array: np.ndarray) -> None:
        with self.write(uri) as stream:
            np.save(stream, np.ascontiguousarray(array), allow_pickle=False)


class _HashingStream:
    def __init__(self, stream):
        self.stream, self.digest = stream, xxhash.xxh3_128()

    def write(self, data) -> int:
        self.digest.update(data)
        return self.stream.write(data)


def whole_uri(layer: KeptLayer, name: str) -> str:
    return storage.join(layer.directory, "states", f"{name}.npy")


def delta_uris(layer: KeptLayer, name: str) -> tuple[str, str]:
    return storage.join(layer.directory, "states", f"{name}.ids.npy"), storage.join(layer.directory, "states", f"{name}.rows.npy")


def shift_uri(layer: KeptLayer, node_type: str) -> str:
    return storage.join(layer.directory, f"shift_{node_type}.npz")


def new_kept(kept_dir: str, run_id: str, enumeration_id: str, model_sha256: str) -> KeptRun:
    """A run's kept record with one whole layer, its states still to be written (kept_dir: the
    job's JobLayout.kept_dir)."""
    return KeptRun(model_sha256, [KeptLayer(storage.join(kept_dir, run_id), enumeration_id, True)])


def continue_kept(base: KeptRun, kept_dir: str, run_id: str, enumeration_id: str, shifts: dict[str, IdShift]) -> KeptRun:
    """An incremental run's kept record: its base's layers, then a layer of its own (the rows it
    recomputes; shifts: the base's ids -> this run's), still to be written. The base's layers
    under the job's kept_dir are read where they are; those of another job's base (released when
    that job commits again), or of a base that kept them in its run folder (before kept_dir), are
    linked into kept_dir first (a hard link locally, a server-side copy in object storage)."""
    kept = KeptRun(base.model_sha256)
    for index, layer in enumerate(base.layers):
        files = {uri: digest for uri, digest in base.file_hashes.items() if storage.is_inside(uri, layer.directory)}
        if storage.is_inside(layer.directory, kept_dir):
            kept.layers.append(KeptLayer(**asdict(layer)))
            kept.file_hashes.update(files)
            kept.file_versions.update({uri: base.file_versions[uri] for uri in files if uri in base.file_versions})
            continue
        mine = KeptLayer(storage.join(kept_dir, f"{run_id}-base-{index}"), layer.enumeration_id, layer.whole)
        for uri, digest in files.items():
            target = storage.join(mine.directory, uri[len(layer.directory) :].lstrip("/"))
            storage.link(uri, target)  # verified (verify_kept_content) before the job links it
            kept.file_hashes[target] = digest
            kept.file_versions[target] = storage.file_version(target)
        kept.layers.append(mine)
    layer = KeptLayer(storage.join(kept_dir, run_id), enumeration_id, False)
    for node_type, shift in shifts.items():
        with kept.write(shift_uri(layer, node_type)) as stream:
            stream.write(shift.to_bytes())
    kept.layers.append(layer)
    return kept


class StateKeeper:
    """Writes each kept state into the run's newest layer (every row where the layer is whole,
    else the rows the run recomputed) in the background, from the moment its layer completes
    (the executor's keep.complete), while the later layers compute: the executor waits for a
    state's write before it frees the state (keep.release), the engine for every write before
    it commits (finish). One writer thread: the files are written one after another."""

    def __init__(self, kept: KeptRun, node_type_of):
        self.kept = kept
        self._node_type_of = node_type_of
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="kept-states")
        self._pending: dict[str, Future] = {}

    def complete(self, node, value) -> None:
        self._pending[node.name] = self._writer.submit(self._write, node, value)

    def release(self, node) -> None:
        pending = self._pending.pop(node.name, None)
        if pending is not None:
            pending.result()

    def finish(self) -> None:
        """Every write done (the first failure raised); the writer stops."""
        try:
            for name in list(self._pending):
                self._pending.pop(name).result()
        finally:
            self._writer.shutdown(wait=True)

    def stop(self) -> None:
        """The writer stopped, its writes waited for, failures ignored (the job failed already,
        or finish() ran): no write may outlive the states it reads."""
        self._writer.shutdown(wait=True)

    def _write(self, node, value) -> None:
        layer = self.kept.layers[-1]
        if isinstance(value, OverlayState) and not layer.whole:
            ids_uri, rows_uri = delta_uris(layer, node.name)
            self.kept.save(ids_uri, value.ids)
            self.kept.save(rows_uri, value.values.numpy())
            dtype = value.values.numpy().dtype
        elif isinstance(value, OverlayState):
            dtype = _save_rows(self.kept, whole_uri(layer, node.name), value)
        else:
            array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            self.kept.save(whole_uri(layer, node.name), array)
            dtype = array.dtype
        self.kept.states[node.name] = {"node_type": self._node_type_of(node), "shape": list(value.shape), "dtype": str(dtype)}


def _save_rows(kept: KeptRun, uri: str, state: OverlayState) -> np.dtype:
    """Every row of an overlay state as one .npy, streamed a batch at a time."""
    dtype = torch.empty(0, dtype=state.dtype).numpy().dtype
    with kept.write(uri) as stream:
        np.lib.format.write_array_header_1_0(stream, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(state.shape)})
        for _, rows in state.all_rows():
            stream.write(np.ascontiguousarray(rows.numpy(), dtype=dtype).tobytes())
    return dtype


def release_kept_layers(kept_dir: str, committed: dict | None, run_id: str) -> None:
    """After run_id committed (its kept record `committed`, None where it kept nothing): the layers
    under kept_dir that it does not list are removed, but for those of runs that started after it
    (still running; their own commit releases what they leave)."""
    listed = {storage.basename(layer["directory"].rstrip("/")) for layer in (committed or {}).get("layers", [])}
    for name in storage.child_names(kept_dir):
        if name <= run_id and name not in listed:
            storage.delete_tree(storage.join(kept_dir, name))


def verify_kept_present(kept: KeptRun, what: str) -> None:
    """Refuse (one line) a base whose kept files are gone or were never recorded: cheap, so done
    when the base is resolved; their content is verified once a job will read them."""
    expected = []
    for name in kept.states:
        for layer in kept.layers:
            expected += [whole_uri(layer, name)] if layer.whole else list(delta_uris(layer, name))
    unrecorded = [uri for uri in expected if uri not in kept.file_hashes]
    if unrecorded:
        raise IncrementalRefused(f"{what}: the kept file {unrecorded[0]} has no recorded content hash; run the base job again")
    for uri in kept.file_hashes:
        if not storage.exists(uri):
            raise IncrementalRefused(f"{what}: the kept file {uri} is gone; run the base job again with layerwise.keepStates")


def verify_kept_content(kept: KeptRun, what: str) -> int:
    """Refuse (one line) a base whose kept files changed since its run wrote them: its states are
    used as they are, so a changed byte would be a wrong row. A file whose version (size,
    modification and inode change times, inode; a GCS object's generation) is the one recorded
    when its content was known is unchanged: no user can write a file and keep its inode change
    time. Every other file is read and hashed (the whole of every file before versions were
    recorded, 2 GB at 1M nodes for the bench model: most of a small change's job), and its
    version recorded anew in `kept` where it matched (the runs built on it inherit it: a link
    removed, which changes the time too, costs one more read). A job that falls back to the whole
    job reads none of them, and skips this. Returns how many were hashed."""
    stale = {uri: storage.file_version(uri) for uri in kept.file_hashes}
    stale = {uri: version for uri, version in stale.items() if version is None or version != kept.file_versions.get(uri)}
    # A file per core at once (the hash and the reads let go of the GIL).
    with ThreadPoolExecutor(max(1, min(os.cpu_count() or 1, len(stale) or 1))) as pool:
        hashes = dict(zip(stale, pool.map(storage.content_hash, stale)))
    for uri, version in stale.items():
        if hashes[uri] != kept.file_hashes[uri]:
            raise IncrementalRefused(f"{what}: the kept file {uri} changed since its run wrote it (content hash); run the base job again")
        if version is not None and storage.file_version(uri) == version:  # unchanged while it was read
            kept.file_versions[uri] = version
    return len(stale)


def _load(uri: str) -> np.ndarray:
    """A kept array (memory-mapped where storage is local)."""
    try:
        if storage.is_remote(uri):
            return np.load(io.BytesIO(storage.read_bytes(uri)), allow_pickle=False)
        return np.load(uri, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise IncrementalRefused(f"{uri}: not a kept array ({error}); run the base job again with layerwise.keepStates") from None


class KeptReader:
    """Rows of a base's kept states by today's ids (to_now: per node type, the base's ids ->
    today's); zeros for nodes the base did not have (an incremental job recomputes those)."""

    def __init__(self, kept: KeptRun, to_now: dict[str, IdShift]):
        self.kept, self.to_now = kept, to_now
        self._arrays: dict[str, np.ndarray] = {}
        self._shifts: dict[tuple[int, str], IdShift] = {}

    def _array(self, uri: str) -> np.ndarray:
        if uri not in self._arrays:
            self._arrays[uri] = np.asarray(_load(uri))  # a plain array over the mapping: numpy's memmap subclass costs per gather
        return self._arrays[uri]

    def _shift(self, index: int, node_type: str) -> IdShift:
        key = (index, node_type)
        if key not in self._shifts:
            self._shifts[key] = IdShift.from_bytes(storage.read_bytes(shift_uri(self.kept.layers[index], node_type)))
        return self._shifts[key]

    def rows(self, name: str, ids: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The rows of state `name` of today's ids (into out, where given): every row gathered
        from the whole layer straight into place first, then the newer layers' rows over them,
        oldest first (they hold few rows: the copies stay in proportion to the change)."""
        info = self.kept.states[name]
        node_type = info["node_type"]
        if out is None:
            out = np.empty((len(ids), *info["shape"][1:]), dtype=np.dtype(info["dtype"]))
        # The ids in each layer's numbering, newest first (-1: a node that layer's graph lacked).
        numbered = [self.to_now[node_type].old_of_new(ids)]
        for index in range(len(self.kept.layers) - 1, 0, -1):
            current = numbered[-1].copy()
            known = current >= 0
            current[known] = self._shift(index, node_type).old_of_new(current[known])
            numbered.append(current)
        numbered.reverse()  # numbered[i]: in layer i's numbering
        whole_layer = self.kept.layers[0]
        whole = self._array(whole_uri(whole_layer, name))
        first = numbered[0]
        if first.max(initial=-1) >= len(whole):
            raise IncrementalRefused(f"{whole_uri(whole_layer, name)}: holds {len(whole):,} rows, its layer's ids reach {first.max():,}; run the base job again")
        # mode "clip": the ids were checked above (numpy buffers a gather with mode "raise").
        np.take(whole, np.maximum(first, 0), axis=0, out=out, mode="clip")
        out[first < 0] = 0  # nodes added since the whole layer: a newer layer holds them, or the job recomputes them
        for index in range(1, len(self.kept.layers)):
            ids_uri, rows_uri = delta_uris(self.kept.layers[index], name)
            held = self._array(ids_uri)
            if not len(held):
                continue
            at = np.minimum(np.searchsorted(held, numbered[index]), len(held) - 1)
            hit = np.flatnonzero((held[at] == numbered[index]) & (numbered[index] >= 0))
            out[hit] = np.take(self._array(rows_uri), at[hit], axis=0)
        return out
