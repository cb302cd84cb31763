"""Where every artifact lives under a storage root (a local folder or a gs:// prefix)."""

from __future__ import annotations

from dataclasses import dataclass

from gnn_assets import storage
from gnn_assets.config.job_name import validate_job_name
from gnn_assets.config.names import validate_name


@dataclass(frozen=True)
class StorageLayout:
    root: str

    def graph_dir(self, graph_name: str) -> str:
        return storage.join(self.root, "graphs", validate_name(graph_name, "graph name"))

    def graph_source_dir(self, graph_name: str) -> str:
        """Input graph: nodes.parquet and edges.parquet with original string ids."""
        return storage.join(self.graph_dir(graph_name), "source")

    def enumerated_graph_dir(self, graph_name: str) -> str:
        return storage.join(self.graph_dir(graph_name), "enumerated")

    def preprocessed_metadata_uri(self, graph_name: str) -> str:
        return storage.join(self.graph_dir(graph_name), "preprocessed_metadata.yaml")

    def job(self, task_name: str, job_name: str) -> "JobLayout":
        return JobLayout(storage.join(self.root, "jobs", validate_name(task_name, "task name"), validate_job_name(job_name)))


@dataclass(frozen=True)
class JobLayout:
    """Everything one job of one task writes."""

    directory: str

    @property
    def frozen_config_uri(self) -> str:
        return storage.join(self.directory, "frozen_gbml_config.yaml")

    def samples_prefix(self, sample_set: str) -> str:
        """TFRecord prefix; shards are '<prefix>*.tfrecord', as GiGL reads them."""
        return storage.join(self.directory, "samples", validate_name(sample_set, "sample set"), "samples-")

    @property
    def inference_dir(self) -> str:
        return storage.join(self.directory, "inference")

    def inference_run_dir(self, run_id: str) -> str:
        """Everything one run of the Beam job writes; readers see it only once it is committed."""
        return storage.join(self.inference_dir, "runs", validate_name(run_id, "inference run id"))

    def inference_output_dir(self, run_id: str, node_type: str) -> str:
        """Beam job output for one root node type: Parquet shards and dead letters."""
        return storage.join(self.inference_run_dir(run_id), validate_name(node_type, "node type"))

    def champion_output_dir(self, run_id: str, node_type: str) -> str:
        """The champion's output of the same run (gnnAssetsConfig.champion), beside the job's own."""
        return storage.join(self.inference_output_dir(run_id, node_type), "champion")

    @property
    def kept_dir(self) -> str:
        """The layers of states the job's runs keep for later incremental jobs (layerwise.keepStates),
        beside the run folders: a folder per layer, read in place by every run built on it
        (incremental/kept.py)."""
        return storage.join(self.inference_dir, "kept")

    @property
    def inference_manifest_uri(self) -> str:
        """The committed run: which run folder is published, its files, row counts, model hash.
        Written last, after the Beam job succeeded and its files were counted."""
        return storage.join(self.inference_dir, "manifest.json")

    @property
    def candidates_dir(self) -> str:
        """The link candidates stage: run folders and its own manifest, published like inference output."""
        return storage.join(self.directory, "link_candidates")

    def candidates_run_dir(self, run_id: str) -> str:
        return storage.join(self.candidates_dir, "runs", validate_name(run_id, "candidates run id"))

    @property
    def candidates_manifest_uri(self) -> str:
        return storage.join(self.candidates_dir, "manifest.json")

    @property
    def edge_predictions_dir(self) -> str:
        """An edge task's predictions of its supervision edges: run folders and a manifest, published like inference output."""
        return storage.join(self.directory, "edge_predictions")

    def edge_predictions_run_dir(self, run_id: str) -> str:
        return storage.join(self.edge_predictions_dir, "runs", validate_name(run_id, "edge predictions run id"))

    @property
    def edge_predictions_manifest_uri(self) -> str:
        return storage.join(self.edge_predictions_dir, "manifest.json")


def job_layout(layout: StorageLayout, task_name: str, job_name: str) -> JobLayout:
    """Where a job's files lie on a deployment: the one place a job's layout is made. Code that
    has the job itself (config.job.Job) takes it from there; this is for the job being frozen and
    for jobs known by name only (a champion, a deployed model)."""
    return layout.job(task_name, job_name)
