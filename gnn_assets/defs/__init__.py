"""The Dagster layer, one package per domain (dagster-open-platform style), each module small.
definitions.py puts them together for the deployment; nothing below this layer imports dagster."""

import warnings

from dagster import PreviewWarning

# Checks partitioned like their assets (one result per job) are a preview feature the project
# uses knowingly; its warning would repeat for every check of every task in every dg command.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=PreviewWarning)
