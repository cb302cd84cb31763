"""A task config template that does not load becomes one asset that shows why, instead of
taking the whole code location (every other task, the sensor, the schedules) down with it."""

import re

from dagster import AssetKey, AssetsDefinition, MetadataValue, asset

from gnn_assets.config.errors import ConfigError

GROUP = "invalid_task_configs"


def build_invalid_template_asset(instance: str, template_uri: str, error: Exception) -> AssetsDefinition:
    """An asset named for its instance (folder), whose description is the template's error (file
    and field); materializing it fails with it."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", instance) or "template"
    message = str(error)

    @asset(
        key=AssetKey([GROUP, stem]),
        group_name=GROUP,
        kinds={"yaml"},
        description=f"This task config does not load, so its task has no assets: {message}",
        metadata={"template_uri": MetadataValue.path(template_uri), "error": MetadataValue.text(message)},
    )
    def invalid_task_config() -> None:
        raise ConfigError(message)

    return invalid_task_config
