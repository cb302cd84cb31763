"""The Dagster layer's code, one package per domain (dagster-open-platform's lib/, kept apart from
the instances in defs/): the Component types (components/), the asset, check, sensor and
schedule builders they call, and the Dagster resources. Nothing below this layer imports dagster."""

import warnings

from dagster import BetaWarning, PreviewWarning

# Checks partitioned like their assets (one result per job) are a preview feature the project
# uses knowingly; its warning would repeat for every check of every task in every dg command.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning)
# Dagster's own Pipes handler reads a preview property of its message reader in every run that
# runs the inference step (a run launched from the UI printed it; the tests hid it).
warnings.filterwarnings("ignore", message="Function `PipesMessageReader.expected_writer_count`", category=PreviewWarning)
# The Components set group, tags, automation and freshness with Definitions.map_asset_specs, whose
# rebuilt assets pass a beta parameter of Dagster's own (execution_type) on every load.
warnings.filterwarnings("ignore", message="Parameter `execution_type`", category=BetaWarning)
