"""What changed between the graph a base job read and the graph enumerated now: the
enumerations' own change records (graph/change_record.py) from the base's enumeration to the
current one, composed into one change in today's ids. O(change): no node or edge of the graph is
read, whatever its size."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gnn_assets.graph.change_record import ChangeRecord
from gnn_assets.graph.enumerated_layout import EdgeTypeKey, edge_type_name
from gnn_assets.graph.id_shift import IdShift


@dataclass
class GraphChange:
    shifts: dict[str, IdShift] = field(default_factory=dict)  # per node type: the base's ids -> today's
    changed_features: dict[str, np.ndarray] = field(default_factory=dict)  # today's ids
    touched: dict[EdgeTypeKey, np.ndarray] = field(default_factory=dict)  # today's ids of destinations whose in-edges changed
    removed_node_ids: dict[str, list[str]] = field(default_factory=dict)  # original ids of the base's nodes gone today
    edges_added: dict[str, int] = field(default_factory=dict)
    edges_removed: dict[str, int] = field(default_factory=dict)

    @property
    def added(self) -> dict[str, np.ndarray]:
        return {t: s.added for t, s in self.shifts.items()}

    def summary(self) -> dict:
        return {
            "nodes_added": {t: len(s.added) for t, s in self.shifts.items()},
            "nodes_removed": {t: len(s.removed) for t, s in self.shifts.items()},
            "features_changed": {t: len(v) for t, v in self.changed_features.items()},
            "edges_added": dict(self.edges_added),
            "edges_removed": dict(self.edges_removed),
        }


def _carried(ids: np.ndarray, shift: IdShift) -> np.ndarray:
    """Ids of the numbering before a shift, in the numbering after it (those that remain)."""
    moved = shift.new_of_old(ids)
    return moved[moved >= 0]


def compose(chain: list[ChangeRecord], num_nodes: dict[str, int], edge_types: list[EdgeTypeKey]) -> GraphChange:
    """The records of a chain (oldest first) as one change; an empty chain: no change."""
    change = GraphChange(
        shifts={t: IdShift.identity(n) for t, n in num_nodes.items()},
        changed_features={t: np.zeros(0, np.int64) for t in num_nodes},
        touched={key: np.zeros(0, np.int64) for key in edge_types},
        removed_node_ids={t: [] for t in num_nodes},
        edges_added={edge_type_name(k): 0 for k in edge_types},
        edges_removed={edge_type_name(k): 0 for k in edge_types},
    )
    if chain:
        change.shifts = {t: IdShift.identity(chain[0].shifts[t].num_old) for t in num_nodes}
    for record in chain:
        for node_type in num_nodes:
            shift = record.shifts[node_type]
            change.changed_features[node_type] = np.union1d(_carried(change.changed_features[node_type], shift), record.features_changed[node_type])
            change.shifts[node_type] = change.shifts[node_type].then(shift)
            gone = set(record.removed_node_ids[node_type])
            change.removed_node_ids[node_type] = [n for n in change.removed_node_ids[node_type] if n not in gone] + record.removed_node_ids[node_type]
        for key in edge_types:
            name = edge_type_name(key)
            change.touched[key] = np.union1d(_carried(change.touched[key], record.shifts[key[2]]), record.touched[name])
            change.edges_added[name] += record.edges_added[name]
            change.edges_removed[name] += record.edges_removed[name]
    return change
