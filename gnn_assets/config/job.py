"""One job of a task on one deployment: its frozen config, the resources it runs on, and where
its files lie. Built once where a job starts (the driver, an asset, the server) and passed down,
so no engine rebuilds it from names."""

from __future__ import annotations

from dataclasses import dataclass

from gnn_assets.config.layout import JobLayout, job_layout
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig


@dataclass(frozen=True)
class Job:
    config: TaskConfig  # frozen
    resources: Resources
    layout: JobLayout

    @classmethod
    def of(cls, config: TaskConfig, resources: Resources) -> "Job":
        return cls(config, resources, job_layout(resources.layout, config.task_name, config.job_name))

    @property
    def graph_dir(self) -> str:
        """The enumerated graph the job reads."""
        return self.resources.layout.enumerated_graph_dir(self.config.graph_name)
