"""gs:// everywhere, against gcp-storage-emulator over a real socket."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.parquet as pq
import pytest

from gnn_assets import storage
from gnn_assets.jobs import driver
from tests.support.sensors import added_partitions, sensor_tick
from tests.support.deployments import TASK, make_deployment, prepare_job

pytestmark = pytest.mark.gcp


def test_storage_primitives_on_gcs(gcs_emulator):
    bucket = gcs_emulator()
    storage.write_text(f"{bucket}/a/one.txt", "1")
    storage.write_bytes(f"{bucket}/a/b/two.bin", b"\x00\x01")
    assert storage.read_text(f"{bucket}/a/one.txt") == "1"
    assert storage.exists(f"{bucket}/a/b/two.bin")
    assert [m.size for m in storage.match_files(f"{bucket}/a/b/*.bin")] == [2]
    storage.delete_tree(f"{bucket}/a")
    assert storage.glob(f"{bucket}/a/**") == []


@pytest.mark.slow
def test_sampler_and_beam_job_read_and_write_gcs(tmp_path, gcs_emulator, small_homogeneous_graph):
    root = f"{gcs_emulator()}/deployment"
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, storage_root=root)
    prefixes = job.frozen.sample_prefixes("paper")
    assert all(p.startswith("gs://") for p in prefixes)
    assert storage.glob(prefixes[0] + "*.tfrecord") and storage.glob(prefixes[1] + "*.tfrecord")

    run = driver.run(job.job_name, job.task_config_uri, job.resources.uri, stages=["infer"], progress=lambda _: None)
    output = run.job.outputs["paper"]
    assert output.output_dir.startswith("gs://") and (output.samples, output.rows, output.dead_letters) == (1000, 1000, 0)
    tables = [pq.read_table(io.BytesIO(storage.read_bytes(uri))) for uri in output.files["embeddings"]]
    node_ids = np.concatenate([t["node_id"].to_numpy() for t in tables])
    assert sorted(node_ids.tolist()) == list(range(1000))
    assert storage.exists(run.job_layout.inference_manifest_uri)


def test_sensor_sees_a_new_model_under_a_gcs_prefix(tmp_path, gcs_emulator):
    deployment = make_deployment(tmp_path, storage_root=f"{gcs_emulator()}/deployment")
    assert deployment.resources.model_root.startswith("gs://")
    storage.write_bytes(storage.join(deployment.resources.model_root, TASK, "gcs-model.pt"), b"weights")
    tick = sensor_tick(deployment, None)
    assert added_partitions(tick) == ["gcs-model"] and [r.partition_key for r in tick.run_requests] == ["gcs-model"]
    assert sensor_tick(deployment, tick.cursor).run_requests == []
