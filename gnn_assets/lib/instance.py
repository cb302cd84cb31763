"""What the project sets in a Dagster instance it creates (`make demo`, `make dev`, the UI tests).

A new instance holds Dagster's pre-sensor "auto-materialize paused" flag unset, which reads as
paused: every job page then shows "Auto-materialize off — evaluation is paused", although the
project's automation sensor (`gnn_assets_automation`) evaluates the AutomationConditions either
way (with automation sensors, Dagster reads the flag only to start sensors it migrates from the
pre-sensor daemon). The flag is a daemon cursor value; it is set to not paused, so the page shows
"Auto-materialize on", which is what happens.

    DAGSTER_HOME=<home> python -m gnn_assets.lib.instance
"""

from __future__ import annotations

from dagster import DagsterInstance

# Dagster's key for the flag (dagster/_daemon/asset_daemon.py), read by the UI's badge.
_AUTOMATION_PAUSED_KEY = "ASSET_DAEMON_PAUSED"


def leave_automation_unpaused(instance: DagsterInstance) -> None:
    instance.daemon_cursor_storage.set_cursor_values({_AUTOMATION_PAUSED_KEY: "false"})


if __name__ == "__main__":
    leave_automation_unpaused(DagsterInstance.get())
