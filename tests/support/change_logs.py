"""A change log between two graph snapshots, derived by original id in Python (independently of
the SQL that applies one), and a snapshot's content as sets to compare."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gnn_assets.graph.source import GraphSource


def _edge_set(edges: pa.Table) -> set[tuple]:
    return set(zip(*(edges[c].to_pylist() for c in ("src", "dst", "edge_type", "src_type", "dst_type"))))


def content(source: GraphSource) -> tuple[dict, set]:
    """Nodes (id, type) -> (features, label), and the set of edges (duplicates are one edge)."""
    nodes = {(n, t): (f, label) for n, t, f, label in zip(*(source.nodes[c].to_pylist() for c in ("node_id", "node_type", "features", "label")))}
    return nodes, _edge_set(source.edges)


def write_change_log(old: GraphSource, new: GraphSource, directory) -> dict[str, int]:
    """nodes.parquet and edges.parquet turning `old` into `new`; edges of removed nodes are left
    for the log's node removals to take. Counts per kind."""
    (before, old_edges), (after, new_edges) = content(old), content(new)
    nodes = [{"node_id": n, "node_type": t, "op": "remove", "features": None, "label": None} for (n, t) in before.keys() - after.keys()]
    nodes += [{"node_id": n, "node_type": t, "op": "add", "features": f, "label": label} for (n, t), (f, label) in after.items() if (n, t) not in before]
    nodes += [{"node_id": n, "node_type": t, "op": "update", "features": f, "label": label} for (n, t), (f, label) in after.items() if (n, t) in before and before[(n, t)] != (f, label)]
    gone = before.keys() - after.keys()
    edges = [e for e in old_edges - new_edges if (e[0], e[3]) not in gone and (e[1], e[4]) not in gone]
    columns = ("src", "dst", "edge_type", "src_type", "dst_type")
    edge_rows = [{**dict(zip(columns, e)), "op": "remove"} for e in sorted(edges)] + [{**dict(zip(columns, e)), "op": "add"} for e in sorted(new_edges - old_edges)]
    directory.mkdir(parents=True, exist_ok=True)
    node_schema = pa.schema([("node_id", pa.string()), ("node_type", pa.string()), ("op", pa.string()), ("features", pa.list_(pa.float32())), ("label", pa.int64())])
    pq.write_table(pa.Table.from_pylist(sorted(nodes, key=lambda r: r["node_id"]), schema=node_schema), directory / "nodes.parquet")
    edge_schema = pa.schema([*[(c, pa.string()) for c in columns], ("op", pa.string())])
    pq.write_table(pa.Table.from_pylist(edge_rows, schema=edge_schema), directory / "edges.parquet")
    kinds = {}
    for row in nodes:
        kinds[f"nodes_{row['op']}"] = kinds.get(f"nodes_{row['op']}", 0) + 1
    for row in edge_rows:
        kinds[f"edges_{row['op']}"] = kinds.get(f"edges_{row['op']}", 0) + 1
    return kinds


def changed(source: GraphSource, change: str, seed: int = 7) -> GraphSource:
    """The graph after one kind of change (or all of them), by original id."""
    rng = np.random.default_rng(seed)
    nodes, edges = source.nodes, source.edges
    ids = nodes["node_id"].to_pylist()
    if change in ("features", "all"):
        features = nodes["features"].to_pylist()
        for row in rng.choice(len(ids), 4, replace=False):
            features[row] = [v + 1.0 for v in features[row]]
        nodes = nodes.set_column(nodes.column_names.index("features"), "features", pa.array(features, nodes.schema.field("features").type))
    if change in ("remove_edges", "all"):
        keep = np.ones(edges.num_rows, dtype=bool)
        keep[rng.choice(edges.num_rows, 6, replace=False)] = False
        edges = edges.filter(pa.array(keep))
    if change in ("add_edges", "all"):
        new = {c: [edges[c][0].as_py()] * 6 for c in edges.column_names}
        new["src"], new["dst"] = [ids[i] for i in rng.choice(len(ids), 6)], [ids[i] for i in rng.choice(len(ids), 6)]
        edges = pa.concat_tables([edges, pa.table(new, schema=edges.schema)])
    if change in ("remove_nodes", "all"):
        gone = {ids[i] for i in rng.choice(len(ids), 3, replace=False)}
        nodes = nodes.filter(pa.array([n not in gone for n in nodes["node_id"].to_pylist()]))
        edges = edges.filter(pa.array([s not in gone and d not in gone for s, d in zip(edges["src"].to_pylist(), edges["dst"].to_pylist())]))
    if change in ("add_nodes", "all"):
        added = {c: [nodes[c][0].as_py()] * 2 for c in nodes.column_names}
        a, b = f"new-{seed}-a", f"new-{seed}-b"
        added["node_id"] = [a, b]
        nodes = pa.concat_tables([nodes, pa.table(added, schema=nodes.schema)])
        present = nodes["node_id"].to_pylist()
        new = {c: [edges[c][0].as_py()] * 4 for c in edges.column_names}
        new["src"], new["dst"] = [a, present[0], b, a], [present[1], b, present[2], b]
        edges = pa.concat_tables([edges, pa.table(new, schema=edges.schema)])
    return GraphSource(source.metadata, nodes, edges)
