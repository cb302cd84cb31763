"""layerwise.engine BEAM: the layers as a Beam job over blocks of nodes, with 2 worker processes
(multi_processing), equal to the LOCAL engine and to PyG's full-graph forward for the
homogeneous and heterogeneous reference models and for max aggregation; a run that failed at
layer 2 resumes there and gives the same output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gnn_assets.comparison.drift import aligned
from gnn_assets.jobs import driver
from gnn_assets.inference.protocol import load_inferencer
from gnn_assets import storage
from gnn_assets.layerwise import beam_states, beam_steps
from tests.support.deployments import prepare_job, write_task_config
from tests.support.exactness import assert_matches_full_graph_forward, assert_matches_hetero_full_graph_forward
from tests.support.models import SPECS

# Pieces of 4 KB: layers applied to a few dozen nodes at a time, outputs written per block of 96.
BEAM = {"gnnAssetsConfig.inferenceMode": "LAYERWISE", "gnnAssetsConfig.layerwise": {"engine": "BEAM", "blockNodes": 96, "pieceKb": 4}}
LOCAL = {"gnnAssetsConfig.inferenceMode": "LAYERWISE", "gnnAssetsConfig.layerwise": {"engine": "LOCAL"}}


def _run(job, job_name=None):
    return driver.run(job_name or job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None).job


def _local_run(job, base: str, **overrides):
    """The same job computed by the LOCAL engine, as another job of the same deployment."""
    write_task_config(Path(job.task_config_uri).parent, base, **LOCAL, **overrides)
    from gnn_assets.config.task_config import freeze_task_config, load_task_config, write_frozen_config

    frozen = freeze_task_config(load_task_config(job.task_config_uri), job.resources, "local")
    write_frozen_config(frozen)
    storage.write_bytes(frozen.trained_model_uri, storage.read_bytes(job.frozen.trained_model_uri))
    return _run(job, "local")


def _fail_at_layer_2(job, monkeypatch):
    """Run the job with every layer-2 worker lost (after layers 0 and 1 completed); it fails and
    publishes nothing. Returns the real Apply step, which the monkeypatch replaced."""
    process = beam_steps.Apply.process

    def fail_at_layer_2(self, element):
        if self._stage == 2:
            raise RuntimeError("worker lost")
        return process(self, element)

    monkeypatch.setattr(beam_steps.Apply, "process", fail_at_layer_2)
    with pytest.raises(Exception, match="worker lost"):
        _run(job)
    assert not storage.exists(job.resources.layout.job(job.frozen.task_name, job.job_name).inference_manifest_uri)
    return process


def _assert_equal_outputs(a, b, node_types, kinds=("embeddings",)):
    for node_type in node_types:
        for kind in kinds:
            value = "emb" if kind == "embeddings" else "pred"
            ids, x, y = aligned(a.outputs[node_type].files[kind], b.outputs[node_type].files[kind], value)
            assert len(ids) == a.outputs[node_type].rows == b.outputs[node_type].rows
            if value == "emb":
                assert np.abs(x - y).max() < 1e-4
            else:
                assert np.array_equal(x, y)


@pytest.mark.slow
@pytest.mark.parametrize("aggr", ["mean", "max"])
def test_homogeneous_beam_engine_equals_local_engine_and_full_graph_forward(tmp_path, small_homogeneous_graph, aggr):
    args = {"inferencerConfig.inferencerArgs": {"hid_dim": "32", "out_dim": "16", "num_classes": "8", "aggr": aggr}}
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, running_mode="multi_processing", num_workers=2, **BEAM, **args)
    beam = _run(job)
    assert beam.runner == "FnApiRunner" and beam.details["engine"] == "BEAM" and beam.details["blocks"] == {"paper": 11}
    assert set(beam.details["message_kinds"]["1"].values()) == {aggr}  # combined before the shuffle
    assert all(v > 0 for v in beam.details["message_bytes_per_edge"].values())
    assert beam.details["piece_nodes"] < 96 and max(beam.details["largest_message_piece_bytes"].values()) > 0

    assert_matches_full_graph_forward(job, small_homogeneous_graph, predictions=True)

    local = _local_run(job, "demo_node_classification", **args)
    _assert_equal_outputs(beam, local, ["paper"], ("embeddings", "predictions"))


@pytest.mark.slow
def test_heterogeneous_beam_engine_equals_local_engine_and_full_graph_forward(tmp_path, small_typed_graph):
    job = prepare_job(tmp_path, "demo_link_prediction", small_typed_graph, running_mode="multi_processing", num_workers=2, **BEAM)
    beam = _run(job)
    assert beam.details["blocks"] == {"user": 7, "item": 5}
    assert_matches_hetero_full_graph_forward(job, small_typed_graph, ["user", "item"])
    _assert_equal_outputs(beam, _local_run(job, "demo_link_prediction"), ["user", "item"])


@pytest.mark.slow
def test_a_run_that_failed_at_layer_2_resumes_there(tmp_path, small_homogeneous_graph, monkeypatch):
    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **BEAM)
    process = _fail_at_layer_2(job, monkeypatch)
    applied: list[int] = []

    def counting(self, element):
        applied.append(self._stage)
        return process(self, element)

    monkeypatch.setattr(beam_steps.Apply, "process", counting)
    resumed = _run(job)
    assert resumed.details["resumed_at_layer"] == 2 and set(applied) == {2}  # layers 0 and 1 were not computed again
    _assert_equal_outputs(resumed, _local_run(job, "demo_node_classification"), ["paper"], ("embeddings", "predictions"))


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["zeroed", "deleted", "cut"])
def test_a_run_whose_layer_state_was_damaged_recomputes_that_layer(tmp_path, small_homogeneous_graph, monkeypatch, damage):
    """Before: a layer-1 piece file zeroed (same schema and rows) after stage-1.done was resumed
    on at layer 2 and published 1,138 of 2,000 wrong rows, exit 0; a deleted or cut piece failed
    with a 156-line traceback."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **BEAM)
    process = _fail_at_layer_2(job, monkeypatch)
    monkeypatch.setattr(beam_steps.Apply, "process", process)
    layout = job.resources.layout.job(job.frozen.task_name, job.job_name)
    run_id = storage.child_names(storage.join(layout.inference_dir, "runs"))[-1]
    piece = storage.glob(storage.join(beam_states.states_dir_of(layout, run_id, ""), "stage-1", "*", "*.parquet"))[0]
    if damage == "zeroed":
        table = pq.read_table(piece)
        zeroed = [table["node_id"]] + [
            pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(len(c) * c.type.list_size, np.float32)), c.type.list_size)
            for c in (table[n].combine_chunks() for n in table.column_names[1:])
        ]
        pq.write_table(pa.Table.from_arrays(zeroed, names=table.column_names), piece, compression="none")
    elif damage == "deleted":
        storage.delete_tree(piece)
    else:
        storage.write_bytes(piece, storage.read_bytes(piece)[:100])
    lines: list[str] = []
    again = driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lines.append).job
    assert again.details["resumed_at_layer"] == 1
    assert any("is gone or changed since layer 1 completed (content hash): computing from layer 1 again" in line for line in lines)
    _assert_equal_outputs(again, _local_run(job, "demo_node_classification"), ["paper"], ("embeddings", "predictions"))


@pytest.mark.slow
def test_a_graph_enumerated_again_is_not_resumed_on(tmp_path, small_homogeneous_graph, monkeypatch):
    """Layers computed over the graph's old files are not reused once the graph was enumerated again."""
    from gnn_assets.graph.enumeration import enumerate_graph_source

    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph, **BEAM)
    process = _fail_at_layer_2(job, monkeypatch)
    monkeypatch.setattr(beam_steps.Apply, "process", process)
    enumerate_graph_source(job.resources.layout, job.frozen.graph_name)  # the same graph, written again
    again = _run(job)
    assert again.details["resumed_at_layer"] == 0
    _assert_equal_outputs(again, _local_run(job, "demo_node_classification"), ["paper"], ("embeddings", "predictions"))


@pytest.mark.slow
def test_gcn_on_beam_equals_local_engine_and_full_graph_forward(tmp_path, small_homogeneous_graph):
    """GCN's normalization on engine BEAM: a degree pass counts every node's in-edges before the
    first layer, and each source's degree travels with its rows to its destinations' blocks."""
    args = {"inferencerConfig.inferencerClsPath": SPECS["gcn"]}
    job = prepare_job(
        tmp_path, "demo_node_classification", small_homogeneous_graph, running_mode="multi_processing", num_workers=2,
        allowed_class_prefixes=["gnn_assets.", "tests."], **BEAM, **args,
    )
    beam = _run(job)
    assert set(beam.details["message_kinds"]["1"].values()) == {"gather"}

    layerwise = load_inferencer(job.frozen, job.resources.model_policy).inferencer.layerwise_model()
    assert_matches_full_graph_forward(job, small_homogeneous_graph, forward=layerwise.module)
    _assert_equal_outputs(beam, _local_run(job, "demo_node_classification", **args), ["paper"], ("embeddings", "predictions"))


def test_the_outbox_sends_early_within_its_budget_and_what_arrives_combines_to_the_same_aggregates(tmp_path):
    """A gather step's outbox: partial sums to three destination pieces and a budget that makes
    it send early several times; the messages are written to files and read back by reference,
    and what arrives combines to exactly what was put in."""
    from gnn_assets.layerwise.blocks import Partial, merge
    from gnn_assets.layerwise.messages import Outbox, read_messages, write_messages

    rng = np.random.default_rng(3)
    outbox = Outbox(budget_bytes=20_000)
    put, early = {}, []
    for _ in range(60):
        key, rows = ("paper", int(rng.integers(0, 3))), np.unique(rng.integers(0, 500, 40))
        part = Partial("conv", "sum", rows, rng.standard_normal((len(rows), 8)).astype(np.float32), np.ones(len(rows), np.int64))
        put.setdefault(key, []).append(part)
        early += outbox.add(key, part)
    sent = early + outbox.flush()
    assert early and outbox.flush() == []
    refs = write_messages(str(tmp_path), sent[:5]) + write_messages(str(tmp_path), sent[5:])
    assert len(list(tmp_path.iterdir())) == 2
    for key, parts in put.items():
        expected, got = merge(parts), read_messages([ref for k, ref in refs if k == key])["conv"]
        assert np.array_equal(expected.rows, got.rows) and np.array_equal(expected.counts, got.counts)
        np.testing.assert_allclose(expected.values, got.values, rtol=1e-5, atol=1e-5)


def _with_isolated_nodes(source, count: int = 3):
    """The graph with nodes that have no edge at all (their layers see only themselves)."""
    import pyarrow as pa

    from gnn_assets.graph.source import GraphSource

    added = {c: [source.nodes[c][0].as_py()] * count for c in source.nodes.column_names}
    added["node_id"] = [f"isolated_{i}" for i in range(count)]
    return GraphSource(source.metadata, pa.concat_tables([source.nodes, pa.table(added, schema=source.nodes.schema)]), source.edges)


@pytest.mark.slow
@pytest.mark.parametrize(
    "layers, block_nodes, piece_kb, running_mode",
    [
        (1, 4096, 0, "in_memory"),  # one block, the default piece: larger than the block
        (3, 4096, 0, "multi_processing"),  # one block, 3 layers: failed with 'watermark-pending bundles did not execute'
        (4, 64, 1, "in_memory"),  # many blocks, pieces far smaller than a block
        (2, 64, 64, "multi_processing"),  # many blocks, pieces larger than a block
    ],
)
def test_beam_engine_equals_local_and_the_full_graph_forward_at_every_depth(tmp_path, layers, block_nodes, piece_kb, running_mode):
    from gnn_assets.graph.demo import generate_homogeneous_demo_graph

    graph = _with_isolated_nodes(generate_homogeneous_demo_graph(400, seed=9))
    layerwise = {"engine": "BEAM", "blockNodes": block_nodes, **({"pieceKb": piece_kb} if piece_kb else {})}
    args = {"inferencerConfig.inferencerArgs": {"hid_dim": "24", "out_dim": "10", "num_classes": "5", "num_layers": str(layers)}}
    job = prepare_job(
        tmp_path, "demo_node_classification", graph, running_mode=running_mode, num_workers=2,
        **{"gnnAssetsConfig.inferenceMode": "LAYERWISE", "gnnAssetsConfig.layerwise": layerwise}, **args,
    )  # fmt: skip
    beam = _run(job)
    assert beam.details["layers"] == layers
    assert_matches_full_graph_forward(job, graph, predictions=True)
    _assert_equal_outputs(beam, _local_run(job, "demo_node_classification", **args), ["paper"], ("embeddings", "predictions"))
