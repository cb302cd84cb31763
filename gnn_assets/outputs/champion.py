"""The champion a job ran beside its own model: what every engine records and drift reads.

Resolving which job is the champion (gnnAssetsConfig.champion) is the comparison package's; the
reference itself sits here, below every engine that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gnn_assets.config.task_config import TaskConfig

CHAMPION = "champion"  # the role of the champion's model: its metrics namespace and output folder


@dataclass(frozen=True)
class Champion:
    job_name: str
    config: TaskConfig  # the champion job's frozen config: its inferencer and model file
    model_sha256: str  # the model file must still hash to this

    def to_dict(self) -> dict:
        return {"job_name": self.job_name, "model_sha256": self.model_sha256, "config_uri": self.config.uri}
