"""The project's Component types (`dg list components`): a deployment, graphs, and GNN tasks."""

from gnn_assets.lib.components.deployment import GnnDeploymentComponent
from gnn_assets.lib.components.graph import GnnGraphComponent
from gnn_assets.lib.components.task import GnnTaskComponent

__all__ = ["GnnDeploymentComponent", "GnnGraphComponent", "GnnTaskComponent"]
