"""The Dagster layer, one package per domain (dagster-open-platform style), each module small.
definitions.py puts them together for the deployment; nothing below this layer imports dagster."""
