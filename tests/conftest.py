"""Fixtures only (helpers live in tests/support/): the small demo graphs, a Dagster deployment in
which the node classification demo chain is materialized, and the GCS and BigQuery emulators."""

from __future__ import annotations

from pathlib import Path

import pytest

from gnn_assets.lib.common import add_job_partitions
from gnn_assets.config.task_config import freeze_task_config, load_task_config
from gnn_assets.graph.demo import generate_homogeneous_demo_graph, generate_typed_demo_graph
from gnn_assets.graph.source import GraphSource
from gnn_assets.training.run import train_model
from tests.support.deployments import BQ_PROJECT, PARTITION, TASK, Deployment, make_deployment
from tests.support.servers import free_port, start_server, stop_server


@pytest.fixture(scope="session")
def small_typed_graph() -> GraphSource:
    return generate_typed_demo_graph(600, 400, seed=3)


@pytest.fixture(scope="session")
def small_homogeneous_graph() -> GraphSource:
    return generate_homogeneous_demo_graph(1000, seed=5)


@pytest.fixture(scope="session")
def deployment(tmp_path_factory) -> Deployment:
    """Shared by the chain tests: materializing the demo chain once is what takes time."""
    return make_deployment(tmp_path_factory.mktemp("deployment"))


@pytest.fixture(scope="session")
def materialized(deployment):
    """Graphs, then the chain for a partition that did not exist before, with its checks."""
    defs = deployment.definitions()
    graphs = defs.resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance)
    assert graphs.success
    add_job_partitions(deployment.instance, TASK, [PARTITION])
    frozen = freeze_task_config(load_task_config(str(deployment.template(TASK))), deployment.resources, PARTITION)
    # A model file dropped for the job before the run, as a trainer elsewhere would: used, not retrained.
    train_model(frozen, deployment.resources, progress=lambda _: None)
    result = defs.resolve_job_def(f"{TASK}_inference").execute_in_process(
        instance=deployment.instance, partition_key=PARTITION, raise_on_error=False
    )
    return result, frozen


@pytest.fixture(scope="session")
def gcs_emulator_dir(tmp_path_factory) -> Path:
    """Where the GCS emulator keeps objects: <dir>/<bucket>/<object>, as bqemulator reads gs:// URIs."""
    return tmp_path_factory.mktemp("gcs") / ".cloudstorage"


@pytest.fixture(scope="session")
def gcs_emulator(gcs_emulator_dir):
    """gcp-storage-emulator on loopback, storing on disk; STORAGE_EMULATOR_HOST points every
    process at it. Yields a function that creates a fresh bucket and returns its gs:// URI.
    """
    import itertools
    import os
    import sys

    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs

    port = free_port()
    process = start_server(
        [os.path.join(os.path.dirname(sys.executable), "gcp-storage-emulator"), "start", "--host", "127.0.0.1", "--port", str(port), "-q"],
        port,
        gcs_emulator_dir.parent / "emulator.log",
        env={"STORAGE_BASE": str(gcs_emulator_dir.parent), "STORAGE_DIR": gcs_emulator_dir.name},
    )
    from gnn_assets import storage

    counter = itertools.count()
    # os.environ, not a fixture-local setting: Dagster Pipes and Beam subprocesses inherit it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(storage.STORAGE_EMULATOR_ENV, f"http://127.0.0.1:{port}")
        storage._connect_anonymously_to_an_emulator()
        client = gcs.Client(project="test", credentials=AnonymousCredentials())

        def new_bucket() -> str:
            name = f"gnn-test-{next(counter)}"
            client.create_bucket(name)
            return f"gs://{name}"

        yield new_bucket
    stop_server(process)


@pytest.fixture(scope="session")
def bigquery_emulator(gcs_emulator, gcs_emulator_dir):
    """bqemulator on loopback, reading gs:// URIs from the GCS emulator's files;
    BIGQUERY_EMULATOR_HOST points the project's BigQuery client at it. Yields the endpoint."""
    import os
    import sys

    import duckdb_extensions

    from gnn_assets.warehouse.bigquery import EMULATOR_ENV

    # bqemulator loads DuckDB's spatial extension; install it from its PyPI wheel (no download).
    duckdb_extensions.import_extension("spatial")
    port, grpc_port = free_port(), free_port()
    process = start_server(
        [
            os.path.join(os.path.dirname(sys.executable), "bqemulator"), "start",
            "--rest-port", str(port), "--grpc-port", str(grpc_port), "--project", BQ_PROJECT, "--log-level", "error",
        ],
        port,
        gcs_emulator_dir.parent / "bqemulator.log",
        env={"BQEMU_GCS_LOCAL_ROOT": str(gcs_emulator_dir)},
    )
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EMULATOR_ENV, endpoint)
        yield endpoint
    stop_server(process)
