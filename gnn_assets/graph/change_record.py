"""What changed between two enumerations of a graph, recorded by the enumeration itself.

When a graph is enumerated again, the enumeration compares the new files with the ones they
replace, in DuckDB where the files lie (out of core, the same settings as the enumeration):
nodes added and removed (by original id), rows whose features differ, and per edge type the
destinations whose in-edges differ (an edge added or removed, or its source removed). The
record is small, O(change), and lives in the new enumeration's folder:

  changes/<enumeration id>/record.json   from (the enumeration before), counts, content hashes
  changes/<enumeration id>/arrays.npz    per node type the id shift, the changed feature rows;
                                         per edge type the destinations touched (new ids)
  changes/<enumeration id>/removed_<type>.parquet   the removed nodes' original ids

and the records of earlier enumerations are carried along (MAX_HISTORY of them), so a job that
last ran several enumerations ago reads the chain (change_chain) instead of diffing the graph.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.errors import UserError
from gnn_assets.graph.enumerated_layout import EdgeTypeKey, edge_type_name, edges_uri, enumeration_id, mapping_uri, nodes_uri, read_graph_metadata
from gnn_assets.graph.id_shift import IdShift
from gnn_assets.graph.sql_enumeration import SqlEngineSettings, connect_duckdb
from gnn_assets.sql_literals import sql_string

MAX_HISTORY = 16  # records carried from one enumeration to the next
CHANGES = "changes"
_RECORD, _ARRAYS = "record.json", "arrays.npz"


class ChangeRecordError(UserError, ValueError):
    """A change record that is not as its enumeration wrote it."""


@dataclass
class ChangeRecord:
    """One enumeration's change from the one before (ids: shift.old_of_new is the earlier's)."""

    from_id: str
    to_id: str
    shifts: dict[str, IdShift] = field(default_factory=dict)
    features_changed: dict[str, np.ndarray] = field(default_factory=dict)  # new ids
    touched: dict[str, np.ndarray] = field(default_factory=dict)  # edge type name -> new ids of destinations
    removed_node_ids: dict[str, list[str]] = field(default_factory=dict)
    edges_added: dict[str, int] = field(default_factory=dict)
    edges_removed: dict[str, int] = field(default_factory=dict)


def _types(directory: str) -> tuple[list[str], list[EdgeTypeKey]]:
    metadata = read_graph_metadata(directory)
    return list(metadata.node_types), [(e.src_node_type, e.relation, e.dst_node_type) for e in metadata.edge_types]


def _ids(con, sql: str) -> np.ndarray:
    return np.asarray(con.execute(sql).fetch_arrow_table().column(0).to_numpy(zero_copy_only=False), dtype=np.int64)


def _parquet(uri: str) -> str:
    return f"read_parquet({sql_string(uri)})"


def compute_change(previous_dir: str, new_dir: str, settings: SqlEngineSettings) -> ChangeRecord | None:
    """The change from the enumeration in previous_dir to the one in new_dir (None: no previous
    enumeration of the same types to compare with)."""
    if not storage.exists(storage.join(previous_dir, "graph_metadata.yaml")) or not enumeration_id(previous_dir):
        return None  # nothing to compare with, or an enumeration no record can name (before ids were recorded)
    node_types, edge_types = _types(new_dir)
    if _types(previous_dir) != (node_types, edge_types):
        return None
    record = ChangeRecord(enumeration_id(previous_dir), enumeration_id(new_dir))
    remaps = {}  # node type -> (the temp table of its survivors' old -> new ids, its shift)
    con = connect_duckdb(settings)
    try:
        for node_type in node_types:
            old_map, new_map = _parquet(mapping_uri(previous_dir, node_type)), _parquet(mapping_uri(new_dir, node_type))
            (num_old,), (num_new,) = con.execute(f"SELECT count(*) FROM {old_map}").fetchone(), con.execute(f"SELECT count(*) FROM {new_map}").fetchone()
            added = _ids(con, f"SELECT n.int_id FROM {new_map} n ANTI JOIN {old_map} o ON o.node_id = n.node_id ORDER BY 1")
            removed = con.execute(f"SELECT o.int_id, o.node_id FROM {old_map} o ANTI JOIN {new_map} n ON o.node_id = n.node_id ORDER BY 1").fetch_arrow_table()
            shift = IdShift(num_old, num_new, added, removed.column(0).to_numpy().astype(np.int64))
            record.shifts[node_type], record.removed_node_ids[node_type] = shift, removed.column(1).to_pylist()
            # Survivors' old -> new ids, joined by original id only where ids moved.
            remap = f"remap_{len(remaps)}"
            remaps[node_type] = (remap, shift)
            if not shift.is_identity:
                con.execute(f"CREATE TEMP TABLE {remap} AS SELECT o.int_id AS old, n.int_id AS new FROM {old_map} o JOIN {new_map} n USING (node_id)")
            rows = lambda d: f"(SELECT file_row_number AS r, features FROM read_parquet({sql_string(nodes_uri(d, node_type))}, file_row_number = true))"  # noqa: E731
            moved = "" if shift.is_identity else f"JOIN {remap} m ON m.new = n.r"
            old_row = "n.r" if shift.is_identity else "m.old"
            record.features_changed[node_type] = _ids(
                con, f"SELECT n.r FROM {rows(new_dir)} n {moved} JOIN {rows(previous_dir)} o ON o.r = {old_row} "
                f"WHERE n.features IS DISTINCT FROM o.features ORDER BY 1"
            )
        for key in edge_types:
            _edge_change(con, record, key, edges_uri(previous_dir, key), edges_uri(new_dir, key), remaps[key[0]], remaps[key[2]])
    finally:
        con.close()
    return record


def _edge_change(con, record: ChangeRecord, key: EdgeTypeKey, old_uri: str, new_uri: str, src_remap, dst_remap) -> None:
    """Edges added and removed (old edges moved to new ids first), and the destinations whose
    in-edges they change, with the surviving destinations of edges whose source was removed."""
    (src_table, src_shift), (dst_table, dst_shift) = src_remap, dst_remap
    old_edges = _parquet(old_uri)
    mapped = old_edges if src_shift.is_identity and dst_shift.is_identity else (
        f"(SELECT {'e.src' if src_shift.is_identity else 's.new'} AS src, {'e.dst' if dst_shift.is_identity else 'd.new'} AS dst FROM {old_edges} e "
        + ("" if src_shift.is_identity else f"JOIN {src_table} s ON s.old = e.src ")
        + ("" if dst_shift.is_identity else f"JOIN {dst_table} d ON d.old = e.dst ")
        + ")"
    )
    differing = con.execute(
        f"SELECT n.dst AS added_dst, o.dst AS removed_dst FROM {_parquet(new_uri)} n FULL OUTER JOIN {mapped} o "
        f"ON n.src = o.src AND n.dst = o.dst WHERE n.src IS NULL OR o.src IS NULL"
    ).fetch_arrow_table()
    added_dst, removed_dst = (differing.column(i).drop_null().to_numpy().astype(np.int64) for i in range(2))
    lost = np.zeros(0, np.int64)
    with_endpoint_gone = 0
    if len(src_shift.removed) or len(dst_shift.removed):
        for name, shift in (("gone_src", src_shift), ("gone_dst", dst_shift)):
            con.register(name, pa.table({"id": pa.array(shift.removed, pa.int64())}))
        (with_endpoint_gone,) = con.execute(f"SELECT count(*) FROM {old_edges} WHERE src IN (SELECT id FROM gone_src) OR dst IN (SELECT id FROM gone_dst)").fetchone()
        lost = dst_shift.new_of_old(_ids(con, f"SELECT dst FROM {old_edges} WHERE src IN (SELECT id FROM gone_src)"))
        lost = lost[lost >= 0]
    name = edge_type_name(key)
    record.touched[name] = np.unique(np.concatenate([added_dst, removed_dst, lost]))
    record.edges_added[name], record.edges_removed[name] = len(added_dst), len(removed_dst) + int(with_endpoint_gone)


def _record_dir(directory: str, to_id: str) -> str:
    return storage.join(directory, CHANGES, to_id)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_change(directory: str, record: ChangeRecord) -> None:
    """The record into the (new) enumeration's folder."""
    arrays = {}
    for node_type, shift in record.shifts.items():
        arrays.update({f"sizes/{node_type}": np.array([shift.num_old, shift.num_new]), f"added/{node_type}": shift.added,
                       f"removed/{node_type}": shift.removed, f"features/{node_type}": record.features_changed[node_type]})
    arrays.update({f"touched/{name}": ids for name, ids in record.touched.items()})
    buffer = io.BytesIO()
    np.savez(buffer, **{k.replace("/", "::"): np.asarray(v, dtype=np.int64) for k, v in arrays.items()})
    folder = _record_dir(directory, record.to_id)
    hashes = {_ARRAYS: _sha256(buffer.getvalue())}
    storage.write_bytes(storage.join(folder, _ARRAYS), buffer.getvalue())
    for node_type, ids in record.removed_node_ids.items():
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({"node_id": pa.array(ids, pa.string())}), sink)
        data = sink.getvalue().to_pybytes()
        hashes[f"removed_{node_type}.parquet"] = _sha256(data)
        storage.write_bytes(storage.join(folder, f"removed_{node_type}.parquet"), data)
    summary = {"from": record.from_id, "to": record.to_id, "sha256": hashes, "edges_added": record.edges_added, "edges_removed": record.edges_removed}
    storage.write_text(storage.join(folder, _RECORD), json.dumps(summary, indent=1, sort_keys=True))


def carry_history(previous_dir: str, new_dir: str, newest: ChangeRecord) -> None:
    """The records that lead to the previous enumeration, copied into the new folder: with the
    newest, at most MAX_HISTORY in a chain."""
    wanted, current = [], newest.from_id
    while current and len(wanted) < MAX_HISTORY - 1:
        record_json = storage.join(_record_dir(previous_dir, current), _RECORD)
        if not storage.exists(record_json):
            break
        wanted.append(current)
        current = json.loads(storage.read_text(record_json)).get("from", "")
    for to_id in wanted:
        source, target = _record_dir(previous_dir, to_id), _record_dir(new_dir, to_id)
        for uri in storage.glob(storage.join(source, "*")):
            storage.write_bytes(storage.join(target, storage.basename(uri)), storage.read_bytes(uri))


def record_enumeration_change(previous_dir: str, new_dir: str, settings: SqlEngineSettings) -> ChangeRecord | None:
    """compute_change, written with the history it continues, into new_dir (before it replaces previous_dir)."""
    record = compute_change(previous_dir, new_dir, settings)
    if record is not None:
        write_change(new_dir, record)
        carry_history(previous_dir, new_dir, record)
    return record


def _read_record(directory: str, to_id: str) -> ChangeRecord:
    folder = _record_dir(directory, to_id)
    try:
        summary = json.loads(storage.read_text(storage.join(folder, _RECORD)))
        blobs = {name: storage.read_bytes(storage.join(folder, name)) for name in summary["sha256"]}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ChangeRecordError(f"{folder}: not a change record its enumeration wrote ({error}); enumerate the graph again") from None
    for name, data in blobs.items():
        if _sha256(data) != summary["sha256"][name]:
            raise ChangeRecordError(f"{storage.join(folder, name)} changed since its enumeration wrote it (content hash); enumerate the graph again")
    record = ChangeRecord(summary["from"], summary["to"], edges_added=summary["edges_added"], edges_removed=summary["edges_removed"])
    with np.load(io.BytesIO(blobs[_ARRAYS]), allow_pickle=False) as arrays:
        by_kind: dict[str, dict[str, np.ndarray]] = {}
        for key in arrays.files:
            kind, _, name = key.partition("::")
            by_kind.setdefault(kind, {})[name] = arrays[key].astype(np.int64)
    for node_type, sizes in by_kind.get("sizes", {}).items():
        record.shifts[node_type] = IdShift(int(sizes[0]), int(sizes[1]), by_kind["added"][node_type], by_kind["removed"][node_type])
        record.features_changed[node_type] = by_kind["features"][node_type]
        removed = f"removed_{node_type}.parquet"
        record.removed_node_ids[node_type] = pq.read_table(io.BytesIO(blobs[removed])).column(0).to_pylist() if removed in blobs else []
    record.touched = by_kind.get("touched", {})
    return record


def change_chain(directory: str, since_id: str) -> list[ChangeRecord] | None:
    """The records from enumeration since_id to the graph's current one, oldest first ([] when
    it is the current one; None when the graph keeps no such chain)."""
    chain, current = [], enumeration_id(directory)
    while current != since_id:
        if len(chain) >= MAX_HISTORY or not current or not storage.exists(storage.join(_record_dir(directory, current), _RECORD)):
            return None
        record = _read_record(directory, current)
        chain.append(record)
        current = record.from_id
    return chain[::-1]
