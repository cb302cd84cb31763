"""What a layer-wise run reports: each stage's nodes, chunks, passes and seconds, the run's
memory and spill figures, and progress lines while a stage runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

_REPORT_EVERY_SECONDS = 5.0


@dataclass
class StageStats:
    stage: int
    node_type: str
    nodes: int
    chunks: int
    chunk_nodes: int
    seconds: float
    streamed_passes: int = 0  # passes over the streamed calls' sources (0: sources gathered)


class StageProgress:
    """A stage's chunks done, reported every few seconds and at its end."""

    def __init__(self, report: Callable[[str], None], num_layers: int, stage: int, node_type: str, total: int, passes: int):
        """passes: over the streamed calls' sources (0: none streamed)."""
        self.report, self.num_layers, self.stage, self.node_type, self.total = report, num_layers, stage, node_type, total
        self.passes = passes
        self.started = self.last_report = time.monotonic()
        self.chunks = 0

    def done(self, nodes: int, chunk: int) -> None:
        self.chunks += 1
        now = time.monotonic()
        if now - self.last_report >= _REPORT_EVERY_SECONDS or nodes == self.total:
            rate = nodes / max(now - self.started, 1e-9)
            self.report(
                f"layer {self.stage}/{self.num_layers} {self.node_type}: {nodes:,}/{self.total:,} nodes, {rate:,.0f} nodes/s"
                + (f", {self.chunks} chunks of up to {chunk:,}" if nodes == self.total else "")
                + (f", sources streamed in {self.passes} passes" if nodes == self.total and self.passes else "")
            )
            self.last_report = now


@dataclass
class LayerwiseStats:
    device: str
    budget_bytes: int
    states_bytes: int  # kept states at their largest, all nodes
    spilled: bool
    spill_bytes: int = 0
    oom_retries: int = 0
    stages: list[StageStats] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "device": self.device,
            "budget_bytes": self.budget_bytes,
            "states_bytes": self.states_bytes,
            "spilled": self.spilled,
            "spill_bytes": self.spill_bytes,
            "oom_retries": self.oom_retries,
            "layers": max((s.stage for s in self.stages), default=0),
            "stages": [vars(s) for s in self.stages],
        }
