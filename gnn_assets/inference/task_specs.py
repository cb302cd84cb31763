"""Standard task specs: GraphSAGE for node-anchor link prediction, node classification and
regression, and edge classification and regression.

Each builds its model from the config (graph metadata, feature sizes from the preprocessed
metadata, inferencerArgs), loads a state dict strictly, and runs batches in eval mode.
"""

from __future__ import annotations

import io

import torch
from torch import nn

from gnn_assets import storage
from gnn_assets.config.resource_config import ModelPolicy
from gnn_assets.config.task_config import TaskConfig, TaskKind
from gnn_assets.graph.collate import CollatedBatch, GraphTypes
from gnn_assets.graph.enumeration import read_preprocessed_metadata
from gnn_assets.inference.protocol import InferBatchResults, LayerwiseModel, ModelMismatchError, inferencer_from_config
from gnn_assets.models.graphsage import EdgePredictor, GraphSAGE, HeteroGraphSAGE, NodePredictor


def graph_types(config: TaskConfig) -> GraphTypes:
    """Type names and feature sizes, as the enumeration recorded them in the preprocessed metadata."""
    meta = read_preprocessed_metadata(config.preprocessed_metadata_uri).condensed_node_type_to_preprocessed_metadata
    missing = [t for i, t in enumerate(config.node_types) if i not in meta]
    if missing:
        raise ModelMismatchError(f"{config.preprocessed_metadata_uri}: no feature size for node types {missing}")
    dims = [meta[i].feature_dim for i in range(len(config.node_types))]
    return GraphTypes(config.node_types, config.edge_types, dims)


def _int_arg(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"inferencerArgs.{name} must be an integer, got {value!r}") from None


SAGE_AGGREGATIONS = ("mean", "max", "sum")  # inferencerArgs.aggr: how a layer combines its in-neighbours


class GraphSageTaskSpec:
    """Embeddings of the root nodes from a GraphSAGE encoder (hetero when the graph is typed)."""

    def __init__(self, hid_dim: str = "64", out_dim: str = "64", num_layers: str = "2", aggr: str = "mean"):
        self.hid_dim = _int_arg("hid_dim", hid_dim)
        self.out_dim = _int_arg("out_dim", out_dim)
        self.num_layers = _int_arg("num_layers", num_layers)
        if aggr not in SAGE_AGGREGATIONS:
            raise ValueError(f"inferencerArgs.aggr: {aggr!r} is not one of {', '.join(SAGE_AGGREGATIONS)}")
        self.aggr = aggr
        self.model: nn.Module | None = None
        self.types: GraphTypes | None = None

    def build_encoder(self, types: GraphTypes) -> nn.Module:
        if types.is_heterogeneous:
            in_dims = dict(zip(types.node_types, types.feature_dims))
            return HeteroGraphSAGE(in_dims, types.edge_types, self.hid_dim, self.out_dim, self.num_layers, aggr=self.aggr)
        return GraphSAGE(types.feature_dims[0], self.hid_dim, self.out_dim, self.num_layers, aggr=self.aggr)

    def build_model(self, types: GraphTypes) -> nn.Module:
        return self.build_encoder(types)

    def init_model(self, config: TaskConfig, state_dict: dict[str, torch.Tensor]) -> None:
        self.types = graph_types(config)
        model = self.build_model(self.types)
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as error:
            raise ModelMismatchError(
                f"trained model {config.trained_model_uri} does not fit the model that {config.origin} describes "
                f"({type(self).__name__}, hid_dim={self.hid_dim}, out_dim={self.out_dim}, num_layers={self.num_layers}): {error}"
            ) from error
        self.model = model.eval()

    def use_model(self, types: GraphTypes, model: nn.Module) -> None:
        """Run `model` (built by build_model, e.g. while a trainer trains it) instead of a loaded one."""
        self.types, self.model = types, model

    def to(self, device: torch.device) -> None:
        self.model = self.model.to(device)

    def encoder(self) -> nn.Module:
        return self.model

    def layerwise_model(self) -> LayerwiseModel:
        return LayerwiseModel(self.encoder())

    def embed(self, batch: CollatedBatch, device: torch.device) -> torch.Tensor:
        data = batch.data.to(device)
        encoder = self.encoder()
        if isinstance(encoder, HeteroGraphSAGE):
            out = encoder(data.x_dict, data.edge_index_dict)[batch.root_node_type]
        else:
            out = encoder(data.x, data.edge_index)
        return out[batch.root_index.to(device)]

    @torch.inference_mode()
    def infer_batch(self, batch: CollatedBatch, device: torch.device) -> InferBatchResults:
        return InferBatchResults(embeddings=self.embed(batch, device))


class NodeAnchorBasedLinkPredictionTaskSpec(GraphSageTaskSpec):
    """Link prediction: embeddings for every root node type; links are scored downstream."""


class NodePredictionTaskSpec(GraphSageTaskSpec):
    """Supervised on nodes: embeddings and a prediction per root from a linear head on them."""

    task_kind = TaskKind.NODE_CLASSIFICATION  # the task kind its configs must have
    outputs = 1  # the head's outputs per node

    def build_model(self, types: GraphTypes) -> nn.Module:
        return NodePredictor(self.build_encoder(types), self.outputs)

    def init_model(self, config: TaskConfig, state_dict: dict[str, torch.Tensor]) -> None:
        if config.task_kind is not self.task_kind:
            raise ModelMismatchError(
                f"{config.origin}: {type(self).__name__} runs {self.task_kind.value} tasks, and this config describes a "
                f"{config.task_kind.value} task (gnnAssetsConfig.regression: {config.proto.gnn_assets_config.regression})"
            )
        super().init_model(config, state_dict)

    def encoder(self) -> nn.Module:
        return self.model.encoder

    def layerwise_model(self) -> LayerwiseModel:
        return LayerwiseModel(self.encoder(), head=self.model.head, regression=self.task_kind is TaskKind.NODE_REGRESSION)

    @torch.inference_mode()
    def infer_batch(self, batch: CollatedBatch, device: torch.device) -> InferBatchResults:
        embeddings = self.embed(batch, device)
        return InferBatchResults(embeddings=embeddings, predictions=self.layerwise_model().predict(embeddings))


class NodeClassificationTaskSpec(NodePredictionTaskSpec):
    """Supervised node classification: embeddings and the predicted class of each root."""

    def __init__(self, num_classes: str, **kwargs: str):
        super().__init__(**kwargs)
        self.outputs = self.num_classes = _int_arg("num_classes", num_classes)

    def scores(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Class scores (logits) of embedded nodes."""
        return self.model.head(embeddings)


class NodeRegressionTaskSpec(NodePredictionTaskSpec):
    """Supervised node regression (gnnAssetsConfig.regression): embeddings and a predicted value
    per root, from a one-output linear head."""

    task_kind = TaskKind.NODE_REGRESSION

    def values(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Predicted values of embedded nodes, one per node."""
        return self.model.head(embeddings).reshape(-1)


EDGE_DECODERS = ("mlp", "dot")  # inferencerArgs.decoder of an edge task


class EdgeTaskSpec(GraphSageTaskSpec):
    """Supervised on edges (linkBasedTaskMetadata): node embeddings, then a prediction for every edge
    of the supervision edge types from its two ends' embeddings: a class (num_classes), or a value
    with gnnAssetsConfig.regression. decoder: 'mlp' (default; concatenation, hidden layer of
    hid_dim) or 'dot' (the ends' dot product: one value, regression only)."""

    def __init__(self, num_classes: str = "", decoder: str = "mlp", **kwargs: str):
        super().__init__(**kwargs)
        if decoder not in EDGE_DECODERS:
            raise ValueError(f"inferencerArgs.decoder: {decoder!r} is not one of {', '.join(EDGE_DECODERS)}")
        self.decoder = decoder
        self.num_classes = _int_arg("num_classes", num_classes) if num_classes else None
        if self.num_classes is not None and self.num_classes < 2:
            raise ValueError(f"inferencerArgs.num_classes must be at least 2, got {self.num_classes}")
        if decoder == "dot" and self.num_classes is not None:
            raise ValueError("inferencerArgs.decoder 'dot' gives one value per edge: it serves edge regression, not num_classes")

    @property
    def regression(self) -> bool:
        return self.num_classes is None

    def build_model(self, types: GraphTypes) -> nn.Module:
        return EdgePredictor(self.build_encoder(types), self.num_classes or 1, self.hid_dim, self.decoder)

    def init_model(self, config: TaskConfig, state_dict: dict[str, torch.Tensor]) -> None:
        expected = TaskKind.EDGE_REGRESSION if self.regression else TaskKind.EDGE_CLASSIFICATION
        if config.task_kind is not expected:
            raise ModelMismatchError(
                f"{config.origin}: {type(self).__name__} with "
                + (f"num_classes={self.num_classes}" if self.num_classes else "no num_classes (regression)")
                + f" runs {expected.value} tasks, and this config describes a {config.task_kind.value} task"
            )
        super().init_model(config, state_dict)

    def encoder(self) -> nn.Module:
        return self.model.encoder

    def edge_scores(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Class scores (logits) or, one column, the value of each edge from its ends' embeddings."""
        return self.model.score(src, dst)

    def predict_edges(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Each edge's prediction: the class scoring highest, or the value."""
        scores = self.edge_scores(src, dst)
        return scores.reshape(-1) if self.regression else scores.argmax(dim=-1)


def write_untrained_model(config: TaskConfig, seed: int = 0, policy: ModelPolicy = ModelPolicy()) -> str:
    """Save a seeded, freshly initialized state dict at the config's trained model URI.

    Training is outside this project; demos and tests need a model file all the same.
    """
    inferencer = inferencer_from_config(config, policy)
    if not isinstance(inferencer, GraphSageTaskSpec):
        raise ModelMismatchError(f"{config.origin}: untrained models can only be written for the built-in task specs")
    torch.manual_seed(seed)
    model = inferencer.build_model(graph_types(config))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    storage.write_bytes(config.trained_model_uri, buffer.getvalue())
    return config.trained_model_uri
