"""The Dataflow job, described offline: the template Beam writes for resources/gcp.yaml (to the
GCS emulator) carries the worker pool, image, experiments, labels, service account and name."""

from __future__ import annotations

import json

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from gnn_assets import storage
from gnn_assets.config.job import Job
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.inference.pipeline import build_pipeline
from gnn_assets.beam.runners import dataflow_flags
from tests.support import REPO
from tests.support.deployments import template_of

pytestmark = pytest.mark.gcp


@pytest.fixture
def gcp_resources(gcs_emulator, monkeypatch):
    bucket = gcs_emulator().removeprefix("gs://")
    monkeypatch.setenv("GNN_GCP_PROJECT", "gnn-prod-project")
    monkeypatch.setenv("GNN_GCS_BUCKET", bucket)
    monkeypatch.setenv("GNN_WORKER_IMAGE", "us-docker.pkg.dev/gnn-prod-project/gnn/worker:1.0")
    monkeypatch.setenv("GNN_DATAFLOW_SERVICE_ACCOUNT", "dataflow@gnn-prod-project.iam.gserviceaccount.com")
    return load_resource_config(str(REPO / "resources" / "gcp.yaml")), bucket


def test_flags_follow_gcp_yaml_and_the_image_override(gcp_resources):
    resources, bucket = gcp_resources
    flags = dataflow_flags(resources, "demo_link_prediction", "daily-1", worker_image="gcr.io/x/custom:2")
    assert "--runner=DataflowRunner" in flags and "--job_name=gnn-demo-link-prediction-daily-1" in flags
    assert f"--temp_location=gs://{bucket}/dataflow/temp" in flags
    assert "--sdk_container_image=gcr.io/x/custom:2" in flags  # --custom_worker_image_uri wins over the config
    assert "--dataflow_service_options=max_workflow_runtime_walltime_seconds=21600" in flags
    resources.proto.dataflow_runner.resource_hints["min_ram"] = "32GB"
    assert "--resource_hints=min_ram=32GB" in dataflow_flags(resources, "demo_link_prediction", "daily-1")


def test_template_describes_the_dataflow_job(gcp_resources):
    resources, bucket = gcp_resources
    frozen = freeze_task_config(load_task_config(str(template_of("demo_link_prediction"))), resources, "daily-1")
    template = f"gs://{bucket}/templates/daily-1.json"
    flags = dataflow_flags(resources, frozen.task_name, frozen.job_name, dagster_run_id="0d5e8a9c-1f2b-4c3d-9e8f-7a6b5c4d3e2f")
    options = PipelineOptions([*flags, f"--template_location={template}"])
    pipeline = build_pipeline(Job.of(frozen, resources), options, "run_20261125T000000_0123abcd", model_sha256="0" * 64)
    pipeline.run().wait_until_finish()

    job = json.loads(storage.read_text(template))
    assert job["name"] == "gnn-demo-link-prediction-daily-1"
    env = job["environment"]
    pool = env["workerPools"][0]
    assert pool["machineType"] == "n2-highmem-8" and pool["numWorkers"] == 2 and pool["diskSizeGb"] == 100
    assert pool["autoscalingSettings"] == {"algorithm": "AUTOSCALING_ALGORITHM_BASIC", "maxNumWorkers": 64}
    assert env["serviceAccountEmail"] == "dataflow@gnn-prod-project.iam.gserviceaccount.com"
    assert "use_runner_v2" in env["experiments"]
    assert "max_workflow_runtime_walltime_seconds=21600" in env.get("serviceOptions", [])
    # The Dagster run that started the job labels it, so a job whose run is gone can be found.
    assert job["labels"] == {"app": "gnn-assets", "dagster-run-id": "0d5e8a9c-1f2b-4c3d-9e8f-7a6b5c4d3e2f"}
    assert "us-docker.pkg.dev/gnn-prod-project/gnn/worker:1.0" in json.dumps(job)
    # Runner v2 stages the graph as a pipeline proto: both root node types have their branch.
    names = {t.unique_name for t in pipeline.to_runner_api().components.transforms.values()}
    assert {"[user] RunInference", "[item] RunInference"} <= names


def test_gpu_workers_are_configured_in_the_template(gcp_resources, monkeypatch):
    """resources/gcp-gpu.yaml: a GPU machine type, the worker_accelerator service option, the
    model on CUDA. (No GPU job can run here: the template Beam writes offline is checked.)"""
    _, bucket = gcp_resources
    monkeypatch.setenv("GNN_GPU_WORKER_IMAGE", "us-docker.pkg.dev/gnn-prod-project/gnn/worker-cuda:1.0")
    resources = load_resource_config(str(REPO / "resources" / "gcp-gpu.yaml"))
    assert resources.device == "cuda"
    frozen = freeze_task_config(load_task_config(str(template_of("demo_node_classification"))), resources, "gpu-1")
    template = f"gs://{bucket}/templates/gpu-1.json"
    options = PipelineOptions([*dataflow_flags(resources, frozen.task_name, frozen.job_name), f"--template_location={template}"])
    build_pipeline(Job.of(frozen, resources), options, "run_20261125T000000_0123abcd", model_sha256="0" * 64).run().wait_until_finish()
    job = json.loads(storage.read_text(template))
    env = job["environment"]
    assert env["workerPools"][0]["machineType"] == "g2-standard-8"
    assert "worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver" in env.get("serviceOptions", [])
    assert "us-docker.pkg.dev/gnn-prod-project/gnn/worker-cuda:1.0" in json.dumps(job)
    flags = dataflow_flags(resources, frozen.task_name, frozen.job_name)
    assert not any(f.startswith("--resource_hints") for f in flags)


class _RunningDataflowJob:
    """Stands in for the DataflowPipelineResult of a job that finishes after its metrics were
    read three times (Dataflow itself cannot be reached here): its state, its running counters
    (a step further at each read of samples_read), cancel()."""

    def __init__(self, node_type: str):
        from apache_beam.metrics.execution import MetricKey, MetricResult
        from apache_beam.metrics.metricbase import MetricName

        self._namespace = f"gnn_assets.{node_type}"
        self._polls = 0
        self.cancelled = False
        self._metric = lambda name, value: MetricResult(MetricKey("Read", MetricName(self._namespace, name)), value, value)

    def job_id(self):
        return "2026-11-25_00_00_00-1234"

    @property
    def state(self):
        from apache_beam.runners.runner import PipelineState

        return PipelineState.DONE if self._polls >= 3 else PipelineState.RUNNING

    def wait_until_finish(self, duration=None):
        import time

        while self._polls < 3:
            time.sleep(0.01)
        return self.state

    def cancel(self):
        self.cancelled = True

    def metrics(self):
        job = self

        class _Metrics:
            def query(self, metric_filter):
                name = next(iter(metric_filter.names))
                if name == "samples_read":
                    job._polls = min(job._polls + 1, 3)
                value = {"samples_read": 1000 * job._polls, "bytes_read": 250 * job._polls}[name]
                return {"counters": [job._metric(name, value)]}

        return _Metrics()


def test_a_dataflow_job_reports_its_metrics_as_progress_while_it_runs(gcp_resources, monkeypatch):
    from gnn_assets.inference import pipeline as inference_pipeline

    resources, _ = gcp_resources
    monkeypatch.setattr(inference_pipeline, "PROGRESS_INTERVAL_SECONDS", 0.01)
    job = _RunningDataflowJob("user")

    class _Pipeline:
        def run(self):
            return job

    lines = []
    result, state, job_id, console_url = inference_pipeline._run_to_completion(_Pipeline(), resources, lines.append, 1000, ["user"], None)
    assert job_id == job.job_id() and console_url.endswith(f"{job.job_id()}?project=gnn-prod-project")
    progress = [line for line in lines if line.startswith("progress: ")]
    assert progress[0].startswith("progress: 1,000 samples read (25% of the input)") and "s left" in progress[0]
    assert progress[-1].startswith("progress: 3,000 samples read (75% of the input)")
    assert not job.cancelled


def test_layerwise_beam_template_has_a_gather_group_and_apply_stage_per_layer(gcp_resources, small_homogeneous_graph, tmp_path):
    """engine BEAM on Dataflow, described offline: the graph is enumerated in the bucket (the job
    reads its row groups' count when it is built); one task per row group of the edges, and every
    message-passing layer has its gather (edges and states read from storage), its group per
    destination piece and its apply."""
    import apache_beam as beam
    import torch

    from gnn_assets.config.task_config import write_frozen_config
    from gnn_assets.graph.enumeration import enumerate_graph_source
    from gnn_assets.graph.source import write_graph_source
    from gnn_assets.inference.protocol import load_inferencer
    from gnn_assets.inference.task_specs import write_untrained_model
    from gnn_assets.layerwise.beam_pipeline import build_job, graph_version, prepare_models
    from gnn_assets.inference.task_specs import graph_types
    from gnn_assets.layerwise.blocks import Blocks
    from gnn_assets.layerwise.frame import probe_models
    from tests.support.deployments import write_task_config

    resources, bucket = gcp_resources
    uri = write_task_config(
        tmp_path, "demo_node_classification",
        **{"gnnAssetsConfig.inferenceMode": "LAYERWISE", "gnnAssetsConfig.layerwise": {"engine": "BEAM", "blockNodes": 256}},
    )  # fmt: skip
    frozen = freeze_task_config(load_task_config(str(uri)), resources, "layers-1")
    write_frozen_config(frozen)
    write_graph_source(resources.layout.graph_source_dir(frozen.graph_name), small_homogeneous_graph)
    enumerate_graph_source(resources.layout, frozen.graph_name)
    write_untrained_model(frozen, 0, resources.model_policy)
    types = graph_types(frozen)
    quiet = lambda _: None  # noqa: E731
    probed = probe_models(frozen, types, load_inferencer(frozen, resources.model_policy), None, None, resources.model_policy, torch.device("cpu"), quiet)
    models = prepare_models(frozen, probed, dict(zip(types.node_types, types.feature_dims)), progress=quiet)
    template = f"gs://{bucket}/templates/layers-1.json"
    options = PipelineOptions([*dataflow_flags(resources, frozen.task_name, frozen.job_name), f"--template_location={template}"])
    pipeline = beam.Pipeline(options=options)
    job = Job.of(frozen, resources)
    build_job(pipeline, job, models, Blocks(256, {"paper": 1000}), "run_20261125T000000_0123abcd", graph_version(job))
    pipeline.run().wait_until_finish()

    assert json.loads(storage.read_text(template))["name"] == "gnn-demo-node-classification-layers-1"
    names = {t.unique_name for t in pipeline.to_runner_api().components.transforms.values()}
    for layer in (1, 2):
        assert {
            f"[layer {layer}] Spread edges from paper",
            f"[layer {layer}] Gather from paper",
            f"[layer {layer}] Group by destination piece",
            f"[layer {layer}] Apply",
            f"[layer {layer}] Mark complete",
        } <= names
    assert not any(name.startswith("[layer 3]") for name in names) and "Write outputs" in names


def test_beam_sampler_template_has_a_join_per_hop(gcp_resources, small_homogeneous_graph, tmp_path):
    """sampler.engine BEAM on Dataflow, described offline: in-edges combined bottom-K per
    destination, then per hop the frontier's join with them and the per-root advance; features
    joined last; one TFRecord write per sample set."""
    import apache_beam as beam

    from gnn_assets.config.job import Job
    from gnn_assets.graph.beam_sampler import build_sampler
    from gnn_assets.graph.enumeration import enumerate_graph_source
    from gnn_assets.graph.source import write_graph_source
    from tests.support.deployments import write_task_config

    resources, bucket = gcp_resources
    uri = write_task_config(tmp_path, "demo_node_classification", **{"gnnAssetsConfig.sampler": {"fanout": [4, 3], "engine": "BEAM"}})
    frozen = freeze_task_config(load_task_config(str(uri)), resources, "sample-1")
    write_graph_source(resources.layout.graph_source_dir(frozen.graph_name), small_homogeneous_graph)
    enumerate_graph_source(resources.layout, frozen.graph_name)
    template = f"gs://{bucket}/templates/sample-1.json"
    options = PipelineOptions([*dataflow_flags(resources, frozen.task_name, frozen.job_name), f"--template_location={template}"])
    pipeline = beam.Pipeline(options=options)
    sets = build_sampler(pipeline, Job.of(frozen, resources))
    pipeline.run().wait_until_finish()

    assert json.loads(storage.read_text(template))["name"] == "gnn-demo-node-classification-sample-1"
    assert sets.prefixes == frozen.sample_prefixes("paper") and sum(sets.roots) == 1000
    names = {t.unique_name for t in pipeline.to_runner_api().components.transforms.values()}
    assert {"Bottom-K per destination", "Hop 0 join", "Hop 0 advance", "Hop 1 join", "Hop 1 advance", "Join features"} <= names
    assert "Hop 2 join" not in names and {"Write set 0", "Write set 1"} <= names
