"""Incremental exact inference: what a new graph version changed since a base job, which nodes
each layer must recompute, and the base's kept states to start from."""
