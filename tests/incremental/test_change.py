"""The enumeration's record of what changed, against a diff by original id done here in Python
(an independent oracle): after each kind of change, and composed over several enumerations."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from gnn_assets import storage
from gnn_assets.config.layout import StorageLayout
from gnn_assets.graph.change_record import MAX_HISTORY, change_chain
from gnn_assets.graph.enumerated_layout import edges_by_original_id, enumeration_id, read_column, mapping_uri
from gnn_assets.graph.enumeration import enumerate_graph_source
from gnn_assets.graph.source import GraphSource, write_graph_source
from gnn_assets.incremental.change import compose

KEY = ("paper", "cites", "paper")


def _snapshot(directory: str) -> dict:
    """Original ids, features by original id, in-neighbours by original id."""
    ids = read_column(mapping_uri(directory, "paper"), "node_id").to_pylist()
    features = storage.read_parquet(storage.join(directory, "nodes_paper.parquet"))["features"].to_pylist()
    sources: dict[str, set] = {}
    for src, dst in edges_by_original_id(directory, KEY):
        sources.setdefault(dst, set()).add(src)
    return {"ids": ids, "features": dict(zip(ids, features)), "sources": sources}


def _expected(before: dict, after: dict) -> dict:
    new_id = {n: i for i, n in enumerate(after["ids"])}
    kept = [n for n in after["ids"] if n in before["features"]]
    return {
        "added": sorted(new_id[n] for n in after["ids"] if n not in before["features"]),
        "removed": sorted(set(before["ids"]) - set(after["ids"])),
        "features": sorted(new_id[n] for n in kept if after["features"][n] != before["features"][n]),
        # A surviving destination whose set of in-neighbours differs (a removed source included).
        "touched": sorted(new_id[n] for n in after["ids"] if n in before["features"] and after["sources"].get(n, set()) != before["sources"].get(n, set())),
    }


def _changed(source: GraphSource, seed: int) -> GraphSource:
    rng = np.random.default_rng(seed)
    nodes, edges = source.nodes, source.edges
    ids = nodes["node_id"].to_pylist()
    features = nodes["features"].to_pylist()
    for row in rng.choice(len(ids), 5, replace=False):
        features[row] = [v + 1.0 for v in features[row]]
    nodes = nodes.set_column(nodes.column_names.index("features"), "features", pa.array(features, nodes.schema.field("features").type))
    gone = {ids[i] for i in rng.choice(len(ids), 3, replace=False)}
    keep = np.ones(edges.num_rows, dtype=bool)
    keep[rng.choice(edges.num_rows, 7, replace=False)] = False
    edges = edges.filter(pa.array(keep))
    edges = edges.filter(pa.array([s not in gone and d not in gone for s, d in zip(edges["src"].to_pylist(), edges["dst"].to_pylist())]))
    nodes = nodes.filter(pa.array([n not in gone for n in nodes["node_id"].to_pylist()]))
    new_node = {**nodes.slice(0, 1).to_pylist()[0], "node_id": f"added-{seed}"}
    nodes = pa.concat_tables([nodes, pa.Table.from_pylist([new_node], schema=nodes.schema)])
    present = nodes["node_id"].to_pylist()
    added = [{**edges.slice(0, 1).to_pylist()[0], "src": present[int(a)], "dst": present[int(b)]} for a, b in rng.integers(0, len(present), (6, 2))]
    added.append({**edges.slice(0, 1).to_pylist()[0], "src": f"added-{seed}", "dst": present[3]})
    edges = pa.concat_tables([edges, pa.Table.from_pylist(added, schema=edges.schema)])
    return GraphSource(source.metadata, nodes, edges)


@pytest.fixture
def enumerated(tmp_path):
    layout = StorageLayout(str(tmp_path))

    def enumerate_(source: GraphSource) -> str:
        write_graph_source(layout.graph_source_dir("g"), source)
        enumerate_graph_source(layout, "g")
        return layout.enumerated_graph_dir("g")

    return enumerate_


def test_each_record_says_what_a_diff_by_original_id_says(enumerated, small_homogeneous_graph):
    directory = enumerated(small_homogeneous_graph)
    first = enumeration_id(directory)
    assert change_chain(directory, first) == []
    before, graph = _snapshot(directory), small_homogeneous_graph
    original = before
    for seed in range(3):
        graph = _changed(graph, seed)
        previous = enumeration_id(directory)
        enumerated(graph)
        after = _snapshot(directory)
        (record,) = change_chain(directory, previous)
        expected = _expected(before, after)
        shift = record.shifts["paper"]
        assert shift.added.tolist() == expected["added"] and len(shift.removed) == len(expected["removed"]) == 3
        assert sorted(record.removed_node_ids["paper"]) == expected["removed"]
        assert record.features_changed["paper"].tolist() == expected["features"]
        # Destinations of added edges are touched even where an equal edge was removed and added.
        assert set(expected["touched"]) <= set(record.touched["paper-cites-paper"].tolist())
        assert set(record.touched["paper-cites-paper"].tolist()) <= set(expected["touched"]) | set(expected["added"])
        before = after
    # Three records back to the first enumeration, composed into the change from it.
    chain = change_chain(directory, first)
    assert [r.from_id for r in chain][0] == first and len(chain) == 3
    composed = compose(chain, {"paper": len(before["ids"])}, [KEY])
    direct = _expected(original, before)
    assert composed.shifts["paper"].added.tolist() == direct["added"] and len(composed.shifts["paper"].removed) == len(direct["removed"])
    assert sorted(composed.removed_node_ids["paper"]) == direct["removed"]
    # Composed, a change undone later still counts (recomputed for nothing, never missed).
    assert set(direct["features"]) <= set(composed.changed_features["paper"].tolist())
    assert set(direct["touched"]) <= set(composed.touched[KEY].tolist())
    old_ids = composed.shifts["paper"].old_of_new(np.arange(len(before["ids"])))
    assert all(original["ids"][o] == n for o, n in zip(old_ids, before["ids"]) if o >= 0)


def test_the_chain_is_kept_for_max_history_enumerations(enumerated, small_homogeneous_graph):
    directory = enumerated(small_homogeneous_graph)
    ids = [enumeration_id(directory)]
    for _ in range(MAX_HISTORY + 1):
        enumerated(small_homogeneous_graph)  # the same graph again: an empty change each time
        ids.append(enumeration_id(directory))
    assert change_chain(directory, ids[0]) is None  # further back than the records kept
    chain = change_chain(directory, ids[1])
    assert len(chain) == MAX_HISTORY and all(not len(r.features_changed["paper"]) and r.shifts["paper"].is_identity for r in chain)
