"""What `dg scaffold defs` writes for our Component types.

GnnTaskComponent (`tasks/<task>`): the instance's defs.yaml and a commented GbmlConfig template
that runs as it is (node classification on the demo graph, trained here on a first job) and says
what to change. GnnGraphComponent (`graphs/<graph>`): defs.yaml naming the graph after its folder."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

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

TEMPLATE = """\
# The GbmlConfig template of task {task} (GiGL's YAML, camelCase). Every job of the task freezes it:
# the fields that derive from the job name and the deployment (sample and model URIs, output
# tables) are filled then. The task name is this file's name, or gnnAssetsConfig.taskName.
#
# As written it runs: node classification on the demo graph, with a model trained here when a job
# has no model file. Point it at your graph and your model below.
taskMetadata:
  # nodeBasedTaskMetadata for embeddings and predicted classes of nodes;
  # nodeAnchorBasedLinkPredictionTaskMetadata: {{supervisionEdgeTypes: [...]}} for link prediction.
  nodeBasedTaskMetadata:
    supervisionNodeTypes: [paper]
graphMetadata:
  # The node and edge types of the graph, as its graph_metadata.yaml names them.
  nodeTypes: [paper]
  edgeTypes:
    - {{srcNodeType: paper, relation: cites, dstNodeType: paper}}
# Trains a model for a job that has none (a file at <model root>/{task}/<job>.pt is used instead,
# and a new file there starts a job: the <task>_new_trained_model sensor). Remove it to require files.
trainerConfig:
  trainerClsPath: gnn_assets.training.node_classification.NodeClassificationTrainer
  trainerArgs: {{epochs: '3', batch_size: '512', learning_rate: '0.01', patience: '2', seed: '0'}}
inferencerConfig:
  # A class under the deployment's allowedClassPrefixes; its args must match the model file.
  inferencerClsPath: gnn_assets.inference.task_specs.NodeClassificationTaskSpec
  inferencerArgs: {{hid_dim: '64', out_dim: '32', num_layers: '2', num_classes: '8'}}
  inferenceBatchSize: 256
gnnAssetsConfig:
  # A graph instance of this project (defs/graphs/<name>/defs.yaml).
  graphName: demo_homogeneous
  # SAMPLED (k-hop samples, then a Beam job) or LAYERWISE (every layer once over all nodes, exact).
  inferenceMode: SAMPLED
  sampler:
    fanout: [10, 10]
    seed: '42'
  # The share of samples that may fail to decode before the job fails.
  maxDeadLetterFraction: 0.0
"""


class TaskScaffolder(dg.Scaffolder):
    """Writes defs.yaml and <task>.yaml, named for the instance's folder."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        task = _folder_name(request, "task")
        dg.scaffold_component(
            request,
            {
                "template": f"{task}.yaml",
                "automation": "on_new_model",
                "freshness": {"fail_window_hours": 26, "warn_window_hours": 24},
            },
        )
        (Path(request.target_path) / f"{task}.yaml").write_text(TEMPLATE.format(task=task))


class GraphScaffolder(dg.Scaffolder):
    """Writes defs.yaml for the graph named like the instance's folder; its source goes under the
    storage root's graphs/<graph>/source/ (README: What the assets are)."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        dg.scaffold_component(request, {"graph_name": _folder_name(request, "graph"), "enumerate_new_sources": True})
