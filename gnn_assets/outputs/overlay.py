"""An incremental run's output: the rows it recomputed over its base run's output.

Its own files (NodeTypeOutput.files) hold only the rows it recomputed, in today's ids; the
base's output is linked into the run's folder as older layers (NodeTypeOutput.base_layers,
oldest first), each with the shift of its ids to the next layer's numbering, so the run is
complete on its own whatever happens to the base's folder:

  <output dir>/layers/<i>/<kind>/*.parquet   a layer's files (layer 0: every node's row)
  <output dir>/layers/<i>/shift.npz          its ids -> the next layer's (graph/id_shift.py)
  <output dir>/removed_node_ids.parquet      original ids of the base's nodes gone today

A node's row is the one of the newest layer that has it. The warehouse publishes such a run by
applying its own rows and the removed ids to the tables its base filled (publishing by delta);
a reader that wants every row (another warehouse, drift, candidates, a publication on top of
another run) reads merged_output_files: the layers merged into whole files once per run.
"""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.graph.id_shift import IdShift
from gnn_assets.outputs.published import NodeTypeOutput, verify_files

_BATCH_ROWS = 65_536
_COMPLETE = "_COMPLETE"


def continue_output(base: NodeTypeOutput, output: NodeTypeOutput, shift: IdShift, removed_node_ids: list[str]) -> None:
    """Link the base's output (its layers and its own rows) into output's folder as its older
    layers; shift: the base's ids -> today's."""
    layers = []
    for index, layer in enumerate([*base.base_layers, _own_layer(base)]):
        folder = storage.join(output.output_dir, "layers", str(index))
        mine = {"files": {}, "rows_by_kind": dict(layer["rows_by_kind"]), "file_sha256": {}, "shift": storage.join(folder, "shift.npz")}
        for kind, files in layer["files"].items():
            mine["files"][kind] = []
            for uri in files:
                target = storage.join(folder, kind, storage.basename(uri))
                storage.link(uri, target)
                mine["files"][kind].append(target)
                if uri in layer["file_sha256"]:
                    mine["file_sha256"][target] = layer["file_sha256"][uri]
        if layer.get("shift"):
            storage.link(layer["shift"], mine["shift"])
        else:
            storage.write_bytes(mine["shift"], shift.to_bytes())
        layers.append(mine)
    output.base_layers = layers
    output.removed_node_ids_uri = storage.join(output.output_dir, "removed_node_ids.parquet")
    storage.write_parquet(output.removed_node_ids_uri, pa.table({"node_id": pa.array(removed_node_ids, pa.string())}))


def _own_layer(output: NodeTypeOutput) -> dict:
    return {"files": output.files, "rows_by_kind": output.rows_by_kind, "file_sha256": output.file_sha256, "shift": ""}


def removed_node_ids(output: NodeTypeOutput) -> list[str]:
    if not output.removed_node_ids_uri:
        return []
    return storage.read_parquet(output.removed_node_ids_uri).column("node_id").to_pylist()


def merged_output_files(output: NodeTypeOutput, kind: str, what: str) -> list[str]:
    """Files that hold every node's row of one kind: the output's own for a whole run; for an
    incremental run its layers merged (each layer's rows moved to today's ids, those a newer
    layer replaced or whose node is gone left out), written once into the run's folder."""
    if not output.base_layers:
        return output.files.get(kind, [])
    folder = storage.join(output.output_dir, "merged", kind)
    if storage.exists(storage.join(folder, _COMPLETE)):
        return storage.glob(storage.join(folder, "*.parquet"))
    layers = [*output.base_layers, _own_layer(output)]
    for index, layer in enumerate(output.base_layers):
        verify_files(layer["files"][kind], layer["rows_by_kind"][kind], layer["file_sha256"], f"{what} layer {index}")
    shifts = [IdShift.from_bytes(storage.read_bytes(layer["shift"])) for layer in output.base_layers]
    # Written beside and moved into place whole: two readers may merge the same run at once.
    building = f"{folder}.building-{uuid.uuid4().hex[:8]}"
    newer = np.zeros(0, np.int64)  # ids (today's) of the layers newer than the one merged
    for index in range(len(layers) - 1, -1, -1):
        files = layers[index]["files"][kind]
        uri = storage.join(building, f"part-{index:05d}.parquet")
        writer, held = None, []  # held: this layer's ids (today's), newer than the layers after it
        with storage.open_write(uri) as stream:
            for name in files:
                with storage.open_read(name) as source:
                    for batch in pq.ParquetFile(source).iter_batches(batch_size=_BATCH_ROWS):
                        ids = batch.column(0).to_numpy().astype(np.int64)
                        for shift in shifts[index:]:
                            ids = shift.new_of_old(ids)
                        held.append(ids[ids >= 0])
                        keep = (ids >= 0) & ~np.isin(ids, newer)
                        table = pa.Table.from_batches([batch]).filter(pa.array(keep)).set_column(0, "node_id", pa.array(ids[keep], pa.int64()))
                        writer = writer or pq.ParquetWriter(stream, table.schema, compression="none", use_dictionary=False, write_statistics=["node_id"])
                        writer.write_table(table)
            if writer is not None:
                writer.close()
        if writer is None:
            storage.delete_tree(uri)
        if index:
            newer = np.union1d(newer, np.concatenate(held) if held else newer)
    storage.write_text(storage.join(building, _COMPLETE), "")
    try:
        storage.replace_tree(building, folder)
    finally:
        storage.delete_tree(building)
    return storage.glob(storage.join(folder, "*.parquet"))
