"""What a layer-wise job keeps for a later incremental job (layerwise.keepStates), in its run
folder, committed with it:

  kept/graph/      the enumerated graph it read: mapping and edges files, a hash of each node's
                   features (incremental/change.py), graph_metadata.yaml
  kept/states/     every kept layer state, all nodes, one .npy file each (named by the traced
                   model's node, the same for every trace of the same model)

and in the manifest (details["kept"]): where they lie, each state's node type and shape, and
the model file's sha256. The run's folder is removed when a later run of the job commits, so
a base is always its job's committed run.
"""

from __future__ import annotations

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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "KeptRun":
        return cls(data["graph_dir"], data["states_dir"], data["model_sha256"], dict(data.get("states", {})))


def _copy(src: str, dst: str) -> None:
    with storage.open_read(src) as reader, storage.open_write(dst) as writer:
        while chunk := reader.read(16 << 20):
            writer.write(chunk)


def keep_graph(graph_dir: str, run_dir: str, features: dict, edge_types: list[EdgeTypeKey]) -> str:
    """A record of the enumerated graph the run reads (a later enumeration replaces the folder):
    its mapping and edges files, and a hash of each node's features (features: per node type,
    as the job holds them)."""
    record = storage.join(run_dir, "kept", "graph")
    for node_type, values in features.items():
        _copy(mapping_uri(graph_dir, node_type), mapping_uri(record, node_type))
        array = values.numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
        with storage.open_write(hashes_uri(record, node_type)) as stream:
            np.save(stream, feature_hashes(array), allow_pickle=False)
    for key in edge_types:
        _copy(edges_uri(graph_dir, key), keyed_edges_uri(record, key))
    _copy(storage.join(graph_dir, "graph_metadata.yaml"), storage.join(record, "graph_metadata.yaml"))
    return record


class StateKeeper:
    """Writes each kept state as it completes (the executor's on_done)."""

    def __init__(self, run_dir: str, node_type_of, model_sha256: str, graph_dir: str):
        self.kept = KeptRun(graph_dir, storage.join(run_dir, "kept", "states"), model_sha256)
        self._node_type_of = node_type_of

    def __call__(self, node, value: torch.Tensor) -> None:
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        uri = storage.join(self.kept.states_dir, f"{node.name}.npy")
        with storage.open_write(uri) as stream:
            np.save(stream, array, allow_pickle=False)
        self.kept.states[node.name] = {"node_type": self._node_type_of(node), "shape": list(array.shape), "dtype": str(array.dtype)}


def read_state(kept: KeptRun, name: str) -> np.ndarray:
    """One kept state (memory-mapped where storage is local)."""
    uri = storage.join(kept.states_dir, f"{name}.npy")
    if not storage.exists(uri):
        raise IncrementalRefused(f"{uri}: a kept state of the base job is gone; run the base job again with layerwise.keepStates")
    if storage.is_remote(uri):
        return np.load(io.BytesIO(storage.read_bytes(uri)), allow_pickle=False)
    return np.load(uri, mmap_mode="r", allow_pickle=False)
