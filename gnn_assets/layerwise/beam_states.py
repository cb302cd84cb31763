"""What engine BEAM reads and writes in storage for a run: each layer's states as Parquet per
node type and piece (`node_id` and one column per state), the degree files of a GCN model, the
message folders, the layer marks (`stage-<k>.done`, with each piece file's content hash) a run
resumes by, and the rows the steps read back from them and from the enumerated graph."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.graph.enumerated_layout import edge_type_name, edges_uri, nodes_uri
from gnn_assets.layerwise.blocks import Blocks


def state_uri(states_dir: str, stage: int, node_type: str, block: int) -> str:
    return storage.join(states_dir, f"stage-{stage}", node_type, f"block-{block:06d}.parquet")


def degrees_uri(states_dir: str, key, block: int) -> str:
    return storage.join(states_dir, "degrees", edge_type_name(tuple(key)), f"block-{block:06d}.parquet")


def messages_dir(states_dir: str, stage: int | str) -> str:
    return storage.join(states_dir, "messages", f"stage-{stage}")


def done_uri(states_dir: str, stage: int) -> str:
    return storage.join(states_dir, f"stage-{stage}.done")


def write_states(uri: str, start: int, states: dict[str, np.ndarray]) -> None:
    """A piece's states as Parquet (`node_id` and one column per state)."""
    rows = len(next(iter(states.values()))) if states else 0
    columns = {"node_id": pa.array(np.arange(start, start + rows, dtype=np.int64))}
    for name, values in states.items():
        values = np.ascontiguousarray(values, dtype=np.float32).reshape(rows, -1)
        columns[name] = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])
    with storage.open_write(uri) as stream:
        pq.write_table(pa.table(columns), stream, compression="none", use_dictionary=False, write_statistics=["node_id"])


def read_states(uri: str, names: list[str]) -> dict[str, np.ndarray]:
    with storage.open_read(uri) as stream:
        table = pq.read_table(stream, columns=names)
    return {name: _matrix(table[name]) for name in names}


def _matrix(column) -> np.ndarray:
    column = column.combine_chunks()
    if not pa.types.is_fixed_size_list(column.type):  # a scalar column (degree files)
        return column.to_numpy(zero_copy_only=False)
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return values.reshape(len(column), -1)


def read_rows(uri: str, start: int, stop: int, names: list[str]) -> dict[str, np.ndarray]:
    """Rows start..stop-1 (counted in the file) of matrix columns of a Parquet file, reading only
    the row groups they lie in."""
    with storage.open_read(uri) as stream:
        parquet = pq.ParquetFile(stream, pre_buffer=False)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
        offset = 0
        for group in range(parquet.num_row_groups):
            rows = parquet.metadata.row_group(group).num_rows
            if offset < stop and offset + rows > start:
                table = parquet.read_row_group(group, columns=names)
                for name in names:
                    parts[name].append(_matrix(table[name])[max(start - offset, 0) : stop - offset])
            offset += rows
    return {name: np.concatenate(p) if p else np.zeros((0, 0), np.float32) for name, p in parts.items()}


def read_node_rows(uri: str, start: int, stop: int) -> np.ndarray:
    """Feature rows start..stop-1 of an enumeration's node file, reading only the row groups they lie in."""
    return read_rows(uri, start, stop, ["features"])["features"]




def _rows_across_blocks(uri_of, blocks: Blocks, node_type: str, start: int, stop: int, names: list[str]) -> dict[str, list[np.ndarray]]:
    """Rows start..stop-1 of per-block files (uri_of(block)), from the blocks they lie in."""
    found: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for block in range(start // blocks.block_nodes, (max(stop, start + 1) - 1) // blocks.block_nodes + 1):
        lo, hi = blocks.range(node_type, block)
        for name, values in read_rows(uri_of(block), max(start, lo) - lo, min(stop, hi) - lo, names).items():
            found[name].append(values)
    return found


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def read_state_rows(graph_dir, states_dir, blocks: Blocks, node_type, start: int, stop: int, names: dict[str, int], inputs: dict[str, str]):
    """Rows start..stop-1 of a node type's states (by name: the stage that computed each) and
    input features, from the files of the blocks they lie in."""
    found: dict[str, np.ndarray] = {}
    by_stage: dict[int, list[str]] = {}
    for name, stage in names.items():
        if name in inputs:
            found[name] = read_node_rows(nodes_uri(graph_dir, node_type), start, stop)
        else:
            by_stage.setdefault(stage, []).append(name)
    for stage, stage_names in by_stage.items():
        rows = _rows_across_blocks(lambda b, stage=stage: state_uri(states_dir, stage, node_type, b), blocks, node_type, start, stop, stage_names)
        found.update({name: _joined(parts) for name, parts in rows.items()})
    return found


def read_degree_rows(states_dir, blocks: Blocks, keys, start: int, stop: int) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """Rows start..stop-1 of the degree pass's (other in-edges, has a self loop), by edge type."""
    found = {}
    for key in keys:
        rows = _rows_across_blocks(lambda b, key=key: degrees_uri(states_dir, key, b), blocks, key[2], start, stop, ["other", "looped"])
        found[tuple(key)] = (_joined(rows["other"]), _joined(rows["looped"]))
    return found


def read_edge_group(graph_dir: str, key, group: int) -> tuple[np.ndarray, np.ndarray]:
    """(src, dst) of one row group of an edge type's enumerated edges."""
    with storage.open_read(edges_uri(graph_dir, key)) as stream:
        table = pq.ParquetFile(stream, pre_buffer=False).read_row_group(group, columns=["src", "dst"])
    return table["src"].to_numpy(), table["dst"].to_numpy()




def stage_pieces(states_dir: str, stage: int) -> list[str]:
    return storage.glob(storage.join(states_dir, f"stage-{stage}", "*", "*.parquet"))


def completed_stages(states_dir: str, fingerprint: dict, progress=lambda _: None) -> int:
    """How many stages from the first are marked complete for this fingerprint, with every piece
    file as it was when the stage completed (a piece gone, cut or changed since makes its stage
    run again, as does an unreadable mark)."""
    stage = 0
    while storage.exists(done_uri(states_dir, stage)):
        try:
            record = json.loads(storage.read_text(done_uri(states_dir, stage)))
            recorded = dict(record["piece_sha256"])
        except (ValueError, KeyError, TypeError) as error:
            progress(f"{done_uri(states_dir, stage)} is not a mark this version reads ({error}): computing from layer {stage} again")
            break
        if any(record.get(k) != v for k, v in fingerprint.items()):
            break
        changed = next((uri for uri in sorted(recorded) if not storage.exists(uri) or storage.sha256(uri) != recorded[uri]), None)
        if changed is not None:
            progress(f"{changed} is gone or changed since layer {stage} completed (content hash): computing from layer {stage} again")
            break
        stage += 1
    return stage




def states_dir_of(job_layout, run_id: str, role: str) -> str:
    return storage.join(job_layout.inference_run_dir(run_id), "layerwise_states", role or "own")


def output_dir_of(job_layout, run_id: str, node_type: str, role: str) -> str:
    return job_layout.champion_output_dir(run_id, node_type) if role else job_layout.inference_output_dir(run_id, node_type)
