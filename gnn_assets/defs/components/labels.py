"""What a user sets on the assets of a task or graph instance, beside what the library derives."""

from __future__ import annotations

import dagster as dg
from pydantic import Field


class AssetLabels(dg.Model):
    """Attributes shared by the task and graph Components: where their assets show and who owns them."""

    group: str | None = Field(default=None, description="Asset group in the UI (default: the task name, or graph_<name>).")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags added to every asset of the instance.")
    owners: list[str] = Field(default_factory=list, description="Owners of every asset (emails or team:<name>).")

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
