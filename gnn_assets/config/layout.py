"""Where every artifact lives under a storage root (a local folder or a gs:// prefix)."""

from __future__ import annotations

from dataclasses import dataclass

from gnn_assets import storage


@dataclass(frozen=True)
class StorageLayout:
    root: str

    def graph_dir(self, graph_name: str) -> str:
        return storage.join(self.root, "graphs", graph_name)

    def graph_source_dir(self, graph_name: str) -> str:
        """Input graph: nodes.parquet and edges.parquet with original string ids."""
        return storage.join(self.graph_dir(graph_name), "source")

    def enumerated_graph_dir(self, graph_name: str) -> str:
        return storage.join(self.graph_dir(graph_name), "enumerated")

    def preprocessed_metadata_uri(self, graph_name: str) -> str:
        return storage.join(self.graph_dir(graph_name), "preprocessed_metadata.yaml")

    def job(self, task_name: str, job_name: str) -> "JobLayout":
        return JobLayout(storage.join(self.root, "jobs", task_name, job_name))


@dataclass(frozen=True)
class JobLayout:
    """Everything one job of one task writes."""

    directory: str

    @property
    def frozen_config_uri(self) -> str:
        return storage.join(self.directory, "frozen_gbml_config.yaml")

    def samples_prefix(self, sample_set: str) -> str:
        """TFRecord prefix; shards are '<prefix>*.tfrecord', as GiGL reads them."""
        return storage.join(self.directory, "samples", sample_set, "samples-")

    def inference_output_dir(self, node_type: str) -> str:
        """Beam job output for one root node type: Parquet shards and dead letters."""
        return storage.join(self.directory, "inference", node_type)

    @property
    def inference_result_uri(self) -> str:
        """JSON summary of the job's last Beam run: job id, runner, metrics, outputs."""
        return storage.join(self.directory, "inference", "result.json")
