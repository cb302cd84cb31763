"""The one exactness check of a layer-wise split, before any work: the split program (LOCAL's
executor, in chunks of 5 nodes) and the block engine (BEAM's, in blocks of 5) are each run on a
small random graph and compared with the model's own forward; a model either cannot compute
exactly is refused in one line."""

from __future__ import annotations

import numpy as np
import torch
from torch import fx

from gnn_assets.config.task_config import TaskConfig
from gnn_assets.inference.protocol import LayerwiseModel, LoadedInferencer, move_to_device
from gnn_assets.layerwise.blocks import BlockEngine, Blocks, run_in_process
from gnn_assets.layerwise.executor import LayerwiseExecutor, LayerwiseGraph
from gnn_assets.layerwise.split import GraphSignature, LayerProgram, UnsplittableModel, forward_by_type, probe_graph, split_model


def _refuse_unless_equal(program: LayerProgram, got: dict, expected: dict, how: str, instead: str) -> None:
    for node_type, value in got.items():
        value = value.float().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        reference = expected[node_type].float().cpu().numpy()
        difference = float(np.abs(value - reference).max()) if value.size and value.shape == reference.shape else 0.0
        if value.shape != reference.shape or difference > 1e-4 * (1 + float(np.abs(reference).max(initial=0.0))):
            raise UnsplittableModel(
                f"{program.model_name}: {how} it differs from its own forward on a probe graph (node type {node_type!r}, "
                f"max difference {difference:.2e}){instead}"
            )


def probe(program: LayerProgram, model, feature_dims: dict[str, int], device: torch.device) -> dict[fx.Node, int]:
    """Run the split program in small chunks on a random graph and compare it with the model's
    own forward; refuse the model (one line) when they differ. Returns each state's bytes per
    node, for planning the real run."""
    x, edge_index = probe_graph(program.signature, feature_dims)
    with torch.inference_mode():
        expected = forward_by_type(model, program.signature, x, edge_index, device)
        executor = LayerwiseExecutor(
            program, LayerwiseGraph.from_edge_index(x, edge_index), device, budget_bytes=1 << 40, progress=lambda _: None, chunk_nodes=5
        )
        got = executor.run()
    _refuse_unless_equal(
        program, got, expected, "computed layer by layer in chunks of nodes,",
        ": an operation outside message passing mixes nodes (a normalization or pooling over all nodes, say); use inferenceMode SAMPLED",
    )  # fmt: skip
    return executor.row_bytes


def probe_blocks(program: LayerProgram, model, feature_dims: dict[str, int], row_bytes: dict, device: torch.device) -> dict[str, int]:
    """Run the block engine in process on the executor's probe graph, in blocks of 5 nodes, and
    compare with the model's own forward; refuse (one line) when they differ. Returns the widths."""
    widths = {node.name: max(row_bytes.get(node, 0) // 4, 0) for node in program.node_type}
    engine = BlockEngine(program, widths, device)
    x, edge_index = probe_graph(program.signature, feature_dims)
    with torch.inference_mode():
        expected = forward_by_type(model, program.signature, x, edge_index, device)
        got = run_in_process(
            engine,
            Blocks(5, {t: v.shape[0] for t, v in x.items()}),
            {t: v.numpy() for t, v in x.items()},
            {k: (e[0].numpy(), e[1].numpy()) for k, e in edge_index.items()},
        )
    _refuse_unless_equal(program, got, expected, "computed in blocks by engine BEAM", "; use layerwise.engine LOCAL")
    return widths


def layerwise_model_of(inferencer, config: TaskConfig) -> LayerwiseModel:
    make = getattr(inferencer, "layerwise_model", None)
    if not callable(make):
        raise UnsplittableModel(
            f"{config.uri}: {type(inferencer).__name__} has no layerwise_model(), so inferenceMode LAYERWISE cannot run it; "
            "add one returning LayerwiseModel(module, head) or use inferenceMode SAMPLED"
        )
    return make()


def split_and_probe(loaded: LoadedInferencer, config: TaskConfig, signature: GraphSignature, dims, device, progress):
    move_to_device(loaded.inferencer, device)
    model = layerwise_model_of(loaded.inferencer, config)
    program = split_model(model.module, signature)
    row_bytes = probe(program, model.module, dims, device)  # refuses a split that is not exact, before any work
    progress(f"{program.model_name} split into {program.num_layers} message-passing layers; the split matches its forward on a probe graph")
    return model, program, row_bytes
