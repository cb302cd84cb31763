"""Inferencer protocol and task specs, the Beam ModelHandler and pipeline, runners, and the CLI."""
