"""What a user sets on the assets of a task or graph instance, beside what the library derives."""

from __future__ import annotations

import dagster as dg
from pydantic import Field, field_validator

RESERVED_TAG_PREFIX = "gnn_assets/"  # the project's own tags: refresh_graphs and the sensor select by them


class AssetLabels(dg.Model):
    """Attributes shared by the task and graph Components: where their assets show and who owns them."""

    group: str | None = Field(default=None, description="Asset group in the UI (default: the task name, or graph_<name>).")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags added to every asset of the instance.")
    owners: list[str] = Field(default_factory=list, description="Owners of every asset (emails or team:<name>).")

    @field_validator("tags")
    @classmethod
    def _not_the_projects_own(cls, tags: dict[str, str]) -> dict[str, str]:
        reserved = sorted(k for k in tags if k.startswith(RESERVED_TAG_PREFIX))
        if reserved:
            raise ValueError(f"tag {reserved[0]!r}: tags starting with {RESERVED_TAG_PREFIX!r} are the project's own (its jobs and sensors select by them)")
        return tags

    def label(self, spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(
            group_name=self.group or spec.group_name,
            tags={**spec.tags, **self.tags},
            owners=[*spec.owners, *(o for o in self.owners if o not in spec.owners)],
        )


def map_specs(defs: dg.Definitions, keys, func) -> dg.Definitions:
    """defs with func applied to the specs of keys (all specs when keys is None)."""
    chosen = None if keys is None else set(keys)
    return defs.map_asset_specs(func=lambda spec: func(spec) if chosen is None or spec.key in chosen else spec)
