"""The Dagster UI's GraphQL API, served by a real dagster-webserver on loopback, shows a demo run."""

from __future__ import annotations

import json
import sys
import urllib.request

import pytest

from tests.conftest import PARTITION, REPO, TASK
from tests.servers import free_port, start_server, stop_server


@pytest.fixture
def webserver(deployment, materialized, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(
        [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port), "-m", "gnn_assets.definitions"],
        port,
        tmp_path / "webserver.log",
        env=deployment.env(),
        ready_url=f"{url}/server_info",
        cwd=REPO,
    )
    yield url
    stop_server(process, grace=30)


def _graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    assert "errors" not in body, body
    return body["data"]


@pytest.mark.slow
def test_graphql_shows_assets_partitions_and_materializations(webserver):
    nodes = _graphql(webserver, "{ assetNodes { assetKey { path } groupName kinds } }")["assetNodes"]
    by_key = {tuple(n["assetKey"]["path"]): n for n in nodes}
    assert by_key[(TASK, "embeddings")]["groupName"] == TASK
    assert {"beam", "parquet"} <= set(by_key[(TASK, "raw_embeddings")]["kinds"])
    assert ("demo_homogeneous", "node_id_mapping") in by_key

    key = f'{{path: ["{TASK}", "embeddings"]}}'
    partitions = _graphql(
        webserver, f"{{ assetNodeOrError(assetKey: {key}) {{ ... on AssetNode {{ partitionKeysByDimension {{ partitionKeys }} }} }} }}"
    )["assetNodeOrError"]["partitionKeysByDimension"][0]["partitionKeys"]
    assert PARTITION in partitions

    materializations = _graphql(
        webserver,
        f"{{ assetOrError(assetKey: {key}) {{ ... on Asset {{ assetMaterializations(limit: 5) "
        "{ partition runId metadataEntries { label } } } } }",
    )["assetOrError"]["assetMaterializations"]
    assert materializations and materializations[0]["partition"] == PARTITION
    labels = {e["label"] for e in materializations[0]["metadataEntries"]}
    assert {"dagster/row_count", "dagster/column_lineage", "tables"} <= labels
