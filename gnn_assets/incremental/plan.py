"""An incremental job's plan, made once before any layer runs: the graph's change since the base
(the enumerations' change records), the ids each stage recomputes (or None: the change reaches
more than maxAffectedFraction, or the graph keeps no record back to the base's enumeration, and
the whole job runs), and the base's kept states read by row where a stage gathers them."""

from __future__ import annotations

import numpy as np
import torch

from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.change_record import change_chain
from gnn_assets.graph.out_edges import open_out_edges
from gnn_assets.incremental.affected import largest_share, recompute_plan
from gnn_assets.incremental.base import BaseJob
from gnn_assets.incremental.change import GraphChange, compose
from gnn_assets.incremental.errors import IncrementalRefused
from gnn_assets.incremental.kept import KeptReader, verify_kept_content
from gnn_assets.incremental.overlay_state import OverlayState
from gnn_assets.models.normalization import is_normalized_gcn


class IncrementalPlan:
    """An incremental job's plan: the graph's change since the base, the nodes each stage
    recomputes (None: the whole job runs), the base's states by row."""

    def __init__(self, base: BaseJob, program, graph_dir: str, types, num_nodes: dict[str, int], config: TaskConfig, progress):
        """program: the split model (layerwise/split.py's LayerProgram); types: the task's graph
        types. The graph is read where the change reaches: its out-edges by source."""
        self.base, self.program = base, program
        missing = sorted(n.name for n in program.last_read if n not in program.inputs and n.name not in base.kept.states)
        if missing:
            raise IncrementalRefused(
                f"{config.uri}: base job {base.job_name!r} kept no state {missing[0]!r} of this model's layers (another version of its code?)"
            )
        self.plan = None
        self.counts, self.share, self.change, self.kept_files_hashed = {}, 1.0, None, 0
        chain = change_chain(graph_dir, base.kept.enumeration_id)
        if chain is None:
            self.why_whole = "no_change_record"
            progress(f"incremental from {base.job_name}: the graph keeps no record of what changed since the base's enumeration "
                     f"{base.kept.enumeration_id} (enumerated more than the records kept, or by an older version): running the whole job")
            return
        out_edges = {key: open_out_edges(graph_dir, key, num_nodes[key[0]]) for key in types.edge_types}
        if any(edges is None for edges in out_edges.values()):
            self.why_whole = "no_out_edges"
            progress(f"incremental from {base.job_name}: {graph_dir} has no out-edges by source to find what the change "
                     "reaches (enumerated by an older version): running the whole job; the next enumeration writes them")
            return
        self.change = compose(chain, num_nodes, list(types.edge_types))
        for node_type, shift in self.change.shifts.items():
            if shift.num_new != num_nodes[node_type]:
                raise IncrementalRefused(f"{graph_dir}: its change records end at {shift.num_new:,} {node_type} nodes, the graph has {num_nodes[node_type]:,}; enumerate the graph again")
        gcn = any(is_normalized_gcn(c.module) for c in program.calls.values())
        plan = recompute_plan(len(program.stages), self.change, out_edges, list(types.node_types), gcn)
        self.counts = {stage: {t: len(ids) for t, ids in by_type.items()} for stage, by_type in plan.items()}
        self.share = largest_share(plan, num_nodes)
        self.num_nodes = num_nodes
        progress(f"incremental from {base.job_name}: {self.change.summary()}; recomputing per stage {self.counts} (largest share {self.share:.1%})")
        if self.share > config.max_affected_fraction:
            self.why_whole = "share"
            progress(f"the change reaches {self.share:.1%} of the nodes in a stage, more than maxAffectedFraction "
                     f"{config.max_affected_fraction:.0%}: running the whole job instead")
            return
        hashed = verify_kept_content(base.kept, base.what)  # read from here on: verified before any layer
        progress(f"the base's {len(base.kept.file_hashes)} kept files verified: {hashed} hashed again (their version changed since it was recorded), "
                 f"{len(base.kept.file_hashes) - hashed} unchanged")
        self.kept_files_hashed = hashed
        self.why_whole = ""
        self.plan = plan
        self.reader = KeptReader(base.kept, self.change.shifts)

    @property
    def fell_back(self) -> bool:
        return self.plan is None

    def base_state(self, node, ids: np.ndarray) -> OverlayState:
        """A layer state of this job: the rows `ids` to compute, the base's kept rows for the rest."""
        info = self.base.kept.states[node.name]
        dtype = torch.from_numpy(np.zeros(0, dtype=np.dtype(info["dtype"]))).dtype
        return OverlayState(ids, self.num_nodes[info["node_type"]], tuple(info["shape"][1:]), dtype,
                            lambda rows, out: self.reader.rows(node.name, rows, out))

    def details(self) -> dict:
        return {
            "base_job": self.base.job_name,
            "base_run": self.base.run_id,
            "base_seconds": self.base.seconds,
            **(self.change or GraphChange()).summary(),
            "recomputed_per_stage": {str(k): v for k, v in self.counts.items()},
            "largest_share": self.share,
            "ran_whole_job": self.fell_back,
            "why_whole_job": self.why_whole,
            "kept_files_hashed": self.kept_files_hashed,
        }
