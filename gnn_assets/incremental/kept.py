"""What a layer-wise job keeps for a later incremental job (layerwise.keepStates), in its run
folder, committed with it:

  kept/graph/      the enumerated graph it read: mapping and edges files, a hash of each node's
                   features (incremental/change.py), graph_metadata.yaml
  kept/states/     every kept layer state, all nodes, one .npy file each (named by the traced
                   model's node, the same for every trace of the same model)

and in the manifest (details["kept"]): where they lie, each state's node type and shape, the
model file's sha256 and the content hash of every kept file (hashed as it is written, checked
before an incremental job uses any of them). A base is always its job's committed run: the run's
folder is removed when a later run of the job commits (or, for the run last published, when a
later one is published).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from gnn_assets import storage
from gnn_assets.graph.enumerated_layout import EdgeTypeKey, edges_uri, keyed_edges_uri, mapping_uri
from gnn_assets.incremental.change import feature_hashes, hashes_uri
from gnn_assets.incremental.errors import IncrementalRefused


@dataclass
class KeptRun:
    graph_dir: str
    states_dir: str
    model_sha256: str
    states: dict[str, dict] = field(default_factory=dict)  # state name -> {"node_type", "shape", "dtype"}
    file_sha256: dict[str, str] = field(default_factory=dict)  # every kept file (graph record, states) -> content hash

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "KeptRun":
        return cls(data["graph_dir"], data["states_dir"], data["model_sha256"], dict(data.get("states", {})), dict(data.get("file_sha256", {})))

    def state_uri(self, name: str) -> str:
        return storage.join(self.states_dir, f"{name}.npy")

    @contextlib.contextmanager
    def write(self, uri: str):
        """A kept file written through a stream that hashes what passes, recorded once it is complete."""
        with storage.open_write(uri) as stream:
            hashing = _HashingStream(stream)
            yield hashing
        self.file_sha256[uri] = hashing.digest.hexdigest()


class _HashingStream:
    def __init__(self, stream):
        self.stream, self.digest = stream, hashlib.sha256()

    def write(self, data) -> int:
        self.digest.update(data)
        return self.stream.write(data)


def _copy(src: str, dst: str, kept: KeptRun) -> None:
    with storage.open_read(src) as reader, kept.write(dst) as writer:
        while chunk := reader.read(16 << 20):
            writer.write(chunk)


def keep_graph(graph_dir: str, run_dir: str, features: dict, edge_types: list[EdgeTypeKey], model_sha256: str) -> KeptRun:
    """A record of the enumerated graph the run reads (a later enumeration replaces the folder):
    its mapping and edges files, and a hash of each node's features (features: per node type,
    as the job holds them). Returns the run's kept record, its states still to be written."""
    kept = KeptRun(storage.join(run_dir, "kept", "graph"), storage.join(run_dir, "kept", "states"), model_sha256)
    record = kept.graph_dir
    for node_type, values in features.items():
        _copy(mapping_uri(graph_dir, node_type), mapping_uri(record, node_type), kept)
        array = values.numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
        with kept.write(hashes_uri(record, node_type)) as stream:
            np.save(stream, feature_hashes(array), allow_pickle=False)
    for key in edge_types:
        _copy(edges_uri(graph_dir, key), keyed_edges_uri(record, key), kept)
    _copy(storage.join(graph_dir, "graph_metadata.yaml"), storage.join(record, "graph_metadata.yaml"), kept)
    return kept


class StateKeeper:
    """Writes each kept state as it completes (the executor's on_done)."""

    def __init__(self, kept: KeptRun, node_type_of):
        self.kept = kept
        self._node_type_of = node_type_of

    def __call__(self, node, value: torch.Tensor) -> None:
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        with self.kept.write(self.kept.state_uri(node.name)) as stream:
            np.save(stream, array, allow_pickle=False)
        self.kept.states[node.name] = {"node_type": self._node_type_of(node), "shape": list(array.shape), "dtype": str(array.dtype)}


def verify_kept(kept: KeptRun, what: str) -> None:
    """Refuse (one line) a base whose kept files are gone or changed since its run wrote them:
    its states and graph record are used as they are, so a changed byte would be a wrong row."""
    if not kept.file_sha256:
        raise IncrementalRefused(f"{what} kept no content hashes of its states (kept by an older version); run it again with layerwise.keepStates")
    expected = [kept.state_uri(name) for name in kept.states] + [storage.join(kept.graph_dir, "graph_metadata.yaml")]
    unrecorded = [uri for uri in expected if uri not in kept.file_sha256]
    if unrecorded:
        raise IncrementalRefused(f"{what}: the kept file {unrecorded[0]} has no recorded content hash; run the base job again")
    for uri, recorded in kept.file_sha256.items():
        if not storage.exists(uri):
            raise IncrementalRefused(f"{what}: the kept file {uri} is gone; run the base job again with layerwise.keepStates")
        if storage.sha256(uri) != recorded:
            raise IncrementalRefused(f"{what}: the kept file {uri} changed since its run wrote it (content hash); run the base job again")


def read_state(kept: KeptRun, name: str) -> np.ndarray:
    """One kept state (memory-mapped where storage is local)."""
    uri = kept.state_uri(name)
    if not storage.exists(uri):
        raise IncrementalRefused(f"{uri}: a kept state of the base job is gone; run the base job again with layerwise.keepStates")
    try:
        if storage.is_remote(uri):
            return np.load(io.BytesIO(storage.read_bytes(uri)), allow_pickle=False)
        return np.load(uri, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise IncrementalRefused(f"{uri}: not a kept state ({error}); run the base job again with layerwise.keepStates") from None
