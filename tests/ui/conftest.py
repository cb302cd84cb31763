"""End-to-end tests of the Dagster UI in a real browser: Debian's chromium driven by Playwright
(Playwright's own browser download is not used). A failing test leaves a screenshot under
test-artifacts/ui/."""

from __future__ import annotations

import os

import pytest

from gnn_assets.lib.instance import leave_automation_unpaused
from tests.support import REPO
from tests.support.deployments import TASK, make_deployment
from tests.support.ui import OTHER_TASK
from tests.support.servers import dagster_webserver
from playwright.sync_api import expect

# Auto-waiting assertions wait as long as actions do: a busy machine renders slowly.
expect.set_options(timeout=30_000)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts" / "ui"
# Runs launch straight from the webserver (no daemon to take them off a queue). No community
# sign-up dialog (nux): it appears over the page whenever it likes and hides what a test reads.
INSTANCE = (
    "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
    "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n"
    # As the instance configs the project writes (Makefile, docker/): freshness windows evaluated.
    "freshness:\n  enabled: true\n"
)


@pytest.fixture(scope="session")
def ui_deployment(tmp_path_factory):
    """Graphs materialized; no model file for the partition the test adds by clicking, so the
    chain trains one (the task's trainerConfig), as a new user's first job does."""
    deployment = make_deployment(tmp_path_factory.mktemp("ui"), tasks=(TASK, OTHER_TASK))
    (deployment.home / "dagster.yaml").write_text(INSTANCE)
    leave_automation_unpaused(deployment.instance)  # as `make demo` and `make dev` leave theirs
    assert deployment.definitions().resolve_job_def("refresh_graphs").execute_in_process(instance=deployment.instance).success
    return deployment


@pytest.fixture(scope="session")
def ui_url(ui_deployment, tmp_path_factory):
    with dagster_webserver(ui_deployment.env(), tmp_path_factory.mktemp("ui-log") / "webserver.log", *ui_deployment.code_location()) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # The flags keep chromium off the network this machine does not have.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(30_000)
    # The UI greets a new browser with a community sign-up dialog, whenever it likes: dismiss it
    # whenever it is in the way.
    skip = page.get_by_role("button", name="Skip")
    page.add_locator_handler(skip, lambda: skip.click())
    yield page
    if request.node.stash.get(_FAILED, False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    page.close()


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report

