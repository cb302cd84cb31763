"""What `dg scaffold defs` writes for our Component types.

GnnTaskComponent (`tasks/<task>`): the instance's defs.yaml and a commented GbmlConfig template
that runs as it is (node classification or regression, edge classification or regression, or link
prediction on a demo graph, as --task-type says; trained here on a first job) and says what to
change. GnnGraphComponent (`graphs/<graph>`): defs.yaml naming the graph after its folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import BaseModel, Field

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _folder_name(request: dg.ScaffoldRequest, what: str) -> str:
    """The instance folder's name, which names the task or graph; a folder outside the project,
    or a name that cannot be one, is refused and the empty folder dg made for it removed."""
    target = Path(request.target_path)
    name = target.name
    problem = None
    if request.project_root is not None and not target.resolve().is_relative_to(Path(request.project_root).resolve()):
        problem = f"lies outside the project {request.project_root}"
    elif ".." in target.parts:
        problem = "must not climb out of its folder with '..'"
    elif not _NAME.fullmatch(name):
        problem = f"the folder's name is the {what} name and must match [a-z][a-z0-9_]*"
    if problem is None:
        return name
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    raise ValueError(f"{request.target_path}: {problem}")

_HEADER = """\
# The GbmlConfig template of task {task} (GiGL's YAML, camelCase). Every job of the task freezes it:
# the fields that derive from the job name and the deployment (sample and model URIs, output
# tables) are filled then. The task name is this file's name, or gnnAssetsConfig.taskName.
#
# As written it runs: {what}.
# A model is trained here when a job has no model file. Point it at your graph and your model below.
"""

_TRAINED_HERE = """\
# Trains a model for a job that has none (a file at <model root>/{task}/<job>.pt is used instead,
# and a new file there starts a job: the <task>_new_trained_model sensor). Remove it to require files.
"""

_PAPERS = """\
graphMetadata:
  # The node and edge types of the graph, as its graph_metadata.yaml names them.
  nodeTypes: [paper]
  edgeTypes:
    - {{srcNodeType: paper, relation: cites, dstNodeType: paper}}
"""

_USERS_AND_ITEMS = """\
graphMetadata:
  # The node and edge types of the graph, as its graph_metadata.yaml names them.
  nodeTypes: [user, item]
  edgeTypes:
    - {{srcNodeType: user, relation: buys, dstNodeType: item}}
    - {{srcNodeType: item, relation: bought_by, dstNodeType: user}}
    - {{srcNodeType: user, relation: follows, dstNodeType: user}}
"""

_RUN = """\
  # SAMPLED (k-hop samples, then a Beam job) or LAYERWISE (every layer once over all nodes, exact).
  inferenceMode: SAMPLED
  sampler:
    fanout: [10, 10]
    seed: '42'
  # The share of samples that may fail to decode before the job fails.
  maxDeadLetterFraction: 0.0
"""

# What differs between the task types a template can start from.
_TASK_TYPES = {
    "node_classification": (
        "node classification on the demo graph",
        """\
taskMetadata:
  # nodeBasedTaskMetadata for embeddings and predicted classes of nodes (with
  # gnnAssetsConfig.regression: predicted values); nodeAnchorBasedLinkPredictionTaskMetadata:
  # {{supervisionEdgeTypes: [...]}} for link prediction.
  nodeBasedTaskMetadata:
    supervisionNodeTypes: [paper]
""",
        _PAPERS,
        """\
trainerConfig:
  trainerClsPath: gnn_assets.training.node_classification.NodeClassificationTrainer
  trainerArgs: {{epochs: '3', batch_size: '512', learning_rate: '0.01', patience: '2', seed: '0'}}
inferencerConfig:
  # A class under the deployment's allowedClassPrefixes; its args must match the model file.
  inferencerClsPath: gnn_assets.inference.task_specs.NodeClassificationTaskSpec
  inferencerArgs: {{hid_dim: '64', out_dim: '32', num_layers: '2', num_classes: '8'}}
  inferenceBatchSize: 256
gnnAssetsConfig:
  # A graph instance of this project (defs/graphs/<name>/defs.yaml); its labels are integer classes.
  graphName: demo_homogeneous
""",
    ),
    "node_regression": (
        "node regression (each item's price) on the typed demo graph",
        """\
taskMetadata:
  # Node regression: nodeBasedTaskMetadata with gnnAssetsConfig.regression below; the supervision
  # node type's labels are floating numbers (NULL where a node has none).
  nodeBasedTaskMetadata:
    supervisionNodeTypes: [item]
""",
        _USERS_AND_ITEMS,
        """\
trainerConfig:
  trainerClsPath: gnn_assets.training.node_regression.NodeRegressionTrainer
  trainerArgs: {{epochs: '6', batch_size: '512', learning_rate: '0.01', patience: '2', seed: '0'}}
inferencerConfig:
  # A class under the deployment's allowedClassPrefixes; its args must match the model file.
  inferencerClsPath: gnn_assets.inference.task_specs.NodeRegressionTaskSpec
  inferencerArgs: {{hid_dim: '64', out_dim: '32', num_layers: '2'}}
  inferenceBatchSize: 256
gnnAssetsConfig:
  # A graph instance of this project (defs/graphs/<name>/defs.yaml); its labels are values.
  graphName: demo_typed
  # The labels are values: the predictions table holds a value per node (RMSE and R^2 are checked).
  regression: true
""",
    ),
    "edge_classification": (
        "edge classification (citations within one community) on the homogeneous demo graph",
        """\
taskMetadata:
  # Edge tasks: linkBasedTaskMetadata; the supervision edges' labels (edges.parquet's label column)
  # are integer classes (with gnnAssetsConfig.regression: floating values). A prediction per edge.
  linkBasedTaskMetadata:
    supervisionEdgeTypes:
      - {{srcNodeType: paper, relation: cites, dstNodeType: paper}}
""",
        _PAPERS,
        """\
trainerConfig:
  trainerClsPath: gnn_assets.training.edge_prediction.EdgeTrainer
  trainerArgs: {{epochs: '10', batch_size: '512', learning_rate: '0.01', patience: '3', seed: '0', fanout: '10,10', edges_per_epoch: '8000'}}
inferencerConfig:
  # A class under the deployment's allowedClassPrefixes; its args must match the model file.
  # decoder: mlp (the two ends' embeddings concatenated, then a hidden layer) or dot (regression only).
  inferencerClsPath: gnn_assets.inference.task_specs.EdgeTaskSpec
  inferencerArgs: {{hid_dim: '64', out_dim: '32', num_layers: '2', num_classes: '2', decoder: mlp}}
gnnAssetsConfig:
  # A graph instance of this project (defs/graphs/<name>/defs.yaml); its edge labels are classes.
  graphName: demo_homogeneous
""",
    ),
    "edge_regression": (
        "edge regression (each purchase's rating) on the typed demo graph",
        """\
taskMetadata:
  # Edge tasks: linkBasedTaskMetadata with gnnAssetsConfig.regression below; the supervision edges'
  # labels (edges.parquet's label column) are floating numbers. A predicted value per edge.
  linkBasedTaskMetadata:
    supervisionEdgeTypes:
      - {{srcNodeType: user, relation: buys, dstNodeType: item}}
""",
        _USERS_AND_ITEMS,
        """\
trainerConfig:
  trainerClsPath: gnn_assets.training.edge_prediction.EdgeTrainer
  trainerArgs: {{epochs: '10', batch_size: '512', learning_rate: '0.01', patience: '3', seed: '0', fanout: '10,10', edges_per_epoch: '4000'}}
inferencerConfig:
  # A class under the deployment's allowedClassPrefixes; its args must match the model file.
  # decoder: mlp (the two ends' embeddings concatenated, then a hidden layer) or dot.
  inferencerClsPath: gnn_assets.inference.task_specs.EdgeTaskSpec
  inferencerArgs: {{hid_dim: '64', out_dim: '32', num_layers: '2', decoder: mlp}}
gnnAssetsConfig:
  # A graph instance of this project (defs/graphs/<name>/defs.yaml); its edge labels are values.
  graphName: demo_typed
  regression: true
""",
    ),
    "link_prediction": (
        "link prediction (users buying items) on the typed demo graph",
        """\
taskMetadata:
  # Node-anchor link prediction: embeddings of both ends of the supervision edge types.
  nodeAnchorBasedLinkPredictionTaskMetadata:
    supervisionEdgeTypes:
      - {{srcNodeType: user, relation: buys, dstNodeType: item}}
""",
        _USERS_AND_ITEMS,
        """\
trainerConfig:
  trainerClsPath: gnn_assets.training.link_prediction.LinkPredictionTrainer
  trainerArgs: {{epochs: '3', batch_size: '512', learning_rate: '0.01', patience: '2', seed: '0', edges_per_epoch: '20000'}}
inferencerConfig:
  # A class under the deployment's allowedClassPrefixes; its args must match the model file.
  inferencerClsPath: gnn_assets.inference.task_specs.NodeAnchorBasedLinkPredictionTaskSpec
  inferencerArgs: {{hid_dim: '64', out_dim: '32', num_layers: '2'}}
  inferenceBatchSize: 256
gnnAssetsConfig:
  # A graph instance of this project (defs/graphs/<name>/defs.yaml).
  graphName: demo_typed
""",
    ),
}
TASK_TYPES = tuple(_TASK_TYPES)


_LAYERWISE = """\
  # Edge tasks run LAYERWISE: every node embedded once, exactly, then every supervision edge scored.
  inferenceMode: LAYERWISE
  maxDeadLetterFraction: 0.0
"""


def task_template(task: str, task_type: str = "node_classification") -> str:
    """The commented GbmlConfig template a scaffolded task of task_type starts from."""
    what, task_metadata, graph, model = _TASK_TYPES[task_type]
    run = _LAYERWISE if task_type.startswith("edge_") else _RUN
    return (_HEADER + task_metadata + graph + _TRAINED_HERE + model + run).format(task=task, what=what)


class TaskScaffoldParams(BaseModel):
    """`dg scaffold defs ...GnnTaskComponent tasks/<task> --task-type node_regression`."""

    task_type: Literal["node_classification", "node_regression", "edge_classification", "edge_regression", "link_prediction"] = Field(
        default="node_classification", description="the kind of task the template starts from"
    )


class TaskScaffolder(dg.Scaffolder[TaskScaffoldParams]):
    """Writes defs.yaml and <task>.yaml, named for the instance's folder."""

    @classmethod
    def get_scaffold_params(cls) -> type[TaskScaffoldParams]:
        return TaskScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[TaskScaffoldParams]) -> None:
        task = _folder_name(request, "task")
        task_type = request.params.task_type if request.params else "node_classification"
        dg.scaffold_component(
            request,
            {
                "template": f"{task}.yaml",
                "automation": "on_new_model",
                "freshness": {"fail_window_hours": 26, "warn_window_hours": 24},
            },
        )
        (Path(request.target_path) / f"{task}.yaml").write_text(task_template(task, task_type))


class GraphScaffolder(dg.Scaffolder):
    """Writes defs.yaml for the graph named like the instance's folder; its source goes under the
    storage root's graphs/<graph>/source/ (README: What the assets are)."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        dg.scaffold_component(request, {"graph_name": _folder_name(request, "graph"), "enumerate_new_sources": True})
