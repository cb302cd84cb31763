"""Which nodes each stage of a layer-wise program must recompute after a graph change.

A node's state after a message-passing stage is a function of its own earlier states, its
in-edges and its in-neighbours' earlier states (the layer-wise split's probe checks exactly this
locality before any work). So the nodes whose stage-s state can differ are those of stage s-1,
the destinations whose in-edges changed, and the out-neighbours (in the new graph) of the nodes
of stage s-1; stage 0 (node-wise, before the first hop) differs at the added nodes and those
whose features changed. GCN's normalization reads each source's degree: where a node's in-edges
changed, all of its out-neighbours are recomputed at every stage too.
"""

from __future__ import annotations

import numpy as np

from gnn_assets.graph.enumerated_layout import EdgeTypeKey
from gnn_assets.graph.out_edges import OutEdges
from gnn_assets.incremental.change import GraphChange


def recompute_plan(
    num_stages: int, change: GraphChange, out_edges: dict[EdgeTypeKey, OutEdges], node_types: list[str], degree_normalized: bool
) -> dict[int, dict[str, np.ndarray]]:
    """stage -> node type -> the sorted ids to recompute. The out-neighbours of each stage's nodes
    are looked up by source: work in proportion to the nodes recomputed and their out-edges."""
    current = {t: np.union1d(change.added[t], change.changed_features[t]) for t in node_types}
    plan = {0: current}
    for stage in range(1, num_stages):
        following = {}
        for node_type in node_types:
            parts = [current[node_type]]
            for key, edges in out_edges.items():
                if key[2] != node_type:
                    continue
                parts += [change.touched[key], edges.neighbours(current[key[0]])]
                if degree_normalized and key[0] == key[2]:
                    parts.append(edges.neighbours(change.touched[key]))
            following[node_type] = np.unique(np.concatenate(parts))
        plan[stage] = current = following
    return plan


def largest_share(plan: dict[int, dict[str, np.ndarray]], num_nodes: dict[str, int]) -> float:
    """The largest share of all nodes that one stage recomputes."""
    total = max(sum(num_nodes.values()), 1)
    return max(sum(len(ids) for ids in by_type.values()) / total for by_type in plan.values())
