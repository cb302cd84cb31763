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

    def job_dir(self, job_name: str) -> str:
        return storage.join(self.root, "jobs", job_name)

    def frozen_config_uri(self, job_name: str) -> str:
        return storage.join(self.job_dir(job_name), "frozen_gbml_config.yaml")

    def samples_prefix(self, job_name: str, sample_set: str) -> str:
        """TFRecord prefix; shards are '<prefix>*.tfrecord', as GiGL reads them."""
        return storage.join(self.job_dir(job_name), "samples", sample_set, "samples-")

    def inference_output_dir(self, job_name: str, node_type: str) -> str:
        """Beam job output for one root node type: Parquet shards, dead letters, metrics."""
        return storage.join(self.job_dir(job_name), "inference", node_type)

    def inference_result_uri(self, job_name: str) -> str:
        """JSON summary of the job's last Beam run: job id, runner, metrics, outputs."""
        return storage.join(self.job_dir(job_name), "inference", "result.json")
