"""A running Beam job reports its progress (samples, rate, share of the input, time left)."""

from __future__ import annotations

import pytest

from gnn_assets.jobs import driver
from gnn_assets.inference import pipeline
from gnn_assets.beam import progress
from tests.support.deployments import prepare_job


def test_progress_lines_say_samples_rate_share_and_time_left():
    assert progress.describe(2_500, 250, 1_000, 10.0) == "progress: 2,500 samples read (25% of the input), 250 samples/s, about 30 s left"
    assert progress.describe(10_000, 1_000, 1_000, 40.0) == "progress: 10,000 samples read (100% of the input), 250 samples/s"


@pytest.mark.slow
def test_a_running_job_logs_its_progress(tmp_path, small_homogeneous_graph, monkeypatch):
    """Before: the job logged a start and an end line and nothing in between."""
    monkeypatch.setattr(pipeline, "PROGRESS_INTERVAL_SECONDS", 0.05)
    monkeypatch.setattr(progress, "WRITE_EVERY_SECONDS", 0.0)
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"inferencerConfig.inferenceBatchSize": 4})
    lines = []
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, stages=["infer"], progress=lines.append)
    started = next(i for i, line in enumerate(lines) if line.startswith("running Beam job"))
    finished = next(i for i, line in enumerate(lines) if line.startswith("paper: "))
    reports = [line for line in lines[started:finished] if line.startswith("progress: ")]
    assert reports, lines
    assert all("samples read (" in r and "samples/s" in r for r in reports)
    counts = [int(r.split()[1].replace(",", "")) for r in reports]
    assert counts == sorted(counts) and 0 < counts[-1] <= 1000
