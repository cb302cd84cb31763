"""A model runs only if it is the file that was validated, and a file is refused, in one line and
before torch reads it where possible, when it could not be a trained model."""

from __future__ import annotations

import hashlib
import os
import time
import zipfile

import pytest
import torch

from gnn_assets.config.errors import ConfigError
from gnn_assets.config.resource_config import ModelPolicy
from gnn_assets.jobs import driver
from gnn_assets.inference.model_handler import DeviceModel, GnnModelHandler
from gnn_assets.inference.protocol import ModelMismatchError, inferencer_from_config, load_state_dict
from gnn_assets.inference.task_specs import write_untrained_model
from tests.support.deployments import prepare_job, write_task_config

QUIET = {"progress": lambda _: None}


def _save(path, state: dict) -> None:
    torch.save(state, path)


@pytest.fixture(scope="module")
def job(tmp_path_factory, small_homogeneous_graph):
    return prepare_job(tmp_path_factory.mktemp("integrity"), "demo_node_classification", small_homogeneous_graph)


@pytest.fixture
def model_file(job, tmp_path):
    """A copy of the job's valid model, to spoil."""
    state = torch.load(job.frozen.trained_model_uri, weights_only=True)
    return str(tmp_path / "model.pt"), state


@pytest.mark.parametrize(
    "dtype, message",
    [(torch.bool, "torch.bool"), (torch.int64, "torch.int64"), (torch.complex64, "torch.complex64")],
)
def test_non_float_weights_are_refused_not_cast(model_file, dtype, message):
    """Before: load_state_dict cast bool, int and complex tensors into the model silently."""
    path, state = model_file
    state["head.weight"] = torch.ones_like(state["head.weight"]).to(dtype)
    _save(path, state)
    with pytest.raises(ModelMismatchError, match=rf"head\.weight is {message}; model weights must be floating point"):
        load_state_dict(path, ModelPolicy())


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(model_file, value):
    """Before: NaN or inf weights ran and wrote all-NaN embeddings with exit 0."""
    path, state = model_file
    state["head.bias"][0] = value
    _save(path, state)
    with pytest.raises(ModelMismatchError, match=r"head\.bias has 1 non-finite values \(NaN or inf\)"):
        load_state_dict(path, ModelPolicy())


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    """Before: a 3 MB file took 3.7 GB and 28 s before torch refused it. A torch.save archive
    stores its entries uncompressed, so a compressed entry is refused from the zip directory."""
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\0" * (64 << 20))
    assert os.path.getsize(path) < 200_000
    started = time.monotonic()
    with pytest.raises(ModelMismatchError, match=r"has compressed entries \(archive/data\.pkl, \.\.\.\); torch\.save writes none"):
        load_state_dict(str(path), ModelPolicy())
    assert time.monotonic() - started < 5


def test_files_over_the_size_limit_are_refused(model_file):
    path, state = model_file
    _save(path, state)
    with pytest.raises(ModelMismatchError, match=r"more than the limit 1,000 \(maxModelBytes\)"):
        load_state_dict(path, ModelPolicy(max_model_bytes=1000))


def test_entries_that_are_not_tensors_are_refused(model_file):
    path, state = model_file
    state["note"] = 3
    _save(path, state)
    with pytest.raises(ModelMismatchError, match=r"entry 'note' is a int, not a tensor"):
        load_state_dict(path, ModelPolicy())


def test_a_model_swapped_after_validation_is_refused_by_the_job(tmp_path, small_homogeneous_graph):
    """Before: a file replaced after the 'fits' line was the one the workers ran."""
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph)
    validated = hashlib.sha256(open(job.frozen.trained_model_uri, "rb").read()).hexdigest()
    write_untrained_model(job.frozen, seed=9)  # same shapes, other weights: it would "fit"
    with pytest.raises(ModelMismatchError, match=r"changed since it was validated .*materialize trained_model again"):
        driver.run(job.job_name, job.task_config_uri, job.resources.uri, trained_model_sha256=validated, **QUIET)
    assert not os.path.exists(job.resources.layout.job(job.frozen.task_name, job.job_name).inference_dir)


def test_every_worker_verifies_the_model_it_loads(job, tmp_path):
    """The handler pickled to workers holds the validated hash: a file swapped after the job was
    built fails in load_model, on every worker."""
    validated = hashlib.sha256(open(job.frozen.trained_model_uri, "rb").read()).hexdigest()
    handler = GnnModelHandler(job.frozen.to_yaml(), job.frozen.uri, "paper", model_sha256=validated, policy=ModelPolicy(), device="cpu")
    assert handler.load_model() is not None
    wrong = GnnModelHandler(job.frozen.to_yaml(), job.frozen.uri, "paper", model_sha256="0" * 64, policy=ModelPolicy(), device="cpu")
    with pytest.raises(ModelMismatchError, match="changed since it was validated"):
        wrong.load_model()


def test_inferencer_classes_outside_the_allowed_prefixes_are_never_imported(job, tmp_path):
    """Before: inferencerClsPath os.system with inferencerArgs {command: ...} ran the command."""
    marker = tmp_path / "pwned"
    uri = write_task_config(
        tmp_path,
        "demo_node_classification",
        **{"inferencerConfig.inferencerClsPath": "os.system", "inferencerConfig.inferencerArgs": {"command": f"touch {marker}"}},
    )
    with pytest.raises(ConfigError, match=r"inferencerClsPath: 'os\.system' is outside the allowed module prefixes \['gnn_assets\.'\]"):
        driver.run("attack", str(uri), job.resources.uri, **QUIET)
    assert not marker.exists()


def test_an_allowed_name_that_is_not_an_inferencer_class_is_not_called(job, tmp_path):
    marker = tmp_path / "written"
    uri = write_task_config(
        tmp_path,
        "demo_node_classification",
        **{
            "inferencerConfig.inferencerClsPath": "gnn_assets.storage.write_text",
            "inferencerConfig.inferencerArgs": {"uri": str(marker), "text": "x"},
        },
    )
    from gnn_assets.config.task_config import load_task_config

    with pytest.raises(ModelMismatchError, match="is not a class with init_model and infer_batch"):
        inferencer_from_config(load_task_config(str(uri)), ModelPolicy())
    assert not marker.exists()


def _sample_batch(job):
    from gnn_assets import storage
    from gnn_assets.graph.tfrecord import iter_records
    from gnn_assets.inference.steps import sample_decoder

    path = storage.glob(job.frozen.sample_prefixes("paper")[0] + "*.tfrecord")[0]
    with storage.open_read(path) as stream:
        records = [r for _, r in zip(range(16), iter_records(stream))]
    batch, failures = sample_decoder(job.frozen, "paper").decode_batch(records)
    assert not failures
    return batch


def test_the_model_and_every_batch_land_on_the_configured_device(job):
    """Before: batches went to 'cuda' whenever CUDA existed while the model stayed on the CPU.
    Device is configuration (resource config `device`): the model moves there when loaded and
    every batch runs there; on this CPU machine 'cpu' and 'auto' are the CPU, and a CUDA device
    that is not there is refused in one line."""
    validated = hashlib.sha256(open(job.frozen.trained_model_uri, "rb").read()).hexdigest()
    batch = _sample_batch(job)
    for name in ("cpu", "auto"):
        expected = torch.device("cuda" if torch.cuda.is_available() and name == "auto" else "cpu")
        handler = GnnModelHandler(job.frozen.to_yaml(), job.frozen.uri, "paper", model_sha256=validated, policy=ModelPolicy(), device=name)
        inferencer = handler.load_model().inferencer
        assert {p.device.type for p in inferencer.model.parameters()} == {expected.type}
        devices = []
        run_batch = inferencer.infer_batch

        def spy(collated, device, run_batch=run_batch):
            devices.append(device)
            return run_batch(collated, device)

        inferencer.infer_batch = spy
        (result,) = handler.run_inference(batch, DeviceModel(inferencer, handler.device()))
        assert devices == [expected]
        embeddings, predictions = result.inference
        assert embeddings.shape == (len(batch), 32) and len(predictions) == len(batch)  # copied back to the host
    if not torch.cuda.is_available():
        handler = GnnModelHandler(job.frozen.to_yaml(), job.frozen.uri, "paper", model_sha256=validated, policy=ModelPolicy(), device="cuda:0")
        with pytest.raises(ModelMismatchError, match=r"device 'cuda:0' is configured but this machine has no CUDA device"):
            handler.load_model()
