"""The chain as a user drives it from the Dagster UI, clicked through in chromium."""

from __future__ import annotations

import time

import pytest
from dagster import AssetKey, DagsterRunStatus, RunsFilter
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from gnn_assets.lib.common import job_partitions

from tests.support.deployments import TASK
from tests.support.ui import OTHER_TASK, UI_JOB, open_page

pytestmark = pytest.mark.slow
CHECKS = ["all_values_finite", "dimension_matches_model", "every_row_unenumerated", "one_row_per_node"]


def test_the_global_lineage_shows_each_graph_and_task_group(page, ui_url):
    open_page(page, f"{ui_url}/asset-groups")  # (/asset-groups/<group> lands here too in Dagster 1.13)
    for group in (TASK, "graph_demo_homogeneous"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()


def test_a_task_group_s_page_lists_its_chain(page, ui_url, ui_deployment):
    open_page(page, f"{ui_url}/locations/{ui_deployment.code_location()[1]}/asset-groups/{TASK}/list")
    expect(page.get_by_text("Asset Group in").first).to_be_visible()
    # One row per asset of the chain (the names are drawn shortened in the middle: their links tell them apart).
    for name in ("frozen_config", "trained_model", "sampled_subgraphs", "raw_embeddings", "embeddings", "predictions"):
        expect(page.locator(f'a[href$="/assets/{TASK}/{name}"]').first).to_be_visible()
    expect(page.locator('a[href*="/assets/demo_homogeneous/"]')).to_have_count(0)  # the graph's assets are another group


def test_a_job_page_says_automation_is_on_as_it_is(page, ui_url, ui_deployment):
    """Before, a new instance read as paused: "Auto-materialize off" on every job page while the
    automation sensor evaluated the conditions."""
    open_page(page, f"{ui_url}/locations/{ui_deployment.code_location()[1]}/jobs/{TASK}_inference")
    expect(page.get_by_text("Auto-materialize on").first).to_be_visible()
    expect(page.get_by_text("Auto-materialize off")).to_have_count(0)


def test_adding_a_partition_and_launching_the_chain_by_clicking(page, ui_url, ui_deployment):
    open_page(page, f"{ui_url}/locations/{ui_deployment.code_location()[1]}/jobs/{TASK}_inference")
    page.get_by_role("button", name="Materialize all").first.click()
    page.get_by_text("Add a partition").click()
    dialog = page.get_by_role("dialog").last
    dialog.get_by_role("textbox").fill(UI_JOB)
    dialog.get_by_role("button", name="Save").click()
    instance = ui_deployment.instance
    deadline = time.monotonic() + 30
    while UI_JOB not in instance.get_dynamic_partitions(job_partitions(TASK).name):
        assert time.monotonic() < deadline, "the partition was not added"
        time.sleep(0.5)
    launch = page.get_by_role("button", name="Launch 1 run")
    try:
        launch.wait_for(timeout=10_000)
    except PlaywrightTimeoutError:
        # Now and then the dialog does not select the partition it has just added: pick it by name.
        page.get_by_text("Select a partition or create one").click()
        page.keyboard.type(UI_JOB)
        page.locator("label").filter(has_text=UI_JOB).last.click()
        page.keyboard.press("Escape")
    launch.click()

    deadline = time.monotonic() + 60
    while not (runs := instance.get_runs(RunsFilter(tags={"dagster/partition": UI_JOB}))):
        assert time.monotonic() < deadline, "no run was launched"
        time.sleep(0.5)
    run_id = runs[0].run_id
    open_page(page, f"{ui_url}/runs/{run_id}")
    deadline = time.monotonic() + 300
    while instance.get_run_by_id(run_id).status not in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE):
        assert time.monotonic() < deadline, "the run did not finish in 5 minutes"
        time.sleep(1)
    page.reload()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    assert instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
    evaluations = {
        e.dagster_event.asset_check_evaluation_data.check_name: e.dagster_event.asset_check_evaluation_data.passed
        for e in instance.all_logs(run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert evaluations == {name: True for name in [*CHECKS, "dead_letters_within_threshold", "model_beats_baseline"]}
    trained = instance.get_latest_materialization_event(AssetKey([TASK, "trained_model"])).asset_materialization
    assert trained.partition == UI_JOB and trained.metadata["trained_here"].value is True  # no model file: trained in the run
    assert trained.metadata["final_training_loss"].value > 0 and 0 <= trained.metadata["validation_accuracy"].value <= 1


def test_the_held_out_accuracy_is_plotted_on_the_asset_page(page, ui_url, ui_deployment):
    """Numbers per node type, not JSON: the asset page plots them across materializations."""
    event = ui_deployment.instance.get_latest_materialization_event(AssetKey([TASK, "predictions"]))
    assert event is not None and event.asset_materialization.partition == UI_JOB  # after the launch above
    open_page(page, f"{ui_url}/assets/{TASK}/predictions?view=overview")
    page.get_by_role("button", name="Plots").first.click()  # the metadata section's Table | Plots switch
    expect(page.get_by_text("held_out_accuracy (paper)").first).to_be_visible()
    expect(page.get_by_text("baseline_accuracy (paper)").first).to_be_visible()
    expect(page.get_by_text("unenumeration", exact=True)).to_have_count(0)  # a JSON entry: listed in the table, not plotted


def test_a_job_added_to_one_task_is_no_partition_of_another(page, ui_url, ui_deployment):
    """Before, every task shared one set of job names: the other task listed this one's job as a
    missing partition, and its "Missing" preset would have launched it."""
    instance = ui_deployment.instance
    assert UI_JOB in instance.get_dynamic_partitions(job_partitions(TASK).name)  # added by clicking, above
    assert UI_JOB not in instance.get_dynamic_partitions(job_partitions(OTHER_TASK).name)
    open_page(page, f"{ui_url}/assets/{TASK}/embeddings?view=partitions")
    expect(page.get_by_text(UI_JOB).first).to_be_visible()
    open_page(page, f"{ui_url}/assets/{OTHER_TASK}/embeddings?view=partitions")
    expect(page.get_by_text("Missing (0)").first).to_be_visible()  # before: "Missing (1)", this task's job
    expect(page.get_by_text(UI_JOB)).to_have_count(0)


def test_the_embeddings_page_shows_the_row_count_and_the_checks(page, ui_url, ui_deployment):
    event = ui_deployment.instance.get_latest_materialization_event(AssetKey([TASK, "embeddings"]))
    assert event is not None and event.asset_materialization.partition == UI_JOB  # after the launch above
    open_page(page, f"{ui_url}/assets/{TASK}/embeddings?view=overview")
    expect(page.get_by_text("Row count").first).to_be_visible()
    expect(page.get_by_text("20,000").first).to_be_visible()
    open_page(page, f"{ui_url}/assets/{TASK}/embeddings?view=checks")
    for name in CHECKS:
        expect(page.get_by_text(name).first).to_be_visible()
    expect(page.get_by_text("Succeeded").nth(len(CHECKS) - 1)).to_be_visible()  # at least one per check


def _sensor_running(deployment) -> bool:
    states = [s for s in deployment.instance.all_instigator_state() if s.name == f"{TASK}_new_trained_model"]
    # No stored state: the sensor runs as its code declares (DefaultSensorStatus.RUNNING).
    return not states or states[0].status.value in ("RUNNING", "DECLARED_IN_CODE")


def _sensor_switch(page):
    """The on/off switch in the sensor's row of the Automation page (a styled checkbox)."""
    row = page.locator("div", has_text=f"{TASK}_new_trained_model").filter(has=page.locator("input[type=checkbox]")).last
    return row.locator("input[type=checkbox]").last


def _flip(switch) -> None:
    # The checkbox itself is drawn over by its switch; a click on the element is what a click on the switch does.
    switch.evaluate("element => element.click()")


def test_turning_the_sensor_off_and_on(page, ui_url, ui_deployment):
    open_page(page, f"{ui_url}/automation")
    expect(_sensor_switch(page)).to_be_checked()
    _flip(_sensor_switch(page))
    deadline = time.monotonic() + 30
    while _sensor_running(ui_deployment):
        assert time.monotonic() < deadline, "the sensor was not stopped"
        time.sleep(0.5)
    open_page(page, f"{ui_url}/automation")
    expect(_sensor_switch(page)).not_to_be_checked()
    _flip(_sensor_switch(page))
    deadline = time.monotonic() + 30
    while not _sensor_running(ui_deployment):
        assert time.monotonic() < deadline, "the sensor was not started again"
        time.sleep(0.5)
    open_page(page, f"{ui_url}/automation")
    expect(_sensor_switch(page)).to_be_checked()

