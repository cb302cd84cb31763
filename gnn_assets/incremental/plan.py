"""An incremental job's plan, made once before any layer runs: the graph's change since the base,
the ids each stage recomputes (or None: the change reaches more than maxAffectedFraction and
the whole job runs), and the base's kept states moved to the new graph's ids."""

from __future__ import annotations

import numpy as np
import torch

from gnn_assets.config.task_config import TaskConfig
from gnn_assets.incremental.affected import largest_share, recompute_plan
from gnn_assets.incremental.base import BaseJob
from gnn_assets.incremental.change import diff_graphs
from gnn_assets.incremental.errors import IncrementalRefused
from gnn_assets.incremental.kept import read_state
from gnn_assets.models.normalization import is_normalized_gcn

_MAX_RUNS = 4096  # beyond this many runs of consecutive rows, one gather is faster


def _copy_rows(source: np.ndarray, index: np.ndarray, out: torch.Tensor) -> None:
    """out[i] = source[index[i]] where index[i] >= 0. Ids shift only where nodes come and go, so
    the index is runs of consecutive rows: each run is one slice copy (a memory-mapped base state
    is read in order), not a gather row by row."""
    rows = np.flatnonzero(index >= 0)
    if not len(rows):
        return
    taken, target = index[rows], out.numpy()  # target shares out's memory
    breaks = np.flatnonzero((np.diff(rows) != 1) | (np.diff(taken) != 1)) + 1
    if len(breaks) >= _MAX_RUNS:
        target[rows] = source[taken]
        return
    for start, stop in zip(np.concatenate([[0], breaks]), np.concatenate([breaks, [len(rows)]])):
        target[rows[start] : rows[stop - 1] + 1] = source[taken[start] : taken[stop - 1] + 1]


class IncrementalPlan:
    """An incremental job's plan: the graph's change since the base, the nodes each stage
    recomputes (None: the whole job runs, the change reaches too much), the base's states."""

    def __init__(self, base: BaseJob, program, graph_dir: str, types, features, in_edges, num_nodes: dict[str, int], config: TaskConfig, progress):
        """program: the split model (layerwise/split.py's LayerProgram); types: the task's graph
        types; features and in_edges: the graph now, as the job holds it."""
        self.base, self.program = base, program
        missing = sorted(n.name for n in program.last_read if n not in program.inputs and n.name not in base.kept.states)
        if missing:
            raise IncrementalRefused(
                f"{config.uri}: base job {base.job_name!r} kept no state {missing[0]!r} of this model's layers (another version of its code?)"
            )
        self.change = diff_graphs(base.kept.graph_dir, graph_dir, list(types.node_types), list(types.edge_types), features, in_edges)
        gcn = any(is_normalized_gcn(c.module) for c in program.calls.values())
        self.plan = recompute_plan(len(program.stages), self.change, in_edges, list(types.node_types), gcn)
        self.counts = {stage: {t: len(ids) for t, ids in by_type.items()} for stage, by_type in self.plan.items()}
        self.share = largest_share(self.plan, num_nodes)
        self.fell_back = self.share > config.max_affected_fraction
        summary = self.change.summary()
        progress(f"incremental from {base.job_name}: {summary}; recomputing per stage {self.counts} (largest share {self.share:.1%})")
        if self.fell_back:
            progress(f"the change reaches {self.share:.1%} of the nodes in a stage, more than maxAffectedFraction "
                     f"{config.max_affected_fraction:.0%}: running the whole job instead")
            self.plan = None

    def base_state(self, node) -> torch.Tensor:
        """A kept state of the base, its rows moved to this graph's ids (zeros for added nodes,
        which every stage recomputes)."""
        kept = read_state(self.base.kept, node.name)
        old_of_new = self.change.old_of_new[self.program.node_type[node]]
        out = torch.from_numpy(np.zeros((len(old_of_new), *kept.shape[1:]), dtype=kept.dtype))
        _copy_rows(kept, old_of_new, out)
        return out

    def details(self) -> dict:
        return {
            "base_job": self.base.job_name,
            "base_seconds": self.base.seconds,
            **self.change.summary(),
            "recomputed_per_stage": {str(k): v for k, v in self.counts.items()},
            "largest_share": self.share,
            "ran_whole_job": self.fell_back,
        }
