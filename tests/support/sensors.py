"""A sensor's tick in tests: evaluated against a real instance, and what it asked for."""

from __future__ import annotations

from dagster import build_sensor_context

from gnn_assets.lib.resources import GnnDeployment
from tests.support.deployments import TASK


def sensor_tick(deployment, cursor):
    defs = deployment.definitions()
    sensor = defs.resolve_sensor_def(f"{TASK}_new_trained_model")
    # Invoked directly: evaluate_tick would validate the requested partitions before the daemon's
    # step that adds them has run.
    with build_sensor_context(instance=deployment.instance, cursor=cursor, resources=sensor_resources(deployment), definitions=defs) as context:
        return sensor(context)


def sensor_resources(deployment):
    return {"deployment": GnnDeployment(resource_config_uri=str(deployment.resource_config))}


def added_partitions(tick):
    return [key for request in tick.dynamic_partitions_requests for key in request.partition_keys]
