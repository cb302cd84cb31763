"""The Dagster UI's GraphQL API, served by a real dagster-webserver on loopback, shows a demo run."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.support.deployments import PARTITION, TASK
from tests.support.servers import dagster_webserver


@pytest.fixture
def webserver(deployment, materialized, tmp_path):
    with dagster_webserver(deployment.env(), tmp_path / "webserver.log", *deployment.code_location()) as url:
        yield url


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
