"""Layer-wise execution of split models equals each model's full-graph forward (PyG), in chunks
and spilled to files; models that cannot be split are refused with one line."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch_geometric.nn import SAGEConv

from gnn_assets.layerwise.executor import LayerwiseExecutor, LayerwiseGraph
from gnn_assets.layerwise.probe import probe
from gnn_assets.layerwise.spill import SpillArea
from gnn_assets.layerwise.split import UnsplittableModel, split_model
from gnn_assets.models.graphsage import GraphSAGE
from tests.support.split_models import HETERO_MODELS, HOMOGENEOUS, HOMOGENEOUS_MODELS, TYPED, forward_by_model, random_graph, seeded


def _layerwise(model, signature, x, edge_index, *, chunk_nodes=None, budget_bytes=1 << 34, spill=None, progress=lambda _: None):
    program = split_model(model, signature)
    row_bytes = probe(program, model, {t: v.shape[1] for t, v in x.items()}, torch.device("cpu"))
    executor = LayerwiseExecutor(
        program, LayerwiseGraph.from_edge_index(x, edge_index), torch.device("cpu"),
        budget_bytes=budget_bytes, spill=spill, chunk_nodes=chunk_nodes, row_bytes=row_bytes, progress=progress,
    )
    with torch.inference_mode():
        return executor.run(), executor


@pytest.mark.parametrize("name", HOMOGENEOUS_MODELS)
@pytest.mark.parametrize("chunk_nodes", [None, 37])
def test_homogeneous_models_match_full_graph_forward(name, chunk_nodes):
    model = seeded(HOMOGENEOUS_MODELS[name])
    x, edge_index = random_graph(HOMOGENEOUS, {"paper": 300}, {"paper": 12})
    expected = forward_by_model(model, HOMOGENEOUS, x, edge_index)
    got, executor = _layerwise(model, HOMOGENEOUS, x, edge_index, chunk_nodes=chunk_nodes)
    torch.testing.assert_close(got["paper"], expected["paper"], atol=1e-4, rtol=1e-4)
    assert {s.chunks for s in executor.stats.stages} == ({1} if chunk_nodes is None else {9})


@pytest.mark.parametrize("name", HETERO_MODELS)
@pytest.mark.parametrize("chunk_nodes", [None, 29])
def test_heterogeneous_models_match_full_graph_forward(name, chunk_nodes):
    model = seeded(HETERO_MODELS[name])
    x, edge_index = random_graph(TYPED, {"user": 200, "item": 120}, {"user": 10, "item": 6})
    if name.startswith("to_hetero"):  # lazy input sizes are set by a first forward
        forward_by_model(model, TYPED, x, edge_index)
    expected = forward_by_model(model, TYPED, x, edge_index)
    got, _ = _layerwise(model, TYPED, x, edge_index, chunk_nodes=chunk_nodes)
    for node_type in ("user", "item"):
        torch.testing.assert_close(got[node_type], expected[node_type], atol=1e-4, rtol=1e-4)


def test_states_larger_than_the_budget_spill_to_files_and_stay_exact(tmp_path):
    model = seeded(HOMOGENEOUS_MODELS["residual_jk_user_model"])
    x, edge_index = random_graph(HOMOGENEOUS, {"paper": 2000}, {"paper": 12})
    expected = forward_by_model(model, HOMOGENEOUS, x, edge_index)
    spill = SpillArea(str(tmp_path / "states"))
    budget = 300_000  # the kept states need about 1 MB
    got, executor = _layerwise(model, HOMOGENEOUS, x, edge_index, budget_bytes=budget, spill=spill)
    assert executor.stats.spilled and executor.stats.states_bytes > budget
    assert executor.stats.spill_bytes >= executor.stats.states_bytes
    assert max(s.chunks for s in executor.stats.stages) > 1
    torch.testing.assert_close(got["paper"].clone(), expected["paper"], atol=1e-4, rtol=1e-4)
    spill.close()
    assert not (tmp_path / "states").exists()


class _OutOfMemoryOverChunks(SAGEConv):
    """Fails like a GPU out of memory for chunks of more than 50 destinations (the model's own
    full-graph forward, the oracle, passes)."""

    def forward(self, x, edge_index, size=None):
        if isinstance(x, tuple) and x[1].size(0) > 50:  # a chunk of the layer-wise pass
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return super().forward(x, edge_index, size)


def test_out_of_memory_shrinks_the_chunk_and_retries():
    torch.manual_seed(0)
    model = GraphSAGE(12, 16, 8).eval()
    model.convs[1] = _OutOfMemoryOverChunks(16, 8)
    x, edge_index = random_graph(HOMOGENEOUS, {"paper": 300}, {"paper": 12})
    expected = forward_by_model(model, HOMOGENEOUS, x, edge_index)
    got, executor = _layerwise(model, HOMOGENEOUS, x, edge_index, chunk_nodes=200)
    torch.testing.assert_close(got["paper"], expected["paper"], atol=1e-4, rtol=1e-4)
    assert executor.stats.oom_retries == 2  # 200 -> 100 -> 50


class _DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = SAGEConv(12, 8)

    def forward(self, x, edge_index):
        if x.sum() > 0:
            return self.conv(x, edge_index)
        return self.conv(-x, edge_index)


class _ReadsEdgesOutsideMessagePassing(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = SAGEConv(12, 8)

    def forward(self, x, edge_index):
        return self.conv(x + x[edge_index[0]].mean(), edge_index)


class _NormalizesOverAllNodes(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = SAGEConv(12, 8)

    def forward(self, x, edge_index):
        h = self.conv(x, edge_index)
        return h - h.mean(dim=0)


class _NoMessagePassing(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(12, 8)

    def forward(self, x, edge_index):
        return self.lin(x)


@pytest.mark.parametrize(
    "model, reason",
    [
        (_DataDependent(), "torch.fx cannot trace its forward"),
        (_ReadsEdgesOutsideMessagePassing(), "reads the edge index outside a message-passing module"),
        (_NormalizesOverAllNodes(), "differs from its own forward on a probe graph"),
        (_NoMessagePassing(), "has no message-passing module"),
    ],
)
def test_models_that_cannot_be_split_are_refused_in_one_line(model, reason):
    with pytest.raises(UnsplittableModel) as refused:
        program = split_model(model.eval(), HOMOGENEOUS)
        probe(program, model, {"paper": 12}, torch.device("cpu"))
    message = str(refused.value)
    assert reason in message and "\n" not in message
    assert type(model).__name__ in message


@pytest.mark.parametrize("spilled", [False, True])
def test_kept_states_are_handed_over_when_their_layer_completes_and_released_before_they_are_freed(tmp_path, spilled):
    """The order a state keeper relies on to write a state in the background while the later
    layers compute (before, the executor handed each state over only when it freed it, so the
    write held up the next layer; the outputs only once every layer was done)."""
    model = seeded(HOMOGENEOUS_MODELS["residual_jk_user_model"])
    x, edge_index = random_graph(HOMOGENEOUS, {"paper": 500}, {"paper": 12})
    program = split_model(model, HOMOGENEOUS)
    row_bytes = probe(program, model, {"paper": x["paper"].shape[1]}, torch.device("cpu"))
    executor = LayerwiseExecutor(
        program, LayerwiseGraph.from_edge_index(x, edge_index), torch.device("cpu"), budget_bytes=20_000 if spilled else 1 << 34,
        spill=SpillArea(str(tmp_path / "states")), chunk_nodes=64, row_bytes=row_bytes, progress=lambda _: None,
    )
    assert executor.stats.spilled == spilled
    events = []

    class Recorder:
        def complete(self, node, value):
            events.append(("complete", node.name, len(executor.stats.stages), value[:3].clone()))

        def release(self, node):
            events.append(("release", node.name, len(executor.stats.stages), executor.states[node][:3].clone()))

    with torch.inference_mode():
        finals = executor.run(keep=Recorder())
    produced = {node.name: program.stage[node] for node in program.last_read if node not in program.inputs}
    completed = {name: stages for kind, name, stages, _ in events if kind == "complete"}
    released = {name: stages for kind, name, stages, _ in events if kind == "release"}
    assert completed.keys() == produced.keys()
    for name, stage in produced.items():
        assert completed[name] == stage + 1  # right after its own stage, before the next one runs
    outputs = {node.name for node in program.outputs.values()}
    assert outputs <= completed.keys() and not outputs & released.keys()  # the outputs are returned, not freed
    assert released.keys() == completed.keys() - outputs
    for name in released:
        assert released[name] > completed[name]  # held until a later stage read it
    values = {(kind, name): value for kind, name, _, value in events}
    for name in released:  # what was handed over is what stays until it is released
        torch.testing.assert_close(values[("complete", name)], values[("release", name)])
    assert set(finals) == {"paper"}


STREAMED_MODELS = {
    "graphsage_mean": (HOMOGENEOUS, lambda: GraphSAGE(12, 32, 8, num_layers=3)),
    "graphsage_max": (HOMOGENEOUS, lambda: GraphSAGE(12, 32, 8, num_layers=2, aggr="max")),
    "gin": (HOMOGENEOUS, HOMOGENEOUS_MODELS["gin"]),
    "residual_jk_user_model": (HOMOGENEOUS, HOMOGENEOUS_MODELS["residual_jk_user_model"]),
    "hetero_graphsage": (TYPED, HETERO_MODELS["hetero_graphsage"]),
    "to_hetero": (TYPED, HETERO_MODELS["to_hetero"]),
}


@pytest.mark.parametrize("name", STREAMED_MODELS)
def test_spilled_states_stream_the_sources_of_aggregating_calls_and_stay_exact(tmp_path, name):
    """Past the memory budget, calls that aggregate in parts read their sources in ascending
    slabs, in passes over many destinations (before, every chunk gathered its sources' rows at
    random from the files: a page read per row once the files outgrow the page cache). Features
    come from a mapped file, as the enumeration's feature rows do."""
    signature, factory = STREAMED_MODELS[name]
    model = seeded(factory)
    if signature is TYPED:
        x, edge_index = random_graph(TYPED, {"user": 1500, "item": 900}, {"user": 10, "item": 6})
        forward_by_model(model, TYPED, x, edge_index)  # to_hetero's lazy sizes
    else:
        x, edge_index = random_graph(HOMOGENEOUS, {"paper": 2500}, {"paper": 12})
    expected = forward_by_model(model, signature, x, edge_index)
    in_memory, _ = _layerwise(model, signature, x, edge_index)
    spill = SpillArea(str(tmp_path / "states"))
    mapped = {}
    for node_type, features in x.items():
        features.numpy().tofile(tmp_path / f"{node_type}.bin")
        mapped[node_type] = spill.map_file(str(tmp_path / f"{node_type}.bin"), tuple(features.shape), torch.float32)
    lines = []
    got, executor = _layerwise(model, signature, mapped, edge_index, budget_bytes=150_000, spill=spill, progress=lines.append)
    assert executor.stats.spilled
    passes = max(s.streamed_passes for s in executor.stats.stages)
    assert passes > 1 and any(f"sources streamed in {passes} passes" in line for line in lines)
    for node_type in expected:
        torch.testing.assert_close(got[node_type].clone(), in_memory[node_type], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(got[node_type].clone(), expected[node_type], atol=1e-4, rtol=1e-4)
    spill.close()


def test_calls_that_need_their_in_edges_keep_gathering_when_spilled(tmp_path):
    model = seeded(HOMOGENEOUS_MODELS["gat"])
    x, edge_index = random_graph(HOMOGENEOUS, {"paper": 800}, {"paper": 12})
    expected = forward_by_model(model, HOMOGENEOUS, x, edge_index)
    got, executor = _layerwise(model, HOMOGENEOUS, x, edge_index, budget_bytes=100_000, spill=SpillArea(str(tmp_path / "states")))
    assert executor.stats.spilled and all(s.streamed_passes == 0 for s in executor.stats.stages)
    torch.testing.assert_close(got["paper"].clone(), expected["paper"], atol=1e-4, rtol=1e-4)
