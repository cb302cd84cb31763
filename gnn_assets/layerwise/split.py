"""Split a GNN into layers with torch.fx, so each layer can run once over the whole graph.

The model's forward is traced with PyG's message-passing modules (every MessagePassing, such as
SAGEConv, GATConv, GCNConv, GINConv) kept as single calls; HeteroConv and to_hetero wrappers
are traced through, down to the convolutions they hold. Every value of the traced program is
then one of:

- a node state: a tensor with one row per node of one node type (the input features, and
  everything computed from them);
- an edge index of one edge type (a graph input), which only a message-passing call may read;
- a constant: computed from parameters alone, evaluated once.

A message-passing call's output is one message-passing hop deeper than its inputs; every other
operation is as deep as its deepest input. Stage k holds the calls k hops deep and the node-wise
operations after them, so stage k reads node states of earlier stages for all nodes (the
in-neighbours of a chunk may be anywhere) and computes its own states one chunk of nodes at a
time. Values read by a later stage are kept for all nodes (residual connections and
jumping-knowledge concatenation read several); the rest live only within a chunk.

What tracing cannot see (an operation that mixes nodes outside message passing, such as a
normalization over all nodes) is caught by the executor's probe, which compares the chunked
program with the model's own forward on a small random graph before any work.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.fx as fx
from torch import nn
from torch_geometric.nn import MessagePassing

from gnn_assets.errors import UserError
from gnn_assets.graph.enumerated_layout import EdgeTypeKey


class UnsplittableModel(UserError, ValueError):
    """A model whose forward cannot be cut into message-passing layers."""


@dataclass(frozen=True)
class GraphSignature:
    """How the model is called: model(x, edge_index) for a homogeneous graph, or
    model(x_dict, edge_index_dict) keyed by node type and (src, relation, dst) for a typed one."""

    node_types: tuple[str, ...]
    edge_types: tuple[EdgeTypeKey, ...]
    heterogeneous: bool


class _FlatInputs(nn.Module):
    """The model with one tensor per input, so that the tracer makes one placeholder of each."""

    def __init__(self, model: nn.Module, signature: GraphSignature):
        super().__init__()
        self.model = model
        self.signature = signature

    def forward(self, *inputs):
        n = len(self.signature.node_types)
        if self.signature.heterogeneous:
            x_dict = dict(zip(self.signature.node_types, inputs[:n]))
            return self.model(x_dict, dict(zip(self.signature.edge_types, inputs[n:])))
        return self.model(inputs[0], inputs[1])


class _Tracer(fx.Tracer):
    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return isinstance(module, MessagePassing) or super().is_leaf_module(module, qualified_name)


@dataclass
class MessagePassingCall:
    """One call of a message-passing module: which argument is the edge index, of which type."""

    node: fx.Node
    module: MessagePassing
    edge_type: EdgeTypeKey
    edge_arg: tuple[str, int | str]  # ('arg', position) or ('kwarg', name)


@dataclass
class LayerProgram:
    """A traced model cut into stages; stage 0 runs before the first message-passing hop."""

    graph_module: fx.GraphModule
    signature: GraphSignature
    inputs: dict[fx.Node, str]  # feature placeholder -> node type
    edge_inputs: dict[fx.Node, EdgeTypeKey]
    constants: list[fx.Node]  # evaluated once, in graph order
    stages: list[dict[str, list[fx.Node]]]  # stage -> node type -> its nodes in graph order
    node_type: dict[fx.Node, str]
    stage: dict[fx.Node, int]
    calls: dict[fx.Node, MessagePassingCall]
    last_read: dict[fx.Node, int]  # a kept state -> the last stage that reads it (len(stages) for outputs)
    outputs: dict[str, fx.Node]  # node type -> its final state
    model_name: str = ""

    @property
    def num_layers(self) -> int:
        """Message-passing hops (stages after stage 0)."""
        return len(self.stages) - 1

    def module(self, node: fx.Node) -> nn.Module:
        return self.graph_module.get_submodule(node.target)


def _describe(node: fx.Node) -> str:
    return " ".join(node.format_node().split())[:160]


def split_model(model: nn.Module, signature: GraphSignature) -> LayerProgram:
    """Trace model and cut it before every message-passing call; UnsplittableModel (one line,
    naming the model and what blocks it) when that cannot be done."""
    name = type(model).__name__
    tracer = _Tracer()
    wrapper = _FlatInputs(model, signature)
    num_inputs = len(signature.node_types) + len(signature.edge_types)
    try:
        graph = tracer.trace(wrapper, concrete_args=tuple(fx.PH for _ in range(num_inputs)))
    except Exception as error:  # fx raises TraceError, TypeError, ... for data-dependent code
        raise UnsplittableModel(
            f"{name} cannot be split into layers: torch.fx cannot trace its forward ({type(error).__name__}: "
            f"{' '.join(str(error).split())[:200]}); data-dependent control flow is the usual cause"
        ) from error
    graph_module = fx.GraphModule(wrapper, graph)

    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    inputs = dict(zip(placeholders, signature.node_types))
    edge_inputs = dict(zip(placeholders[len(signature.node_types):], signature.edge_types))
    node_type: dict[fx.Node, str] = dict(inputs)
    stage: dict[fx.Node, int] = {n: 0 for n in inputs}
    constants: list[fx.Node] = []
    calls: dict[fx.Node, MessagePassingCall] = {}
    output_node = None

    for node in graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "output":
            output_node = node
            continue
        reads = node.all_input_nodes
        edges = [n for n in reads if n in edge_inputs]
        module = graph_module.get_submodule(node.target) if node.op == "call_module" else None
        if isinstance(module, MessagePassing):
            calls[node] = _message_passing_call(name, node, module, edge_inputs)
            edge_type = calls[node].edge_type
            states = [n for n in reads if n in node_type]
            wrong = [n for n in states if node_type[n] not in (edge_type[0], edge_type[2])]
            if wrong:
                raise UnsplittableModel(
                    f"{name}: {node.target} passes {edge_type} messages over states of node type {node_type[wrong[0]]!r}"
                )
            node_type[node] = edge_type[2]
            stage[node] = 1 + max((stage[n] for n in states), default=0)
            continue
        if edges:
            raise UnsplittableModel(
                f"{name} cannot be split into layers: `{_describe(node)}` reads the edge index outside a "
                "message-passing module, which mixes nodes the layers cannot see"
            )
        states = [n for n in reads if n in node_type]
        if not states:  # parameters, and what is computed from them alone
            constants.append(node)
            continue
        types = {node_type[n] for n in states}
        if len(types) > 1:
            raise UnsplittableModel(
                f"{name} cannot be split into layers: `{_describe(node)}` combines states of node types {sorted(types)} "
                "outside message passing"
            )
        node_type[node] = types.pop()
        stage[node] = max(stage[n] for n in states)

    outputs = _outputs(name, output_node, node_type, signature)
    num_stages = 1 + max((stage[n] for n in calls), default=0)
    if not calls:
        raise UnsplittableModel(f"{name} has no message-passing module (a torch_geometric MessagePassing) to split at")
    stages: list[dict[str, list[fx.Node]]] = [{} for _ in range(num_stages)]
    for node in graph.nodes:
        if node in node_type and node not in inputs:
            stages[stage[node]].setdefault(node_type[node], []).append(node)

    last_read: dict[fx.Node, int] = {}
    for node in graph.nodes:
        if node not in node_type:
            continue
        later = [stage[user] for user in node.users if user in stage and (stage[user] > stage[node] or user in calls)]
        if node in inputs:
            later = [stage[user] for user in node.users if user in stage]
        if later:
            last_read[node] = max(later)
    for node in outputs.values():
        last_read[node] = num_stages
    return LayerProgram(
        graph_module=graph_module,
        signature=signature,
        inputs=inputs,
        edge_inputs=edge_inputs,
        constants=constants,
        stages=stages,
        node_type=node_type,
        stage=stage,
        calls=calls,
        last_read=last_read,
        outputs=outputs,
        model_name=name,
    )


def _message_passing_call(name: str, node: fx.Node, module: MessagePassing, edge_inputs: dict) -> MessagePassingCall:
    where = [("arg", i) for i, a in enumerate(node.args) if a in edge_inputs]
    where += [("kwarg", k) for k, a in node.kwargs.items() if a in edge_inputs]
    if len(where) != 1:
        raise UnsplittableModel(
            f"{name}: {node.target} ({type(module).__name__}) must be called with exactly one edge index of the graph input, "
            f"as given (found {len(where)})"
        )
    if getattr(module, "flow", "source_to_target") != "source_to_target":
        raise UnsplittableModel(f"{name}: {node.target} uses flow={module.flow!r}; layers are computed over in-edges (source_to_target)")
    if node.kwargs.get("return_attention_weights"):
        raise UnsplittableModel(f"{name}: {node.target} returns attention weights, which are per edge, not per node")
    kind, key = where[0]
    edge_node = node.args[key] if kind == "arg" else node.kwargs[key]
    return MessagePassingCall(node, module, edge_inputs[edge_node], (kind, key))


def _outputs(name: str, output_node: fx.Node, node_type: dict, signature: GraphSignature) -> dict[str, fx.Node]:
    result = output_node.args[0]
    if isinstance(result, fx.Node) and result in node_type and not signature.heterogeneous:
        return {node_type[result]: result}
    if isinstance(result, dict) and all(isinstance(v, fx.Node) and v in node_type for v in result.values()):
        wrong = {t: node_type[v] for t, v in result.items() if node_type[v] != t}
        if wrong:
            raise UnsplittableModel(f"{name} returns states under other node types' names: {wrong}")
        return dict(result)
    raise UnsplittableModel(
        f"{name} must return one tensor of node states (homogeneous graph) or a dict of them by node type, "
        f"not {type(result).__name__}"
    )


def probe_graph(signature: GraphSignature, feature_dims: dict[str, int], num_nodes: int = 23, seed: int = 0):
    """A small random graph of the model's types: features per node type, edge index per edge
    type, some nodes without in-edges. What the executor's probe checks the split against."""
    generator = torch.Generator().manual_seed(seed)
    x = {t: torch.randn(num_nodes, feature_dims[t], generator=generator) for t in signature.node_types}
    edge_index = {}
    for key in signature.edge_types:
        degree = torch.randint(0, 5, (num_nodes,), generator=generator)
        dst = torch.repeat_interleave(torch.arange(num_nodes), degree)
        src = torch.randint(0, num_nodes, (len(dst),), generator=generator)
        pairs = torch.unique(torch.stack([src, dst]), dim=1)
        edge_index[key] = pairs
    return x, edge_index


def forward_by_type(model: nn.Module, signature: GraphSignature, x: dict, edge_index: dict, device: torch.device) -> dict:
    """The model's own forward on a whole graph, as node type -> states (the probes' oracle)."""
    if signature.heterogeneous:
        return model({t: v.to(device) for t, v in x.items()}, {k: e.to(device) for k, e in edge_index.items()})
    node_type, key = signature.node_types[0], signature.edge_types[0]
    return {node_type: model(x[node_type].to(device), edge_index[key].to(device))}
