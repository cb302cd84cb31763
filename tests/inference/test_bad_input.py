"""Bad samples go to the dead-letter output and are counted; a bad model fails before any job."""

from __future__ import annotations

import glob
import json
import os

import pytest
import torch

from gnn_assets.graph.tfrecord import write_record
from gnn_assets.jobs import driver
from gnn_assets.inference.pipeline import DeadLetterThresholdExceeded, SamplesIncomplete
from gnn_assets.inference.protocol import ModelMismatchError
from gnn_assets.inference.task_specs import NodeClassificationTaskSpec
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import prepare_job
from tests.support.samples import add_bad_shard

QUIET = {"progress": lambda _: None}


def _dead_letters(job):
    inference_dir = job.resources.layout.job(job.frozen.task_name, job.job_name).inference_dir
    pattern = os.path.join(inference_dir, "runs", "*", "paper", "dead_letters", "*.jsonl")
    return [json.loads(line) for path in glob.glob(pattern) for line in open(path)]


@pytest.mark.slow
def test_bad_records_are_dead_lettered_and_fail_the_job_at_the_default_threshold(tmp_path, small_homogeneous_graph):
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph)
    add_bad_shard(job)
    with pytest.raises(DeadLetterThresholdExceeded, match=r"paper: 2 of 1002 samples failed .*maxDeadLetterFraction=0;"):
        driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)
    letters = _dead_letters(job)
    assert len(letters) == 2 and {d["stage"] for d in letters} == {"decode"}
    assert any("not a PackedNeighborhood" in d["error"] for d in letters)
    assert all(d["record_base64"] for d in letters)


@pytest.mark.slow
def test_within_threshold_the_job_succeeds_and_counts_dead_letters(tmp_path, small_homogeneous_graph):
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"gnnAssetsConfig.maxDeadLetterFraction": 0.01})
    add_bad_shard(job)
    run = driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)
    out = run.job.outputs["paper"]
    assert (out.samples, out.rows, out.dead_letters) == (1002, 1000, 2)
    assert run.job.metrics["gnn_assets.paper/dead_letters"] == 2
    assert open_warehouse(job.resources).row_count(job.frozen.output_tables("paper")["embeddings"]) == 1000


class FailingOnRoot7(NodeClassificationTaskSpec):
    """Raises inside the model for any batch that holds root 7."""

    def infer_batch(self, batch, device):
        if 7 in batch.root_node_ids:
            raise RuntimeError("model failed on root 7")
        return super().infer_batch(batch, device)


@pytest.mark.slow
def test_failed_inference_batches_are_dead_lettered_per_sample(tmp_path, small_homogeneous_graph):
    job = prepare_job(
        tmp_path,
        "demo_node_classification",
        small_homogeneous_graph,
        allowed_class_prefixes=["gnn_assets.", "tests."],
        **{
            "inferencerConfig.inferencerClsPath": f"{__name__}.FailingOnRoot7",
            "inferencerConfig.inferenceBatchSize": 8,
            "gnnAssetsConfig.maxDeadLetterFraction": 0.5,
        },
    )
    run = driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)
    letters = _dead_letters(job)
    assert letters and {d["stage"] for d in letters} == {"inference"}
    assert 7 in {d["node_id"] for d in letters} and len(letters) <= 8
    assert all("model failed on root 7" in d["error"] for d in letters)
    assert run.job.outputs["paper"].rows + len(letters) == 1000


def test_a_state_dict_of_the_wrong_shape_fails_before_the_pipeline(tmp_path, small_homogeneous_graph):
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph)
    state = torch.load(job.frozen.trained_model_uri, weights_only=True)
    state["head.weight"] = torch.zeros(3, 32)
    torch.save(state, job.frozen.trained_model_uri)
    with pytest.raises(ModelMismatchError, match=r"(?s)does not fit the model .*size mismatch for head\.weight"):
        driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)
    assert not os.path.exists(job.resources.layout.job(job.frozen.task_name, job.job_name).inference_dir)


def test_a_model_file_that_is_not_a_state_dict_is_refused(tmp_path, small_homogeneous_graph):
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph)
    with open(job.frozen.trained_model_uri, "wb") as f:
        f.write(b"not a torch file")
    with pytest.raises(ModelMismatchError, match=r"is not a torch\.save archive \(a zip file\)"):
        driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)


def _corrupt(path: str, how: str) -> int:
    """Spoil a shard's framing at its second record; returns the byte offset of the break."""
    data = bytearray(open(path, "rb").read())
    first_length = int.from_bytes(data[:8], "little")
    second = 16 + first_length
    if how == "cut record":
        del data[second + 20 :]
    elif how == "flipped length bit":
        data[second] ^= 0x04
    elif how == "flipped crc bit":
        second_length = int.from_bytes(data[second : second + 8], "little")
        data[second + 12 + second_length] ^= 0x01
    elif how == "not a tfrecord":
        data[:] = b"PAR1 this is some other file that matches the glob" * 10
        second = 0
    open(path, "wb").write(bytes(data))
    return second


@pytest.mark.slow
@pytest.mark.parametrize("how", ["cut record", "flipped length bit", "flipped crc bit", "not a tfrecord"])
def test_corrupt_framing_dead_letters_the_rest_of_the_shard(tmp_path, small_homogeneous_graph, how):
    """Before: one corrupt shard failed the whole job with a traceback that did not name it; then
    its lost rest counted as one dead letter however many samples it held."""
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"gnnAssetsConfig.maxDeadLetterFraction": 0.9})
    labeled, unlabeled = (glob.glob(prefix + "*.tfrecord") for prefix in job.frozen.sample_prefixes("paper"))
    labeled_count = sum(1 for _ in open_records(labeled[0]))
    offset = _corrupt(labeled[0], how)
    unlabeled_count = sum(1 for _ in open_records(unlabeled[0]))
    run = driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)
    out = run.job.outputs["paper"]
    (letter,) = [d for d in _dead_letters(job) if d["stage"] == "read"]
    assert letter["shard"] == labeled[0] and f"at byte {offset}" in letter["error"]
    good_before_break = 0 if how == "not a tfrecord" else 1
    assert out.corrupt_shards == 1 and out.dead_letters == labeled_count - good_before_break
    assert out.rows == unlabeled_count + good_before_break and out.samples == labeled_count + unlabeled_count
    assert open_warehouse(job.resources).row_count(job.frozen.output_tables("paper")["embeddings"]) == out.rows


def _published_rows(job) -> int:
    return open_warehouse(job.resources).row_count(job.frozen.output_tables("paper")["embeddings"])


@pytest.mark.slow
def test_a_broken_shard_beyond_the_threshold_publishes_nothing(tmp_path, small_homogeneous_graph):
    """Before: a shard cut after its first record counted as one dead letter of 1,000 samples, so at
    maxDeadLetterFraction 0.01 the job exited 0 and replaced the tables with a fraction of the nodes."""
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"gnnAssetsConfig.maxDeadLetterFraction": 0.01})
    driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)
    before = _published_rows(job)
    labeled = glob.glob(job.frozen.sample_prefixes("paper")[0] + "*.tfrecord")
    _corrupt(labeled[0], "cut record")
    with pytest.raises(DeadLetterThresholdExceeded, match=r"paper: \d+ of 1000 samples failed"):
        driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)
    assert _published_rows(job) == before == 1000


def _cut_at_a_record_boundary(path: str, keep: int) -> None:
    records = list(open_records(path))
    with open(path, "wb") as stream:
        for record in records[:keep]:
            write_record(stream, record)


@pytest.mark.slow
def test_samples_missing_without_a_framing_error_are_counted(tmp_path, small_homogeneous_graph):
    """A shard cut exactly at a record boundary reads cleanly; only the sampler's record shows the loss."""
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"gnnAssetsConfig.maxDeadLetterFraction": 0.9})
    labeled = glob.glob(job.frozen.sample_prefixes("paper")[0] + "*.tfrecord")
    count = sum(1 for _ in open_records(labeled[0]))
    _cut_at_a_record_boundary(labeled[0], 3)
    out = driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET).job.outputs["paper"]
    assert (out.samples, out.dead_letters, out.rows) == (1000, count - 3, 1000 - (count - 3))
    (letter,) = [d for d in _dead_letters(job) if d["stage"] == "read"]
    assert f"{count - 3:,} of the {count:,} samples the sampler wrote are lost" in letter["error"]


def test_a_shard_the_sampler_wrote_that_is_gone_is_refused_before_the_job(tmp_path, small_homogeneous_graph):
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"gnnAssetsConfig.sampler.numShards": 3})
    labeled = sorted(glob.glob(job.frozen.sample_prefixes("paper")[0] + "*.tfrecord"))
    os.remove(labeled[0])
    with pytest.raises(SamplesIncomplete, match=r"1 of the \d+ shards the sampler wrote are missing \(e\.g\. samples-00000-of-"):
        driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)
    assert not os.path.exists(job.resources.layout.job(job.frozen.task_name, job.job_name).inference_dir)


@pytest.mark.slow
def test_a_broken_shard_nobody_recorded_publishes_nothing(tmp_path, small_homogeneous_graph):
    """Samples from another sampler (no manifest): how many a broken shard lost is unknown, so nothing is published."""
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **{"gnnAssetsConfig.maxDeadLetterFraction": 0.9})
    for prefix in job.frozen.sample_prefixes("paper"):
        os.remove(prefix + "manifest.json")
    _corrupt(glob.glob(job.frozen.sample_prefixes("paper")[0] + "*.tfrecord")[0], "cut record")
    with pytest.raises(SamplesIncomplete, match=r"paper: 1 shard\(s\) broke with no sample manifest"):
        driver.run(job.job_name, job.task_config_uri, job.resources.uri, **QUIET)
    assert not glob.glob(os.path.join(job.resources.layout.job(job.frozen.task_name, job.job_name).inference_dir, "manifest*"))


def open_records(path: str):
    from gnn_assets.graph.tfrecord import iter_records

    with open(path, "rb") as stream:
        yield from iter_records(stream)
