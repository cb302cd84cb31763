"""The sampler's record of what it wrote: samples per shard, beside the shards of one prefix.

Written last, after every shard, so that the inference job can tell a complete set of samples
from one that lost records (a cut shard, a shard gone, a sampler killed half way) and refuse to
publish output that silently misses nodes. Samples written by another tool (GiGL's own
sampler) have no record; the job says so and still checks what it can.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from gnn_assets import storage

MANIFEST_NAME = "manifest.json"


class SampleManifestError(ValueError):
    pass


def manifest_uri(prefix: str) -> str:
    """'<prefix>manifest.json': beside the shards, never matched by their '*.tfrecord' glob."""
    return prefix + MANIFEST_NAME


@dataclass(frozen=True)
class SampleRecord:
    samples_per_shard: dict[str, int]  # shard file name -> samples
    enumeration_id: str  # of the enumerated graph sampled ("" where none was recorded)


def write_sample_manifest(prefix: str, samples_per_shard: dict[str, int], enumeration_id: str) -> None:
    """Record {shard file name: samples} for the shards of one prefix, and the enumeration sampled."""
    text = json.dumps({"samples_per_shard": dict(sorted(samples_per_shard.items())), "enumeration_id": enumeration_id}, indent=1)
    storage.replace_atomically(manifest_uri(prefix), text.encode())


def delete_sample_manifest(prefix: str) -> None:
    """Called before a sampler replaces a prefix's shards: until it has finished, none is complete."""
    if storage.exists(manifest_uri(prefix)):
        storage.delete_tree(manifest_uri(prefix))


def read_sample_manifest(prefix: str) -> SampleRecord | None:
    """What the sampler recorded for a prefix, or None where no sampler of ours recorded it."""
    uri = manifest_uri(prefix)
    if not storage.exists(uri):
        return None
    try:
        data = json.loads(storage.read_text(uri))
        counts = data["samples_per_shard"]
        if not all(isinstance(k, str) and type(v) is int and v >= 0 for k, v in counts.items()):
            raise ValueError("counts must be non-negative integers")
        enumeration = data.get("enumeration_id", "")  # samples written before ids were recorded have none
        if not isinstance(enumeration, str):
            raise ValueError("enumeration_id must be a string")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise SampleManifestError(f"{uri}: not a sample manifest ({error}); sample the job again") from error
    return SampleRecord(counts, enumeration)
