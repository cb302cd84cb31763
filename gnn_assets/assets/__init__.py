"""Dagster assets and asset checks: thin wrappers over the library."""
