"""The sampler's record of what it wrote: samples per shard, beside the shards of one prefix.

Written last, after every shard, so that the inference job can tell a complete set of samples
from one that lost records (a cut shard, a shard gone, a sampler killed half way) and refuse to
publish output that silently misses nodes. Samples written by another tool (GiGL's own
sampler) have no record; the job says so and still checks what it can.
"""

from __future__ import annotations

import json

from gnn_assets import storage

MANIFEST_NAME = "manifest.json"


class SampleManifestError(ValueError):
    pass


def manifest_uri(prefix: str) -> str:
    """'<prefix>manifest.json': beside the shards, never matched by their '*.tfrecord' glob."""
    return prefix + MANIFEST_NAME


def write_sample_manifest(prefix: str, samples_per_shard: dict[str, int]) -> None:
    """Record {shard file name: samples} for the shards of one prefix."""
    text = json.dumps({"samples_per_shard": dict(sorted(samples_per_shard.items()))}, indent=1)
    storage.replace_atomically(manifest_uri(prefix), text.encode())


def delete_sample_manifest(prefix: str) -> None:
    """Called before a sampler replaces a prefix's shards: until it has finished, none is complete."""
    if storage.exists(manifest_uri(prefix)):
        storage.delete_tree(manifest_uri(prefix))


def read_sample_manifest(prefix: str) -> dict[str, int] | None:
    """{shard file name: samples}, or None where no sampler of ours recorded the prefix."""
    uri = manifest_uri(prefix)
    if not storage.exists(uri):
        return None
    try:
        counts = json.loads(storage.read_text(uri))["samples_per_shard"]
        if not all(isinstance(k, str) and type(v) is int and v >= 0 for k, v in counts.items()):
            raise ValueError("counts must be non-negative integers")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise SampleManifestError(f"{uri}: not a sample manifest ({error}); sample the job again") from error
    return counts
