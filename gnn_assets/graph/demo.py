"""Seeded demo graphs that look like real ones: string ids, power-law degrees, communities.

Node features are noisy copies of a per-community centroid and edges prefer the same
community, so a GNN's neighbourhood aggregation has signal to work with. The generators below
hold the graph in memory; write_demo_shards writes a homogeneous graph of any size as shard
folders, a slice at a time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gnn_assets import storage
from gnn_assets.config.yaml_proto import to_yaml
from gnn_assets.graph.labels import CLASSES, VALUES, labelled
from gnn_assets.graph.source import EDGES_SCHEMA, NODES_SCHEMA, GraphSource, edges_schema, nodes_schema
from gnn_assets.proto.graph_schema_pb2 import EdgeType, GraphMetadata

_SAME_COMMUNITY = 0.8


def _string_ids(prefix: str, n: int) -> np.ndarray:
    # Multiplying by an odd constant modulo 2**32 is a bijection: unique ids whose sort order
    # differs from generation order, so enumeration is exercised for real.
    scrambled = (np.arange(n, dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    return np.char.add(prefix, np.char.zfill(np.char.mod("%x", scrambled), 8))


def _power_law(rng: np.random.Generator, n: int, exponent: float = 1.6) -> np.ndarray:
    return rng.pareto(exponent, n) + 1.0


def _features(rng: np.random.Generator, community: np.ndarray, num_communities: int, dim: int) -> np.ndarray:
    centroids = rng.normal(0.0, 1.0, (num_communities, dim))
    return (centroids[community] + rng.normal(0.0, 0.6, (len(community), dim))).astype(np.float32)


def _edges_by_preference(
    rng: np.random.Generator,
    src_activity: np.ndarray,
    src_community: np.ndarray,
    dst_popularity: np.ndarray,
    dst_community: np.ndarray,
    num_communities: int,
    average_degree: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-degrees follow src activity, targets dst popularity; most edges stay in the community."""
    degree = rng.poisson(average_degree * src_activity / src_activity.mean())
    src = np.repeat(np.arange(len(src_activity)), degree)
    same = rng.random(len(src)) < _SAME_COMMUNITY
    target_community = np.where(same, src_community[src], rng.integers(0, num_communities, len(src)))
    dst = np.empty(len(src), dtype=np.int64)
    for c in range(num_communities):  # a loop over communities, not nodes
        members = np.flatnonzero(dst_community == c)
        picks = np.flatnonzero(target_community == c)
        if len(members) == 0 or len(picks) == 0:
            dst[picks] = rng.integers(0, len(dst_popularity), len(picks))
            continue
        cumulative = np.cumsum(dst_popularity[members])
        draws = rng.random(len(picks)) * cumulative[-1]
        dst[picks] = members[np.minimum(np.searchsorted(cumulative, draws), len(members) - 1)]
    pairs = np.unique(np.stack([src, dst], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _nodes_table(
    ids: np.ndarray, node_type: str, features: np.ndarray, labels: np.ndarray | None, label_type: pa.DataType = CLASSES
) -> pa.Table:
    """labels: classes (-1 where none) or values (NaN where none), as label_type says."""
    n, dim = features.shape
    label_array = pa.nulls(n, label_type) if labels is None else pa.array(labels, label_type, mask=~labelled(labels))
    return pa.table(
        {
            "node_id": pa.array(ids.tolist(), pa.string()),
            "node_type": pa.array([node_type] * n, pa.string()),
            "features": pa.ListArray.from_arrays(pa.array(np.arange(0, n * dim + 1, dim, dtype=np.int32)), pa.array(features.reshape(-1))),
            "label": label_array,
        },
        schema=nodes_schema(label_type),
    )


PAPERS = ("paper", "cites", "paper")  # the homogeneous demo graph's edge type


def _edges_table(
    src_ids: np.ndarray, dst_ids: np.ndarray, edge_type: tuple[str, str, str], labels: np.ndarray | None = None, label_type: pa.DataType = VALUES
) -> pa.Table:
    """labels: the edges' label column, values (NaN where none) or classes (-1 where none) as
    label_type says; None: no such column."""
    src_type, relation, dst_type = edge_type
    columns = {
        "src": pa.array(src_ids.tolist(), pa.string()),
        "dst": pa.array(dst_ids.tolist(), pa.string()),
        "edge_type": pa.array([relation] * len(src_ids), pa.string()),
        "src_type": pa.array([src_type] * len(src_ids), pa.string()),
        "dst_type": pa.array([dst_type] * len(src_ids), pa.string()),
    }
    if labels is None:
        return pa.table(columns, schema=EDGES_SCHEMA)
    columns["label"] = pa.array(labels, label_type, mask=~labelled(labels))
    return pa.table(columns, schema=edges_schema(label_type))


def generate_typed_demo_graph(
    num_users: int = 12_000,
    num_items: int = 8_000,
    *,
    average_purchases: float = 10.0,
    average_follows: float = 5.0,
    num_communities: int = 8,
    user_feature_dim: int = 16,
    item_feature_dim: int = 24,
    seed: int = 7,
    held_out_purchases: float = 0.1,
    held_out_prices: float = 0.2,
    held_out_ratings: float = 0.2,
) -> GraphSource:
    """Users buy items and follow users; items point back at their buyers (bought_by). A share
    of the purchases is left out of the graph as evaluation edges. Items have a price (their
    label, a value for node regression): their community's level plus half their buyers' mean
    level, plus noise; a share of the prices is withheld as evaluation labels. Purchases have a
    rating (their edge label, a value for edge regression): higher where the user's and the item's
    communities agree, plus the item's level, plus noise; a share withheld as evaluation edge labels."""
    rng = np.random.default_rng(seed)
    user_community = rng.integers(0, num_communities, num_users)
    item_community = rng.integers(0, num_communities, num_items)
    user_activity = _power_law(rng, num_users)
    buy_src, buy_dst = _edges_by_preference(
        rng, user_activity, user_community, _power_law(rng, num_items), item_community, num_communities, average_purchases
    )
    follow_src, follow_dst = _edges_by_preference(
        rng, user_activity, user_community, _power_law(rng, num_users), user_community, num_communities, average_follows
    )
    keep = follow_src != follow_dst
    follow_src, follow_dst = follow_src[keep], follow_dst[keep]
    # Purchases held out of the graph (both directions), to measure link prediction on.
    held_out = rng.random(len(buy_src)) < held_out_purchases
    held_src, held_dst = buy_src[held_out], buy_dst[held_out]
    buy_src, buy_dst = buy_src[~held_out], buy_dst[~held_out]

    user_ids, item_ids = _string_ids("user_", num_users), _string_ids("item_", num_items)
    user_features = _features(rng, user_community, num_communities, user_feature_dim)
    item_features = _features(rng, item_community, num_communities, item_feature_dim)
    level = rng.normal(0.0, 1.0, num_communities)
    buyers = np.maximum(np.bincount(buy_dst, minlength=num_items), 1)
    buyer_level = np.bincount(buy_dst, weights=level[user_community[buy_src]], minlength=num_items) / buyers
    price = 10.0 + 2.0 * level[item_community] + 0.5 * buyer_level + rng.normal(0.0, 0.3, num_items)
    withheld = rng.random(num_items) < held_out_prices
    agree = user_community[buy_src] == item_community[buy_dst]
    rating = 3.0 + 1.5 * agree + 0.5 * level[item_community[buy_dst]] + rng.normal(0.0, 0.25, len(buy_src))
    rating_withheld = rng.random(len(buy_src)) < held_out_ratings
    nodes = pa.concat_tables(
        [
            _nodes_table(user_ids, "user", user_features, None, VALUES),
            _nodes_table(item_ids, "item", item_features, np.where(withheld, np.nan, price), VALUES),
        ]
    )
    edges = pa.concat_tables(
        [
            _edges_table(user_ids[buy_src], item_ids[buy_dst], ("user", "buys", "item"), np.where(rating_withheld, np.nan, rating)),
            _edges_table(item_ids[buy_dst], user_ids[buy_src], ("item", "bought_by", "user"), np.full(len(buy_src), np.nan)),
            _edges_table(user_ids[follow_src], user_ids[follow_dst], ("user", "follows", "user"), np.full(len(follow_src), np.nan)),
        ]
    )
    metadata = GraphMetadata(
        node_types=["user", "item"],
        edge_types=[
            EdgeType(src_node_type="user", relation="buys", dst_node_type="item"),
            EdgeType(src_node_type="item", relation="bought_by", dst_node_type="user"),
            EdgeType(src_node_type="user", relation="follows", dst_node_type="user"),
        ],
    )
    evaluation = _edges_table(user_ids[held_src], item_ids[held_dst], ("user", "buys", "item"))
    prices = pa.table(
        {"node_id": pa.array(item_ids[withheld]), "node_type": pa.array(["item"] * int(withheld.sum())), "label": pa.array(price[withheld])}
    )
    ratings = _edges_table(user_ids[buy_src[rating_withheld]], item_ids[buy_dst[rating_withheld]], ("user", "buys", "item"), rating[rating_withheld])
    return GraphSource(metadata, nodes, edges, evaluation_labels=prices, evaluation_edges=evaluation, evaluation_edge_labels=ratings)


def generate_homogeneous_demo_graph(
    num_nodes: int = 20_000,
    *,
    average_degree: float = 8.0,
    num_communities: int = 8,
    feature_dim: int = 32,
    labeled_fraction: float = 0.7,
    seed: int = 11,
) -> GraphSource:
    """Papers citing papers; a paper's label is its community, some labels are withheld (kept
    apart as evaluation labels). A citation's label (a class, for edge classification) is 1 where
    both papers share their community, else 0; some are withheld as evaluation edge labels."""
    rng = np.random.default_rng(seed)
    community = rng.integers(0, num_communities, num_nodes)
    src, dst = _edges_by_preference(
        rng, _power_law(rng, num_nodes), community, _power_law(rng, num_nodes), community, num_communities, average_degree
    )
    keep = src != dst
    src, dst = src[keep], dst[keep]
    labels = np.where(rng.random(num_nodes) < labeled_fraction, community, -1)
    ids = _string_ids("paper_", num_nodes)
    nodes = _nodes_table(ids, "paper", _features(rng, community, num_communities, feature_dim), labels)
    metadata = GraphMetadata(
        node_types=["paper"], edge_types=[EdgeType(src_node_type="paper", relation="cites", dst_node_type="paper")]
    )
    withheld = labels < 0
    evaluation = pa.table(
        {"node_id": pa.array(ids[withheld]), "node_type": pa.array(["paper"] * int(withheld.sum())), "label": pa.array(community[withheld])}
    )
    same_community = (community[src] == community[dst]).astype(np.int64)
    citation_withheld = rng.random(len(src)) >= labeled_fraction
    edges = _edges_table(ids[src], ids[dst], PAPERS, np.where(citation_withheld, -1, same_community), CLASSES)
    citations = _edges_table(ids[src[citation_withheld]], ids[dst[citation_withheld]], PAPERS, same_community[citation_withheld], CLASSES)
    return GraphSource(metadata, nodes, edges, evaluation_labels=evaluation, evaluation_edge_labels=citations)


# ---- graphs of any size, written a slice at a time -----------------------------------------

STREAM_ABOVE = 1_000_000  # demo graphs of more nodes are written as shard folders by write_demo_shards
SLICE_NODES = 1 << 19  # nodes per shard: the generator holds one slice's nodes and edges
_PARETO_MEAN = 1.0 + 1.0 / (1.6 - 1.0)  # of _power_law's activity (exponent 1.6): degrees without a pass over every node
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _id_array(prefix: str, index: np.ndarray) -> pa.StringArray:
    """_string_ids' strings for any node indices, built as Arrow bytes (no Python strings)."""
    scrambled = (index.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    head = prefix.encode()
    chars = np.empty((len(index), len(head) + 8), dtype=np.uint8)
    chars[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    for digit in range(8):  # a column at a time: one byte per id each
        chars[:, len(head) + digit] = _HEX[(scrambled >> np.uint64(28 - 4 * digit)) & np.uint64(15)]
    width = chars.shape[1]
    offsets = np.arange(0, (len(index) + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(len(index), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars)))


def _popular_member(rng: np.random.Generator, community: np.ndarray, num_nodes: int, num_communities: int) -> np.ndarray:
    """A node of each given community (node i is in community i % num_communities), popular ones
    drawn more often: rank k of the community's n nodes with density ~ k^(-2/3), mapped to a node
    by a fixed permutation of the ranks (k * a + b mod n), so popularity is spread over the ids."""
    size = (num_nodes - community + num_communities - 1) // num_communities  # nodes in each draw's community
    rank = np.minimum((size * rng.random(len(community)) ** 3).astype(np.int64), size - 1)
    step = np.int64(2_654_435_761)  # a prime above 2**31: coprime with every community size
    member = (rank * step + np.int64(12_345)) % size
    return community + member * num_communities


def write_demo_shards(
    directory: str,
    num_nodes: int,
    *,
    average_degree: float = 8.0,
    num_communities: int = 8,
    feature_dim: int = 32,
    labeled_fraction: float = 0.7,
    seed: int = 11,
    slice_nodes: int = SLICE_NODES,
    progress=lambda line: None,
) -> tuple[int, int]:
    """The homogeneous demo graph (papers citing papers) of any size, as a graph source of shard
    folders: nodes/part-<i>.parquet and edges/part-<i>.parquet, one slice of slice_nodes papers
    (and their out-edges) at a time, plus graph_metadata.yaml and evaluation_labels.parquet.
    Memory is one slice's, whatever num_nodes is: every node's community (i % num_communities),
    activity and popularity come from its index and its slice's seed, never from a table of all
    nodes. Seeded and deterministic for the same arguments. Returns (nodes, edges) written."""
    if not 0 < num_nodes < 2**31:
        raise ValueError(f"num_nodes must be in 1..{2**31 - 1}, not {num_nodes}")
    for stale in ("nodes.parquet", "edges.parquet", "nodes", "edges"):  # a single file would be read before shards
        storage.delete_tree(storage.join(directory, stale))
    centroids = np.random.default_rng([seed, 0]).normal(0.0, 1.0, (num_communities, feature_dim)).astype(np.float32)
    metadata = GraphMetadata(node_types=["paper"], edge_types=[EdgeType(src_node_type="paper", relation="cites", dst_node_type="paper")])
    storage.write_text(storage.join(directory, "graph_metadata.yaml"), to_yaml(metadata))
    evaluation_schema = pa.schema([("node_id", pa.string()), ("node_type", pa.string()), ("label", pa.int64())])
    slices = -(-num_nodes // slice_nodes)
    total_edges = 0
    with storage.open_write(storage.join(directory, "evaluation_labels.parquet")) as stream, pq.ParquetWriter(stream, evaluation_schema) as held_out:
        for i in range(slices):
            start, stop = i * slice_nodes, min(num_nodes, (i + 1) * slice_nodes)
            rng = np.random.default_rng([seed, 1, i])
            index = np.arange(start, stop, dtype=np.int64)
            community = index % num_communities
            features = rng.standard_normal((len(index), feature_dim), dtype=np.float32)
            features *= 0.6
            features += centroids[community]
            labels = np.where(rng.random(len(index)) < labeled_fraction, community, -1)
            ids = _id_array("paper_", index)
            nodes = pa.table(
                {
                    "node_id": ids,
                    "node_type": _repeated("paper", len(index)),
                    "features": pa.FixedSizeListArray.from_arrays(pa.array(features.reshape(-1)), feature_dim).cast(pa.list_(pa.float32())),
                    "label": pa.array(labels, pa.int64(), mask=labels < 0),
                },
                schema=NODES_SCHEMA,
            )
            with storage.open_write(storage.join(directory, "nodes", f"part-{i:05d}.parquet")) as shard:
                pq.write_table(nodes, shard, compression="zstd")
            withheld = labels < 0
            held_out.write_table(
                pa.table({"node_id": ids.filter(pa.array(withheld)), "node_type": _repeated("paper", int(withheld.sum())),
                          "label": pa.array(community[withheld], pa.int64())}, schema=evaluation_schema)
            )
            degree = rng.poisson(average_degree * _power_law(rng, len(index)) / _PARETO_MEAN)
            src = np.repeat(index, degree)
            same = rng.random(len(src)) < _SAME_COMMUNITY
            target = np.where(same, src % num_communities, rng.integers(0, num_communities, len(src)))
            dst = _popular_member(rng, target, num_nodes, num_communities)
            pairs = (src * num_nodes + dst)[src != dst]
            pairs.sort(kind="stable")  # numpy's default sort took 60 times as long on these runs of keys
            pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]  # sorted by (src, dst), each once
            with storage.open_write(storage.join(directory, "edges", f"part-{i:05d}.parquet")) as shard:
                pq.write_table(_id_edges(pairs // num_nodes, pairs % num_nodes), shard, compression="zstd")
            total_edges += len(pairs)
            pa.default_memory_pool().release_unused()  # Arrow's pool keeps each slice's buffers otherwise
            progress(f"demo graph: {stop:,}/{num_nodes:,} nodes, {total_edges:,} edges")
    return num_nodes, total_edges


def _id_edges(src: np.ndarray, dst: np.ndarray) -> pa.Table:
    n = len(src)
    return pa.table(
        {
            "src": _id_array("paper_", src),
            "dst": _id_array("paper_", dst),
            "edge_type": _repeated("cites", n),
            "src_type": _repeated("paper", n),
            "dst_type": _repeated("paper", n),
        },
        schema=EDGES_SCHEMA,
    )


def _repeated(text: str, n: int) -> pa.StringArray:
    """n copies of text, as Arrow bytes."""
    width = len(text.encode())
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text.encode() * n)).cast(pa.string())
