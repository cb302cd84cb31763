"""docker/ cannot be built here (no Docker engine); what can be checked without one is."""

import re

import yaml

from tests.support import REPO

DOCKER = REPO / "docker"


def _pin(package: str) -> str:
    return re.search(rf'"{package}==([^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)


def test_compose_services_build_from_dockerfiles_that_exist():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert set(compose["services"]) == {"postgres", "code-location", "webserver", "daemon", "server"}
    assert compose["services"]["server"]["image"] == compose["services"]["code-location"]["image"]  # the same build
    for service in compose["services"].values():
        if "build" in service:
            assert (REPO / service["build"]["dockerfile"]).is_file()
    assert "storage" in yaml.safe_load((DOCKER / "dagster.yaml").read_text())


def test_images_pin_the_versions_the_project_pins():
    worker = (DOCKER / "dataflow-worker.Dockerfile").read_text()
    beam = _pin(re.escape("apache-beam[gcp]"))
    assert f"apache/beam_python3.11_sdk:{beam}" in worker
    for dockerfile in ("dataflow-worker.Dockerfile", "code-location.Dockerfile"):
        assert f"torch=={_pin('torch')}" in (DOCKER / dockerfile).read_text()
    system = (DOCKER / "system.Dockerfile").read_text()
    assert f"dagster=={_pin('dagster')}" in system and f"dagster-webserver=={_pin('dagster-webserver')}" in system


def test_compose_is_closed_by_default():
    """Before: the UI was published on every interface with no auth, Postgres had a default
    password, and GOOGLE_APPLICATION_CREDENTIALS named a host path that no container could read."""
    text = (DOCKER / "compose.yaml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert services["webserver"]["ports"] == ["127.0.0.1:3000:3000"]
    assert services["server"]["ports"] == ["127.0.0.1:8080:8080"]
    assert "DAGSTER_POSTGRES_PASSWORD:-" not in text and "${DAGSTER_POSTGRES_PASSWORD:?" in text
    code = services["code-location"]
    assert code["environment"]["GOOGLE_APPLICATION_CREDENTIALS"] == "/run/secrets/gcp-credentials.json"
    assert any(v.startswith("${GOOGLE_APPLICATION_CREDENTIALS:?") and v.endswith(":/run/secrets/gcp-credentials.json:ro") for v in code["volumes"])
    assert yaml.safe_load((DOCKER / "dagster.yaml").read_text())["concurrency"]["pools"]["default_limit"] == 1
