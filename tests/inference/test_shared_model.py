"""With shareModelAcrossProcesses (the default on CUDA devices) a machine's worker processes
share one model, held by one process, instead of loading one each."""

from __future__ import annotations

import os

import pytest

from gnn_assets.jobs import driver
from gnn_assets.inference.task_specs import NodeClassificationTaskSpec
from tests.support.deployments import prepare_job

LOAD_LOG_ENV = "GNN_TEST_MODEL_LOAD_LOG"


class LoadCountingSpec(NodeClassificationTaskSpec):
    """Writes the id of every process that loads the model."""

    def init_model(self, config, state_dict):
        super().init_model(config, state_dict)
        with open(os.environ[LOAD_LOG_ENV], "a") as log:
            log.write(f"{os.getpid()}\n")


@pytest.mark.slow
@pytest.mark.parametrize("shared, loading_processes", [(False, 2), (True, 1)])
def test_worker_processes_share_one_model(tmp_path, small_homogeneous_graph, monkeypatch, shared, loading_processes):
    job = prepare_job(
        tmp_path,
        "demo_node_classification",
        small_homogeneous_graph,
        running_mode="multi_processing",
        num_workers=2,
        share_model_across_processes=shared,
        allowed_class_prefixes=["gnn_assets.", "tests."],
        **{"inferencerConfig.inferencerClsPath": f"{__name__}.LoadCountingSpec", "gnnAssetsConfig.sampler.numShards": 4},
    )
    log = tmp_path / "loads.txt"
    monkeypatch.setenv(LOAD_LOG_ENV, str(log))
    run = driver.run(job.job_name, job.task_config_uri, job.resources.uri, stages=["infer"], progress=lambda _: None)
    assert run.job.outputs["paper"].rows == 1000
    driver_pid = str(os.getpid())  # the driver loads it once too, to check that it fits before the job
    workers = {pid for pid in log.read_text().split() if pid != driver_pid}
    assert len(workers) == loading_processes
