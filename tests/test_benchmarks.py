"""The benchmark code runs end to end at a tiny size, so it cannot rot. No timing is asserted."""

import json
import subprocess
import sys

import pytest

from benchmarks.bench import GOALS, markdown_table
from tests.support import REPO


def test_bench_runs_at_tiny_size_and_writes_its_results(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--size", "tiny", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((tmp_path / "latest.json").read_text())
    assert set(data["metrics"]) == {
        "pipeline_vs_forward",
        "decode_collate_vs_forward",
        "gigl_layout_decode_vs_packed",
        "sampler_roots_per_s",
        "sampler_peak_rss_mb",
        "peak_rss_growth",
        "layerwise_vs_sampled_all_nodes",
        "layerwise_vs_sampled_all_nodes_3_layers",
        "layerwise_vs_bare_forward",
        "layerwise_nodes_per_s",
        "layerwise_peak_rss_mb",
        "layerwise_anonymous_rss_vs_budget",
        "layerwise_beam_vs_local",
        "layerwise_beam_message_bytes_per_edge",
        "serving_p50_ms",
        "serving_p99_ms",
        "serving_rps",
        "ab_vs_single",
        "candidates_per_s",
        "candidates_vs_numpy_brute_force",
        "enumerate_peak_rss_growth",
        "sampler_peak_rss_growth",
        "beam_sampler_vs_local",
        "incremental_vs_full",
        "incremental_vs_full_001pct",
        "incremental_vs_full_1pct",
        "incremental_vs_full_chain",
        "incremental_largest_difference",
        "cli_seconds_beyond_startup",
        "cli_vs_bare_python",
    }
    assert 0 <= data["metrics"]["incremental_largest_difference"] <= 1e-4  # every daily run's published table against the whole job's
    assert all(value > 0 for name, value in data["metrics"].items() if name not in ("incremental_largest_difference", "cli_seconds_beyond_startup"))
    assert data["machine"]["cpu_cores"] >= 1 and data["machine"]["torch"]
    assert data["machine"]["gpu"]  # the card's name, or "no GPU"
    table = (tmp_path / "latest.md").read_text()
    assert table == markdown_table(data) and table in result.stdout
    for name in GOALS:
        assert f"`{name}`" in table


@pytest.mark.slow
def test_bench_scale_runs_the_chain_at_a_tiny_size_and_writes_its_table(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale_chain", "--nodes", "2000,3000", "--budget-mb", "1", "--incremental-nodes", "2000", "--incremental-chain", "1", "--beam-nodes", "2000", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((tmp_path / "scale.json").read_text())
    assert [c["nodes"] for c in data["chains"]] == [2000, 3000]
    for chain in data["chains"]:
        assert chain["metrics"]["plumbing_vs_inference"] > 0 and chain["check"]["exact"], chain["check"]
        assert all(step["seconds"] >= 0 and step["peak_rss_mb"] > 0 and step["peak_anonymous_mb"] > 0 and step["disk_gb_after"] >= 0 for step in chain["steps"].values())
    assert data["growth"]["scale_peak_rss_growth"] > 0 and data["growth"]["seconds_per_million_nodes_growth"] > 0
    assert "| layer-wise job, engine LOCAL (raw_embeddings) |" in (tmp_path / "scale.md").read_text()
    incremental = data["incremental"]["metrics"]
    assert set(incremental) == {"incremental_vs_full", "incremental_vs_full_001pct", "incremental_vs_full_1pct", "incremental_vs_full_chain",
                                "incremental_largest_difference", "incremental_vs_full_roads"}
    assert incremental["incremental_largest_difference"] <= 1e-4
    assert "Incremental jobs on 2,000 nodes" in (tmp_path / "scale.md").read_text()
    beam = data["beam"]["measurements"]["beam"]
    assert data["beam"]["metrics"]["layerwise_beam_vs_local"] > 0 and beam["worker_peak_rss_mb"] > 0 and "outputs" in beam["stage_seconds"]
    assert "Layer-wise on Beam at 2,000 nodes" in (tmp_path / "scale.md").read_text()
