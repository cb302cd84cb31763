from __future__ import annotations

import json
import os
import time

import pytest

from dagster import AssetKey, AssetMaterialization, SkipReason, build_schedule_context

from gnn_assets.lib.common import SHARED_JOB_PARTITIONS, add_job_partitions, job_partitions
from tests.support.deployments import TASK, make_deployment
from tests.support.sensors import added_partitions, sensor_resources, sensor_tick


@pytest.fixture
def deployment(tmp_path):
    """A deployment of its own: these tests write model files and add partitions."""
    return make_deployment(tmp_path)


def _settled_tick(deployment, cursor):
    """Two ticks: a local file is taken once it did not change between them (it may be half-written)."""
    first = sensor_tick(deployment, cursor)
    assert first.run_requests == [], "a file seen changing must wait a tick"
    return sensor_tick(deployment, first.cursor)


def _model_file(deployment, name: str, content: bytes = b"weights") -> str:
    path = os.path.join(deployment.resources.model_root, TASK, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)
    return path


def test_new_model_files_add_partitions_and_request_runs_once(deployment):
    _model_file(deployment, "Sensor Run 1.pt")
    first = _settled_tick(deployment, None)
    assert added_partitions(first) == ["sensor-run-1"]
    # The sensor materializes what it saw; the rest of the chain follows by automation (test_automation.py).
    assert [(r.partition_key, r.asset_selection) for r in first.run_requests] == [
        ("sensor-run-1", [AssetKey([TASK, "frozen_config"]), AssetKey([TASK, "trained_model"])])
    ]
    assert [e.partition for e in first.asset_events] == ["sensor-run-1"]

    again = sensor_tick(deployment, first.cursor)
    assert again.run_requests == [] and added_partitions(again) == []

    _model_file(deployment, "sensor-run-2.pt")
    second = _settled_tick(deployment, again.cursor)
    assert added_partitions(second) == ["sensor-run-2"]
    assert [r.partition_key for r in second.run_requests] == ["sensor-run-2"]
    assert second.run_requests[0].run_key != first.run_requests[0].run_key


def test_a_replaced_model_file_requests_its_partition_again(deployment):
    path = _model_file(deployment, "sensor-run-3.pt")
    first = _settled_tick(deployment, None)
    add_job_partitions(deployment.instance, TASK, added_partitions(first))
    _model_file(deployment, "sensor-run-3.pt", b"retrained weights, a different size")
    os.utime(path, (time.time() + 5, time.time() + 5))
    replaced = _settled_tick(deployment, first.cursor)
    assert [r.partition_key for r in replaced.run_requests] == ["sensor-run-3"]
    assert added_partitions(replaced) == []  # the partition exists already


def test_a_replacement_with_the_same_size_and_mtime_is_seen(deployment):
    """Before: the sensor compared size and mtime only, and missed this replacement."""
    path = _model_file(deployment, "same-size.pt", b"weights A")
    first = _settled_tick(deployment, None)
    assert [r.partition_key for r in first.run_requests] == ["same-size"]
    stat = os.stat(path)
    _model_file(deployment, "same-size.pt", b"weights B")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_size == stat.st_size and os.stat(path).st_mtime_ns == stat.st_mtime_ns
    replaced = _settled_tick(deployment, first.cursor)
    assert [r.partition_key for r in replaced.run_requests] == ["same-size"]
    assert replaced.run_requests[0].run_key != first.run_requests[0].run_key


def test_a_rewrite_with_the_same_content_starts_nothing(deployment):
    path = _model_file(deployment, "same-content.pt", b"weights")
    first = _settled_tick(deployment, None)
    _model_file(deployment, "same-content.pt", b"weights")
    os.utime(path, (time.time() + 5, time.time() + 5))
    second = sensor_tick(deployment, first.cursor)
    assert sensor_tick(deployment, second.cursor).run_requests == []


def test_a_file_still_being_written_waits(deployment):
    """Before: a half-written model file started a run at once."""
    path = _model_file(deployment, "growing.pt", b"part one")
    first = sensor_tick(deployment, None)
    assert first.run_requests == []
    with open(path, "ab") as f:
        f.write(b", part two")
    second = sensor_tick(deployment, first.cursor)
    assert second.run_requests == []  # it changed again: still waiting
    third = sensor_tick(deployment, second.cursor)
    assert [r.partition_key for r in third.run_requests] == ["growing"]
    assert third.asset_events[0].metadata["size_bytes"].value == len(b"part one, part two")


def test_two_files_for_one_job_name_start_nothing_and_are_reported(deployment, capsys):
    _model_file(deployment, "Clash 1.pt")
    _model_file(deployment, "clash-1.pt")
    tick = _settled_tick(deployment, None)
    assert tick.run_requests == [] and added_partitions(tick) == []
    assert "all stand for job 'clash-1'" in capsys.readouterr().err


def test_the_cursor_forgets_deleted_files(deployment):
    path = _model_file(deployment, "short-lived.pt")
    first = _settled_tick(deployment, None)
    assert path in json.loads(first.cursor)
    os.remove(path)
    assert json.loads(sensor_tick(deployment, first.cursor).cursor) == {}


def test_schedule_reruns_the_newest_job_with_a_partition(deployment):
    defs = deployment.definitions()
    schedule = defs.resolve_schedule_def(f"{TASK}_daily_refresh")
    newest = _model_file(deployment, "newest-model.pt")
    os.utime(newest, (time.time() + 3600, time.time() + 3600))
    with build_schedule_context(instance=deployment.instance, resources=sensor_resources(deployment)) as context:
        skipped = schedule(context)
        assert isinstance(skipped, SkipReason) and "'newest-model' has no partition yet" in skipped.skip_message
        add_job_partitions(deployment.instance, TASK, ["newest-model"])
        ran = schedule(context)
    assert ran.partition_key == "newest-model"


def test_models_whose_job_is_already_materialized_are_not_rerun_on_first_sight(deployment):
    _model_file(deployment, "done-before.pt")
    add_job_partitions(deployment.instance, TASK, ["done-before"])
    deployment.instance.report_runless_asset_event(AssetMaterialization(AssetKey([TASK, "trained_model"]), partition="done-before"))
    first = _settled_tick(deployment, None)
    assert first.run_requests == [] and added_partitions(first) == []
    path = _model_file(deployment, "done-before.pt", b"retrained: a different size")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert [r.partition_key for r in _settled_tick(deployment, first.cursor).run_requests] == ["done-before"]


def test_links_out_of_the_model_root_start_nothing(deployment, tmp_path):
    """Before: passwd-link.pt -> /etc/passwd added a partition and requested its chain."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "elsewhere.pt").write_bytes(b"not ours")
    task_dir = os.path.dirname(_model_file(deployment, "real.pt"))
    os.symlink("/etc/passwd", os.path.join(task_dir, "passwd-link.pt"))
    os.symlink(outside / "elsewhere.pt", os.path.join(task_dir, "elsewhere-link.pt"))
    tick = _settled_tick(deployment, None)
    assert added_partitions(tick) == ["real"] and [r.partition_key for r in tick.run_requests] == ["real"]


def _requests(tick) -> dict[str, list[str]]:
    return {request.partitions_def_name: list(request.partition_keys) for request in tick.dynamic_partitions_requests}


def test_each_task_lists_its_own_jobs_and_a_new_model_joins_its_task_only(tmp_path):
    """Before, every task shared one set: a link prediction job showed as a missing partition of
    node classification, and its launch dialog's "Missing" would have trained a model for it."""
    other = "demo_link_prediction"
    deployment = make_deployment(tmp_path, tasks=(TASK, other))
    defs = deployment.definitions()
    names = {task: {a.partitions_def.name for a in defs.assets for key in a.keys if key.path[0] == task and a.partitions_def} for task in (TASK, other)}
    assert names == {TASK: {job_partitions(TASK).name}, other: {job_partitions(other).name}} and names[TASK] != names[other]
    assert defs.resolve_job_def(f"{other}_inference").partitions_def.name == job_partitions(other).name
    _model_file(deployment, "only-mine.pt")
    tick = _settled_tick(deployment, None)
    assert _requests(tick) == {job_partitions(TASK).name: ["only-mine"]}


def test_job_names_of_the_set_every_task_shared_move_to_the_task_that_materialized_them(deployment):
    """Upgrade: an instance made before each task had its own set keeps its shared `job_name`
    partitions; the sensor adds to a task's set those its task materialized, once."""
    instance = deployment.instance
    instance.add_dynamic_partitions(SHARED_JOB_PARTITIONS, ["ran-before", "someone-elses"])
    instance.report_runless_asset_event(AssetMaterialization(AssetKey([TASK, "frozen_config"]), partition="ran-before"))
    tick = sensor_tick(deployment, None)
    assert _requests(tick) == {job_partitions(TASK).name: ["ran-before"]} and tick.run_requests == []
    add_job_partitions(instance, TASK, ["ran-before"])  # as the daemon does with the request
    assert _requests(sensor_tick(deployment, tick.cursor)) == {}
