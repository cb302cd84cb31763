"""Graph sources for tests: hostile ones (ids that sort and compare badly), bad ones by
construction, shard folders, and the enumerated tables read back."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.config.layout import StorageLayout
from gnn_assets.graph.enumerated_layout import edges_uri, mapping_uri, nodes_uri
from gnn_assets.graph.source import GraphSource
from gnn_assets.proto.graph_schema_pb2 import EdgeType, GraphMetadata


def enumerated_tables(directory: str, metadata: GraphMetadata) -> dict[str, pa.Table]:
    out = {}
    for t in metadata.node_types:
        out[f"mapping {t}"] = storage.read_parquet(mapping_uri(directory, t))
        out[f"nodes {t}"] = storage.read_parquet(nodes_uri(directory, t))
    for e in metadata.edge_types:
        key = (e.src_node_type, e.relation, e.dst_node_type)
        out[f"edges {key}"] = storage.read_parquet(edges_uri(directory, key))
    return out


def shard_source(source_dir: str, shards: int) -> None:
    """The same graph as folders nodes/ and edges/ of several Parquet files, the rows shuffled."""
    for name in ("nodes", "edges"):
        table = pq.read_table(f"{source_dir}/{name}.parquet")
        order = np.random.default_rng(0).permutation(table.num_rows)
        table = table.take(pa.array(order))
        Path(f"{source_dir}/{name}").mkdir()
        for i, part in enumerate(np.array_split(np.arange(table.num_rows), shards)):
            pq.write_table(table.take(pa.array(part, pa.int64())), f"{source_dir}/{name}/part-{i:03d}.parquet")
        storage.delete_tree(f"{source_dir}/{name}.parquet")


HOSTILE = [
    unicodedata.normalize("NFC", "café"),
    unicodedata.normalize("NFD", "café"),
    "",
    "line\nbreak",
    "007",
    "7",
    "x" * 10_000,
    "Zebra",
    "apple",
    "ünïcode",
]


def hostile_source() -> GraphSource:
    metadata = GraphMetadata(node_types=["u"], edge_types=[EdgeType(src_node_type="u", relation="r", dst_node_type="u")])
    nodes = pa.table(
        {
            "node_id": HOSTILE,
            "node_type": ["u"] * len(HOSTILE),
            "features": [[float(i), -float(i)] for i in range(len(HOSTILE))],
            "label": [i % 3 if i % 2 else None for i in range(len(HOSTILE))],
        }
    )
    edges = [(HOSTILE[i], HOSTILE[(i * 3 + 1) % len(HOSTILE)]) for i in range(len(HOSTILE))] + [(HOSTILE[2], HOSTILE[4])] * 2
    edge_table = pa.table({"src": [s for s, _ in edges], "dst": [d for _, d in edges], "edge_type": ["r"] * len(edges),
                           "src_type": ["u"] * len(edges), "dst_type": ["u"] * len(edges)})
    return GraphSource(metadata, nodes, edge_table)


def bad_source(tmp_path, *, ids=("a", "b"), features=((1.0,), (2.0,)), types=None, edges=(("a", "b"),), shards=2, labels=None):
    layout = StorageLayout(str(tmp_path / "root"))
    source_dir = layout.graph_source_dir("g")
    (tmp_path / "root" / "graphs" / "g" / "source" / "nodes").mkdir(parents=True)
    (tmp_path / "root" / "graphs" / "g" / "source" / "edges").mkdir()
    storage.write_text(f"{source_dir}/graph_metadata.yaml", "nodeTypes: [u]\nedgeTypes: [{srcNodeType: u, relation: r, dstNodeType: u}]\n")
    nodes = pa.table({"node_id": pa.array(list(ids), pa.string()), "node_type": pa.array(list(types or ["u"] * len(ids)), pa.string()),
                      "features": pa.array([list(f) if f is not None else None for f in features], pa.list_(pa.float32()))})
    if labels is not None:  # the label column as given (its type inferred: ints, floats, strings)
        nodes = nodes.append_column("label", pa.array(list(labels)))
    for i, part in enumerate(np.array_split(np.arange(nodes.num_rows), shards)):
        pq.write_table(nodes.take(pa.array(part, pa.int64())), f"{source_dir}/nodes/part-{i}.parquet")
    src, dst = zip(*edges) if edges else ((), ())
    pq.write_table(pa.table({"src": pa.array(list(src), pa.string()), "dst": pa.array(list(dst), pa.string()),
                             "edge_type": pa.array(["r"] * len(edges), pa.string())}), f"{source_dir}/edges/part-0.parquet")
    return layout
