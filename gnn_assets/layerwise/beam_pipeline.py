"""An engine BEAM job's pipeline: per message-passing layer, the gathers (started by the layer
before's completion), the group by destination piece and the apply; the degree pass before a GCN
layer; what a worker holds (worker_limits), set by the config; the models it runs and the first
layer each resumes at."""

from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam
import pyarrow.parquet as pq
import torch

from gnn_assets.config.job import Job
from gnn_assets import storage
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.enumerated_layout import edges_uri, nodes_uri
from gnn_assets.outputs.published import output_kinds
from gnn_assets.beam.runners import torch_threads_per_worker
from gnn_assets.layerwise.beam_states import completed_stages, messages_dir, output_dir_of, states_dir_of
from gnn_assets.layerwise.beam_steps import Apply, CountDegrees, DeleteMessages, Gather, Increment, MarkDone, ModelSpec, WriteDegrees, WriteOutputs
from gnn_assets.layerwise.blocks import BlockEngine, Blocks
from gnn_assets.layerwise.frame import ProbedModel
from gnn_assets.layerwise.probe import probe_blocks


def _row_groups(uri: str) -> int:
    with storage.open_read(uri) as stream:
        return pq.ParquetFile(stream).num_row_groups


def _degree_pass(pipeline, graph_dir, states_dir, blocks: Blocks, keys: list, limits: dict[str, int], label: str):
    """Before the first layer with a GCN call: every node's in-degree per edge type of one,
    written per destination block (degrees_uri). Returns the pass's completion, as a tick."""
    tasks = [(list(key), g) for key in keys for g in range(_row_groups(edges_uri(graph_dir, key)))]
    types = sorted({key[2] for key in keys})
    grouped = {
        "block": pipeline
        | f"{label}[degrees] Destination pieces" >> beam.Create([((t, b), None) for t in types for b in range(blocks.count(t))]),
        "parts": pipeline
        | f"{label}[degrees] Edges" >> beam.Create(tasks)
        | f"{label}[degrees] Spread edges" >> beam.Reshuffle()
        | f"{label}[degrees] Count in-edges" >> beam.ParDo(CountDegrees(graph_dir, states_dir, blocks, limits)),
    }
    return (
        grouped
        | f"{label}[degrees] Group by destination piece" >> beam.CoGroupByKey()
        | f"{label}[degrees] Write" >> beam.ParDo(WriteDegrees(states_dir, blocks, keys))
        | f"{label}[degrees] Count nodes" >> beam.CombineGlobally(sum)
        | f"{label}[degrees] Delete their messages" >> beam.ParDo(DeleteMessages(messages_dir(states_dir, "degrees")))
    )


def worker_limits(config: TaskConfig, engine: BlockEngine) -> dict[str, int]:
    """What one worker holds at once, from the config, never from the graph: partial aggregates
    waiting to be sent (combineMb), the sources gathered in one run (a quarter of combineMb of
    their messages) and the nodes of a piece, the unit a layer is applied to and its states are
    written in (about pieceKb of the widest state; the messages to a piece are what each worker
    sent it)."""
    piece, combine = config.layerwise_piece_bytes, config.layerwise_combine_bytes
    row = 4 * max(engine.widths.values(), default=1) + 16
    return {
        "combine_bytes": combine,
        "run_edges": max(1024, combine // 4 // row),
        "piece_nodes": min(config.layerwise_block_nodes, max(16, piece // row)),
    }


def build_pipeline(
    pipeline: beam.Pipeline,
    config: TaskConfig,
    spec: ModelSpec,
    engine: BlockEngine,
    blocks: Blocks,
    graph_dir: str,
    states_dir: str,
    output_dirs: dict[str, str],
    fingerprint: dict,
    first_stage: int,
    label: str = "",
    role: str = "",
    increment: Increment | None = None,
) -> None:
    """Every stage from first_stage, then the outputs, onto the pipeline. Layers run over pieces
    of blocks (worker_limits); the outputs are written per block."""
    program = engine.program
    stage_of = {n.name: program.stage[n] for n in program.node_type}
    inputs = engine.inputs
    limits = worker_limits(config, engine)
    pieces = Blocks(limits["piece_nodes"], blocks.num_nodes)
    edge_types = sorted({c.edge_type for plan in engine.plans[first_stage:] for calls in plan.calls.values() for c in calls})
    # One task per row group of the edge files; every layer's gather reads its edges from
    # storage again, so edges never travel through the shuffle.
    tasks_by_source = {
        key: tuple((list(edge_key), g) for edge_key in edge_types if edge_key[0] == key for g in range(_row_groups(edges_uri(graph_dir, edge_key))))
        for key in sorted({k[0] for k in edge_types})
    }
    degree_types = engine.degree_edge_types(first_stage)
    if degree_types:  # the first layer waits for the degrees as each layer waits for the one before
        tick = _degree_pass(pipeline, graph_dir, states_dir, pieces, degree_types, limits, label)
    else:
        tick = pipeline | f"{label}Start at layer {first_stage}" >> beam.Create([0])
    for plan in engine.plans[first_stage:]:
        k = plan.stage
        name = f"{label}[layer {k}] "
        grouped = {
            "block": tick
            | f"{name}Destination pieces"
            >> beam.FlatMap(lambda _, types=tuple(plan.node_types): [((t, b), None) for t in types for b in range(pieces.count(t))])
        }
        partials = []
        for src_type in plan.calls:
            needed = {s: stage_of[s] for s in engine.source_states(k, src_type)}
            gcn_types = sorted({c.edge_type for c in plan.calls[src_type] if c.gcn is not None})
            gather = Gather(spec, pieces, k, graph_dir, states_dir, needed, inputs, role, limits, gcn_types, increment)
            # The layer before's completion emits this layer's tasks (a main input, not a side
            # input: one edge-task collection read by every layer's gather with the ticks as side
            # inputs was fused into one stage waiting on its own output, from 3 layers on).
            partials.append(
                tick
                | f"{name}Edges from {src_type}" >> beam.FlatMap(lambda _, tasks=tasks_by_source[src_type]: tasks)
                | f"{name}Spread edges from {src_type}" >> beam.Reshuffle()
                | f"{name}Gather from {src_type}" >> beam.ParDo(gather)
            )
        if partials:
            grouped["parts"] = partials | f"{name}Messages" >> beam.Flatten()
        own = {t: {s: stage_of[s] for s in plan.own_states[t]} for t in plan.node_types}
        gcn_into = {t: sorted({c.edge_type for c in plan.calls_into(t) if c.gcn is not None}) for t in plan.node_types}
        applied = (
            grouped
            | f"{name}Group by destination piece" >> beam.CoGroupByKey()
            | f"{name}Apply"
            >> beam.ParDo(Apply(spec, pieces, k, graph_dir, states_dir, own, inputs, role, gcn_into, plan.kept, increment))
        )
        tick = (
            applied
            | f"{name}Count nodes" >> beam.CombineGlobally(sum)
            | f"{name}Mark complete" >> beam.ParDo(MarkDone(states_dir, k, fingerprint))
        )
    final = {t: (engine.outputs[t], stage_of[engine.outputs[t]]) for t in config.root_node_types}
    kinds = [kind for kind, _ in output_kinds(config)]
    (
        tick
        | f"{label}Output blocks" >> beam.FlatMap(lambda _: [(t, b) for t in config.root_node_types for b in range(blocks.count(t))])
        | f"{label}Spread output blocks" >> beam.Reshuffle()
        | f"{label}Write outputs" >> beam.ParDo(WriteOutputs(spec, blocks, pieces, graph_dir, states_dir, final, output_dirs, kinds, role))
    )




@dataclass
class BeamModel:
    """One model the job runs: the job's own (role "") or its champion's."""

    role: str
    config: TaskConfig  # the config whose inferencer and model file it is
    model_sha256: str
    engine: BlockEngine
    piece_nodes: int  # worker_limits: the unit its layers are applied to

    def spec(self, config: TaskConfig, resources: Resources) -> ModelSpec:
        return ModelSpec(
            config, self.config, self.model_sha256, resources.model_policy, self.engine.widths, resources.device, torch_threads_per_worker(resources)
        )

    def fingerprint(self, blocks: Blocks, graph: dict[str, str]) -> dict:
        """What a layer's states depend on: a run resumes only when all of it is unchanged."""
        return {
            "config_sha256": self.config.sha256,
            "model_sha256": self.model_sha256,
            "block_nodes": blocks.block_nodes,
            "piece_nodes": self.piece_nodes,
            "graph": graph,
        }


def graph_version(job: Job) -> dict[str, str]:
    """The version token of every node and edge file the job reads (a graph enumerated again has new ones)."""
    config, graph_dir = job.config, job.graph_dir
    uris = [nodes_uri(graph_dir, t) for t in config.node_types] + [edges_uri(graph_dir, k) for k in config.edge_types]
    return {storage.basename(uri): "".join(v.version for v in storage.file_versions(uri)) for uri in uris}


def prepare_models(config: TaskConfig, probed: list[ProbedModel], dims: dict[str, int], progress=print) -> list[BeamModel]:
    """Each split model (the frame split and probed them) checked once more on the probe graph,
    computed in blocks by the block engine: a model engine BEAM cannot compute exactly is refused here."""
    device = torch.device("cpu")  # the driver only checks; workers run on the deployment's device
    models = []
    for m in probed:
        widths = probe_blocks(m.program, m.model.module, dims, m.row_bytes, device)
        engine = BlockEngine(m.program, widths, device)
        models.append(BeamModel(m.role, m.config, m.model_sha256, engine, worker_limits(config, engine)["piece_nodes"]))
        kinds = sorted({c.kind for plan in models[-1].engine.plans for calls in plan.calls.values() for c in calls})
        progress(f"engine BEAM: the blocks match the forward on a probe graph; messages combined by {', '.join(kinds)}")
    return models




def build_job(
    pipeline: beam.Pipeline,
    job: Job,
    models: list[BeamModel],
    blocks: Blocks,
    run_id: str,
    graph: dict[str, str],
    increment: Increment | None = None,
    progress=lambda _: None,
) -> dict[str, int]:
    """Every model's remaining layers and outputs onto the pipeline; the first layer each starts
    at. graph: the version of the graph's files (graph_version), part of each layer's mark;
    increment: an incremental job's inputs, for the job's own model (a champion runs whole)."""
    config, resources, job_layout, graph_dir = job.config, job.resources, job.layout, job.graph_dir
    firsts = {}
    for model in models:
        states_dir = states_dir_of(job_layout, run_id, model.role)
        fingerprint = model.fingerprint(blocks, graph)
        firsts[model.role] = first = completed_stages(states_dir, fingerprint, progress)
        build_pipeline(
            pipeline,
            config,
            model.spec(config, resources),
            model.engine,
            blocks,
            graph_dir,
            states_dir,
            {t: output_dir_of(job_layout, run_id, t, model.role) for t in config.root_node_types},
            fingerprint,
            first,
            label=f"{model.role} " if model.role else "",
            role=model.role,
            increment=None if model.role else increment,
        )
    return firsts


def resumable_run(job_layout, models: list[BeamModel], blocks: Blocks, graph: dict[str, str]) -> str | None:
    """The newest uncommitted run of this job with layers complete for the same models and blocks."""
    from gnn_assets.outputs.published import NoCommittedOutput, read_committed

    try:
        committed = read_committed(job_layout).run_id
    except (NoCommittedOutput, Exception):  # noqa: BLE001 - an unreadable manifest resumes nothing
        committed = ""
    for run_id in sorted(storage.child_names(storage.join(job_layout.inference_dir, "runs")), reverse=True):
        if run_id > committed and completed_stages(states_dir_of(job_layout, run_id, ""), models[0].fingerprint(blocks, graph)) > 0:
            return run_id
    return None
