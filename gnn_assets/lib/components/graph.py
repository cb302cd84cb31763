"""The graph Component: one graph's source and its enumeration, shared by every task on it."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from gnn_assets.lib.components.deployment import project_deployment
from gnn_assets.lib.components.labels import AssetLabels, map_specs
from gnn_assets.lib.components.scaffolders import GraphScaffolder
from gnn_assets.lib.graphs.assets import build_graph_assets, node_id_mapping_key


@dg.scaffold_with(GraphScaffolder)
class GnnGraphComponent(dg.Component, AssetLabels, dg.Resolvable):
    """A graph: <name>/graph_source (the Parquet files as handed in) and <name>/node_id_mapping (their
    enumeration, GiGL's way). Tasks name it in gnnAssetsConfig.graphName; two tasks on one graph share
    this one instance."""

    graph_name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="The graph's name: its folder under the storage root's graphs/.")
    enumerate_new_sources: bool = Field(
        default=True,
        description="Enumerate the graph as soon as a new version of its source is materialized (AutomationCondition.eager).",
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        _, resources = project_deployment(context)
        defs = dg.Definitions(assets=build_graph_assets(self.graph_name, resources.warehouse_kind, resources.layout))
        defs = map_specs(defs, None, self.label)
        if not self.enumerate_new_sources:
            return defs
        eager = dg.AutomationCondition.eager()
        return map_specs(defs, [node_id_mapping_key(self.graph_name)], lambda spec: spec.replace_attributes(automation_condition=eager))
