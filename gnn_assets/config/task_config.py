"""Task configs: GiGL's GbmlConfig YAML, validated, and frozen for one job name.

A template names the task, the graph, the sampler and the inferencer. Freezing fills every
field that derives from the job name and the deployment (sample URIs, the trained model URI,
output tables per node type), so the frozen file alone says what a job reads and writes.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

from gnn_assets.config.layout import job_layout
from gnn_assets import storage
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.names import is_plain_name
from gnn_assets.config.job_name import job_name_for_model_file, validate_job_name
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.yaml_proto import camel_case, load_yaml, parse_yaml, to_yaml
from gnn_assets.proto.gbml_config_pb2 import CandidateScore, Engine, GbmlConfig, InferenceMode, SampleEncoding
from gnn_assets.config import tables

# Default ceiling for dynamic batching; GiGL hard-codes 3000 samples per batch.
DEFAULT_INFERENCE_BATCH_SIZE = 512

DEFAULT_BLOCK_NODES = 65_536  # layerwise.blockNodes for engine BEAM
DEFAULT_PIECE_KB = 4096  # layerwise.pieceKb for engine BEAM
DEFAULT_COMBINE_MB = 256  # layerwise.combineMb for engine BEAM
MAX_LINK_CANDIDATES = 1000  # per source node: a table of sources x k rows
MAX_HOPS = 16  # of a sampler fanout: more hops than any model has layers

_TASK_NAME = re.compile(r"[a-z][a-z0-9_]*")


class TaskKind(str, enum.Enum):
    LINK_PREDICTION = "node_anchor_based_link_prediction"
    NODE_CLASSIFICATION = "supervised_node_classification"
    NODE_REGRESSION = "supervised_node_regression"
    EDGE_CLASSIFICATION = "supervised_edge_classification"
    EDGE_REGRESSION = "supervised_edge_regression"

    @property
    def is_node_based(self) -> bool:
        """Supervised on nodes: one supervision node type, its predictions beside its embeddings."""
        return self in (TaskKind.NODE_CLASSIFICATION, TaskKind.NODE_REGRESSION)

    @property
    def is_edge_based(self) -> bool:
        """Supervised on edges (GiGL's linkBasedTaskMetadata): a prediction per edge of the supervision
        edge types, from its two ends' embeddings."""
        return self in (TaskKind.EDGE_CLASSIFICATION, TaskKind.EDGE_REGRESSION)

    @property
    def is_regression(self) -> bool:
        return self in (TaskKind.NODE_REGRESSION, TaskKind.EDGE_REGRESSION)


@dataclass(frozen=True)
class TaskConfig:
    """A validated GbmlConfig with the accessors inference needs (GiGL's GbmlConfigPbWrapper)."""

    uri: str
    proto: GbmlConfig

    @property
    def task_kind(self) -> TaskKind:
        which = self.proto.task_metadata.WhichOneof("task_metadata")
        regression = self.proto.gnn_assets_config.regression
        if which == "node_based_task_metadata":
            return TaskKind.NODE_REGRESSION if regression else TaskKind.NODE_CLASSIFICATION
        if which == "link_based_task_metadata":
            return TaskKind.EDGE_REGRESSION if regression else TaskKind.EDGE_CLASSIFICATION
        return TaskKind.LINK_PREDICTION

    @property
    def task_name(self) -> str:
        """gnnAssetsConfig.taskName, or the template's file name (without .yaml)."""
        return self.proto.gnn_assets_config.task_name or storage.basename(self.uri).rsplit(".", 1)[0]

    @property
    def job_name(self) -> str:
        """The job a frozen config belongs to (empty in templates)."""
        return self.proto.gnn_assets_config.job_name

    @property
    def graph_name(self) -> str:
        return self.proto.gnn_assets_config.graph_name

    @property
    def node_types(self) -> list[str]:
        return list(self.proto.graph_metadata.node_types)

    @cached_property
    def edge_types(self) -> list[tuple[str, str, str]]:
        """(src_node_type, relation, dst_node_type), in condensed-id order."""
        return [(e.src_node_type, e.relation, e.dst_node_type) for e in self.proto.graph_metadata.edge_types]

    @property
    def is_heterogeneous(self) -> bool:
        return len(self.node_types) > 1 or len(self.edge_types) > 1

    def condensed_node_type(self, node_type: str) -> int:
        return self.node_types.index(node_type)

    @property
    def root_node_types(self) -> list[str]:
        """Node types that get embeddings: both ends of the supervision edges, or the supervised node type."""
        task = self.proto.task_metadata
        if self.task_kind.is_node_based:
            return list(task.node_based_task_metadata.supervision_node_types)
        ordered: list[str] = []
        for edge in self.supervision_edge_types:
            for node_type in (edge[0], edge[2]):
                if node_type not in ordered:
                    ordered.append(node_type)
        return ordered

    @property
    def is_layerwise(self) -> bool:
        """gnnAssetsConfig.inferenceMode is LAYERWISE: exact, each layer once over all nodes; no samples."""
        return self.proto.gnn_assets_config.inference_mode == InferenceMode.LAYERWISE

    @property
    def inference_mode(self) -> str:
        return "LAYERWISE" if self.is_layerwise else "SAMPLED"

    @property
    def layerwise_memory_budget_mb(self) -> int:
        """0: half of the memory available when the job starts."""
        return self.proto.gnn_assets_config.layerwise.memory_budget_mb

    @property
    def layerwise_engine(self) -> str:
        """LOCAL (default): the layers on this machine; BEAM: a Beam job over blocks of nodes."""
        return "BEAM" if self.proto.gnn_assets_config.layerwise.engine == Engine.BEAM else "LOCAL"

    @property
    def sampler_engine(self) -> str:
        """LOCAL (default): the sampler in this process; BEAM: a Beam job, hop by hop by joins."""
        return "BEAM" if self.proto.gnn_assets_config.sampler.engine == Engine.BEAM else "LOCAL"

    @property
    def layerwise_block_nodes(self) -> int:
        return self.proto.gnn_assets_config.layerwise.block_nodes or DEFAULT_BLOCK_NODES

    @property
    def layerwise_piece_bytes(self) -> int:
        """BEAM: the bytes of the widest state of the pieces a layer is applied to."""
        return (self.proto.gnn_assets_config.layerwise.piece_kb or DEFAULT_PIECE_KB) << 10

    @property
    def layerwise_combine_bytes(self) -> int:
        """BEAM: memory of a gather step for partial aggregates before they are sent."""
        return (self.proto.gnn_assets_config.layerwise.combine_mb or DEFAULT_COMBINE_MB) << 20

    @property
    def keep_states(self) -> bool:
        """layerwise.keepStates: the run commits its layers' states for a later incremental job."""
        return self.proto.gnn_assets_config.layerwise.keep_states

    @property
    def incremental_base_job(self) -> str:
        """incremental.baseJob: a job name, PREVIOUS or SELF; empty for a job that computes everything."""
        return self.proto.gnn_assets_config.incremental.base_job

    @property
    def max_affected_fraction(self) -> float:
        incremental = self.proto.gnn_assets_config.incremental
        return incremental.max_affected_fraction if incremental.HasField("max_affected_fraction") else 0.5

    @property
    def champion(self) -> str:
        """gnnAssetsConfig.champion: a job name, PREVIOUS or DEPLOYED; empty when none."""
        return self.proto.gnn_assets_config.champion

    @property
    def drift_neighbours(self) -> int:
        return self.proto.gnn_assets_config.drift.neighbours or 10

    @property
    def drift_min_mean_overlap(self) -> float:
        drift = self.proto.gnn_assets_config.drift
        return drift.min_mean_overlap if drift.HasField("min_mean_overlap") else 0.5

    @property
    def drift_sample_nodes(self) -> int:
        return self.proto.gnn_assets_config.drift.sample_nodes or 2000

    @property
    def supervision_edge_types(self) -> list[tuple[str, str, str]]:
        """Link prediction and edge tasks: the (src, relation, dst) edge types the model learned to predict."""
        metadata = self.proto.task_metadata
        task = metadata.link_based_task_metadata if self.task_kind.is_edge_based else metadata.node_anchor_based_link_prediction_task_metadata
        return [(e.src_node_type, e.relation, e.dst_node_type) for e in task.supervision_edge_types]

    def edge_predictions_tables(self) -> dict[tuple[str, str, str], str]:
        """Edge tasks: the edge_predictions table of each supervision edge type (by original src and dst ids)."""
        if not self.task_kind.is_edge_based:
            return {}
        return {e: tables.edge_predictions_table(self.task_name, self.job_name, e) for e in self.supervision_edge_types}

    @property
    def link_candidates_k(self) -> int:
        """gnnAssetsConfig.linkCandidates.k: candidates per source node; 0 when none are computed."""
        return self.proto.gnn_assets_config.link_candidates.k

    @property
    def candidate_score(self) -> str:
        """DOT (default) or COSINE."""
        return "COSINE" if self.proto.gnn_assets_config.link_candidates.score == CandidateScore.COSINE else "DOT"

    @property
    def exclude_existing_edges(self) -> bool:
        candidates = self.proto.gnn_assets_config.link_candidates
        return candidates.exclude_existing_edges if candidates.HasField("exclude_existing_edges") else True

    def link_candidates_tables(self) -> dict[tuple[str, str, str], str]:
        """The link_candidates table of each supervision edge type (derived from task, job and edge
        type); none when the task computes no candidates."""
        if not self.link_candidates_k:
            return {}
        return {e: tables.link_candidates_table(self.task_name, self.job_name, e) for e in self.supervision_edge_types}

    @property
    def fanout(self) -> list[int]:
        return list(self.proto.gnn_assets_config.sampler.fanout)

    @property
    def sampler_seed(self) -> int:
        return self.proto.gnn_assets_config.sampler.seed

    @property
    def sample_encoding(self) -> int:
        return self.proto.gnn_assets_config.sampler.sample_encoding or SampleEncoding.PACKED

    @property
    def num_shards(self) -> int:
        return self.proto.gnn_assets_config.sampler.num_shards

    @property
    def inference_batch_size(self) -> int:
        return self.proto.inferencer_config.inference_batch_size or DEFAULT_INFERENCE_BATCH_SIZE

    @property
    def max_dead_letter_fraction(self) -> float:
        return self.proto.gnn_assets_config.max_dead_letter_fraction

    @property
    def trained_model_uri(self) -> str:
        return self.proto.shared_config.trained_model_metadata.trained_model_uri

    @property
    def preprocessed_metadata_uri(self) -> str:
        return self.proto.shared_config.preprocessed_metadata_uri

    def sample_prefixes(self, node_type: str) -> list[str]:
        """TFRecord prefixes holding the samples rooted at node_type (frozen configs only)."""
        flat = self.proto.shared_config.flattened_graph_metadata
        if self.task_kind.is_node_based:
            out = flat.supervised_node_classification_output
            return [out.labeled_tfrecord_uri_prefix, out.unlabeled_tfrecord_uri_prefix]
        return [flat.node_anchor_based_link_prediction_output.node_type_to_random_negative_tfrecord_uri_prefix[node_type]]

    def output_tables(self, node_type: str) -> dict[str, str]:
        """{'embeddings': table, 'predictions': table} as frozen in inferenceMetadata."""
        info = self.proto.shared_config.inference_metadata.node_type_to_inferencer_output_info_map[node_type]
        out = {"embeddings": info.embeddings_path}
        if info.HasField("predictions_path"):
            out["predictions"] = info.predictions_path
        return out

    def to_yaml(self) -> str:
        return to_yaml(self.proto)

    @property
    def origin(self) -> str:
        """The file a user wrote: the template a frozen config came from, else this file."""
        return self.proto.gnn_assets_config.template_uri or self.uri

    @property
    def sha256(self) -> str:
        """Hash of the config's canonical YAML: what a frozen_config materialization records."""
        return hashlib.sha256(self.to_yaml().encode()).hexdigest()


def load_task_config(uri: str) -> TaskConfig:
    """Load and validate a template or frozen GbmlConfig YAML."""
    proto = load_yaml(uri, GbmlConfig())
    validate_task_config(proto, uri)
    return TaskConfig(uri, proto)


def parse_task_config(text: str, uri: str) -> TaskConfig:
    proto = parse_yaml(text, GbmlConfig(), uri)
    validate_task_config(proto, uri)
    return TaskConfig(uri, proto)


def validate_task_config(proto: GbmlConfig, uri: str) -> None:
    """Raise ConfigError listing every problem, each with its camelCase field path."""
    errors: list[str] = []

    def require(condition: bool, field: str, problem: str = "required field is missing") -> None:
        if not condition:
            errors.append(f"{field}: {problem}")

    meta = proto.graph_metadata
    require(len(meta.node_types) > 0, "graphMetadata.nodeTypes")
    require(len(meta.edge_types) > 0, "graphMetadata.edgeTypes")
    for name in meta.node_types:
        require(is_plain_name(name), "graphMetadata.nodeTypes", f"{name!r} is not a plain name ([A-Za-z][A-Za-z0-9_]*)")
    require(len(set(meta.node_types)) == len(meta.node_types), "graphMetadata.nodeTypes", "duplicate node types")
    require(not meta.HasField("bigquery_source"), "graphMetadata.bigquerySource", "belongs in the graph source's graph_metadata.yaml, not in a task config")
    # Edge types are keyed by (src type, relation, dst type): GiGL configs reuse relation names.
    keys = [(e.src_node_type, e.relation, e.dst_node_type) for e in meta.edge_types]
    require(len(set(keys)) == len(keys), "graphMetadata.edgeTypes", "an edge type (srcNodeType, relation, dstNodeType) is listed twice")
    for i, edge in enumerate(meta.edge_types):
        require(bool(edge.relation), f"graphMetadata.edgeTypes[{i}].relation")
        if edge.relation:
            require(is_plain_name(edge.relation), f"graphMetadata.edgeTypes[{i}].relation", f"{edge.relation!r} is not a plain name")
        for end in ("src_node_type", "dst_node_type"):
            value = getattr(edge, end)
            require(value in meta.node_types, f"graphMetadata.edgeTypes[{i}].{camel_case(end)}", f"{value!r} is not in graphMetadata.nodeTypes")

    task = proto.task_metadata
    which = task.WhichOneof("task_metadata")
    if which is None:
        errors.append(
            "taskMetadata: required field is missing (nodeBasedTaskMetadata, nodeAnchorBasedLinkPredictionTaskMetadata or linkBasedTaskMetadata)"
        )
    elif which == "node_based_task_metadata":
        types = list(task.node_based_task_metadata.supervision_node_types)
        field = "taskMetadata.nodeBasedTaskMetadata.supervisionNodeTypes"
        require(len(types) == 1, field, "exactly one supervision node type is required")
        for t in types:
            require(t in meta.node_types, field, f"{t!r} is not in graphMetadata.nodeTypes")
    else:
        edge_task = which == "link_based_task_metadata"
        if edge_task:
            edges, field = task.link_based_task_metadata.supervision_edge_types, "taskMetadata.linkBasedTaskMetadata.supervisionEdgeTypes"
            require(
                proto.gnn_assets_config.inference_mode == InferenceMode.LAYERWISE, "gnnAssetsConfig.inferenceMode",
                "edge tasks (linkBasedTaskMetadata) run LAYERWISE: every node embedded once, then every supervision edge scored",
            )
        else:
            edges = task.node_anchor_based_link_prediction_task_metadata.supervision_edge_types
            field = "taskMetadata.nodeAnchorBasedLinkPredictionTaskMetadata.supervisionEdgeTypes"
        require(len(edges) > 0, field)
        known = {(e.src_node_type, e.relation, e.dst_node_type) for e in meta.edge_types}
        for e in edges:
            key = (e.src_node_type, e.relation, e.dst_node_type)
            require(key in known, field, f"{key} is not in graphMetadata.edgeTypes")
    if proto.gnn_assets_config.regression and which not in (None, "node_based_task_metadata", "link_based_task_metadata"):
        errors.append("gnnAssetsConfig.regression: only nodeBasedTaskMetadata and linkBasedTaskMetadata tasks predict values")

    inferencer = proto.inferencer_config
    executable = inferencer.WhichOneof("executable")
    if not inferencer.inferencer_cls_path and executable == "command":
        errors.append(
            "inferencerConfig.command: a command-style (GiGL v2) inferencer launches a job of its own, which is not run "
            "here; also set inferencerConfig.inferencerClsPath to a class with init_model and infer_batch (the command is kept)"
        )
    elif not inferencer.inferencer_cls_path and executable == "cls_path":
        errors.append(
            "inferencerConfig.clsPath: GiGL v2's inferencer class is not run here; set inferencerConfig.inferencerClsPath to "
            "a class with init_model and infer_batch"
        )
    else:
        require(bool(inferencer.inferencer_cls_path), "inferencerConfig.inferencerClsPath")

    ours = proto.gnn_assets_config
    require(bool(ours.graph_name), "gnnAssetsConfig.graphName")
    if ours.graph_name:
        require(is_plain_name(ours.graph_name), "gnnAssetsConfig.graphName", "must match [A-Za-z][A-Za-z0-9_]*")
    layerwise = ours.inference_mode == InferenceMode.LAYERWISE
    require(layerwise or len(ours.sampler.fanout) > 0, "gnnAssetsConfig.sampler.fanout", "required in SAMPLED inference mode")
    require(len(ours.sampler.fanout) <= MAX_HOPS, "gnnAssetsConfig.sampler.fanout", f"{len(ours.sampler.fanout):,} hops, more than {MAX_HOPS}")
    for hop, k in enumerate(ours.sampler.fanout[:MAX_HOPS]):
        require(k == -1 or k > 0, f"gnnAssetsConfig.sampler.fanout[{hop}]", f"{k} is neither -1 (all) nor positive")
    require(
        0.0 <= ours.max_dead_letter_fraction <= 1.0,
        "gnnAssetsConfig.maxDeadLetterFraction",
        f"{ours.max_dead_letter_fraction} is not within [0, 1]",
    )
    if ours.champion and ours.champion not in ("PREVIOUS", "DEPLOYED"):
        try:
            validate_job_name(ours.champion)
        except ConfigError as error:
            require(False, "gnnAssetsConfig.champion", f"neither PREVIOUS, DEPLOYED nor a job name: {error}")
    if ours.incremental.base_job:
        where = "gnnAssetsConfig.incremental.baseJob"
        require(ours.inference_mode == InferenceMode.LAYERWISE, where, "an incremental job needs inferenceMode LAYERWISE")
        if ours.incremental.base_job not in ("PREVIOUS", "SELF"):
            try:
                validate_job_name(ours.incremental.base_job)
            except ConfigError as error:
                require(False, where, f"neither PREVIOUS, SELF nor a job name: {error}")
    require(
        0.0 <= ours.incremental.max_affected_fraction <= 1.0,
        "gnnAssetsConfig.incremental.maxAffectedFraction",
        f"{ours.incremental.max_affected_fraction} is not within [0, 1]",
    )
    if ours.drift.HasField("min_mean_overlap"):
        require(0.0 <= ours.drift.min_mean_overlap <= 1.0, "gnnAssetsConfig.drift.minMeanOverlap", "must be within [0, 1]")
    if ours.link_candidates.k:
        require(
            proto.task_metadata.WhichOneof("task_metadata") == "node_anchor_based_link_prediction_task_metadata",
            "gnnAssetsConfig.linkCandidates.k",
            "link candidates need a link prediction task (nodeAnchorBasedLinkPredictionTaskMetadata)",
        )
        require(ours.link_candidates.k <= MAX_LINK_CANDIDATES, "gnnAssetsConfig.linkCandidates.k", f"at most {MAX_LINK_CANDIDATES}")
    if ours.job_name:
        _check_own_output_tables(proto, require)
    if errors:
        raise ConfigError(f"{uri}: " + "; ".join(errors))


def _check_own_output_tables(proto: GbmlConfig, require) -> None:
    """A frozen config writes only its own job's tables: a path pointing at another table (a
    mapping table, another job's output) would be replaced by un-enumeration."""
    ours = proto.gnn_assets_config
    try:
        validate_job_name(ours.job_name)
    except ConfigError as error:
        require(False, "gnnAssetsConfig.jobName", str(error))
        return
    if not _TASK_NAME.fullmatch(ours.task_name):
        require(False, "gnnAssetsConfig.taskName", "a frozen config names its task ([a-z][a-z0-9_]*)")
        return
    outputs = proto.shared_config.inference_metadata.node_type_to_inferencer_output_info_map
    for node_type, info in outputs.items():
        field = f"sharedConfig.inferenceMetadata.nodeTypeToInferencerOutputInfoMap[{node_type}]"
        if not is_plain_name(node_type):
            require(False, field, "not a node type name")
            continue
        for kind, value in (("embeddings", info.embeddings_path), ("predictions", info.predictions_path)):
            own = tables.output_table(ours.task_name, ours.job_name, node_type, kind)
            require(not value or value == own, f"{field}.{kind}Path", f"{value!r} is not this job's own table {own!r}")


def freeze_task_config(template: TaskConfig, resources: Resources, job_name: str) -> TaskConfig:
    """Fill every derived field for job_name; equal inputs give an equal (byte-identical) config."""
    validate_job_name(job_name)
    task_name = template.task_name
    if not _TASK_NAME.fullmatch(task_name):
        raise ConfigError(
            f"{template.uri}: task name {task_name!r} (gnnAssetsConfig.taskName, or the file name) must match [a-z][a-z0-9_]*"
        )
    frozen = GbmlConfig()
    frozen.CopyFrom(template.proto)
    frozen.gnn_assets_config.task_name = task_name
    frozen.gnn_assets_config.job_name = job_name
    frozen.gnn_assets_config.template_uri = template.origin
    job = job_layout(resources.layout, task_name, job_name)
    layout = resources.layout
    meta = frozen.graph_metadata
    if not meta.condensed_node_type_map:
        for i, name in enumerate(meta.node_types):
            meta.condensed_node_type_map[i] = name
    if not meta.condensed_edge_type_map:
        for i, edge in enumerate(meta.edge_types):
            meta.condensed_edge_type_map[i].CopyFrom(edge)

    shared = frozen.shared_config
    shared.preprocessed_metadata_uri = layout.preprocessed_metadata_uri(template.graph_name)
    if not shared.trained_model_metadata.trained_model_uri:
        found = trained_model_files(resources, task_name).get(job_name)
        shared.trained_model_metadata.trained_model_uri = found or trained_model_uri_for(resources, task_name, job_name)

    flat = shared.flattened_graph_metadata
    outputs = shared.inference_metadata.node_type_to_inferencer_output_info_map
    if template.task_kind.is_node_based:
        nc = flat.supervised_node_classification_output
        nc.labeled_tfrecord_uri_prefix = job.samples_prefix("labeled")
        nc.unlabeled_tfrecord_uri_prefix = job.samples_prefix("unlabeled")
    else:
        lp = flat.node_anchor_based_link_prediction_output
        for node_type in template.root_node_types:
            lp.node_type_to_random_negative_tfrecord_uri_prefix[node_type] = job.samples_prefix(node_type)
    outputs.clear()  # only this job's own tables: a template's paths are GiGL's, not ours
    for node_type in template.root_node_types:
        outputs[node_type].embeddings_path = tables.output_table(task_name, job_name, node_type, "embeddings")
        if template.task_kind.is_node_based:
            outputs[node_type].predictions_path = tables.output_table(task_name, job_name, node_type, "predictions")

    if not frozen.inferencer_config.inference_batch_size:
        frozen.inferencer_config.inference_batch_size = DEFAULT_INFERENCE_BATCH_SIZE
    if not frozen.gnn_assets_config.sampler.sample_encoding:
        frozen.gnn_assets_config.sampler.sample_encoding = SampleEncoding.PACKED
    return TaskConfig(job.frozen_config_uri, frozen)


def trained_model_uri_for(resources: Resources, task_name: str, job_name: str) -> str:
    """Where a job's trained model is expected: <model root>/<task>/<job>.pt (the sensor watches there)."""
    return storage.join(resources.model_root, task_name, f"{job_name}.pt")


def trained_model_files(resources: Resources, task_name: str) -> dict[str, str]:
    """{job name: model URI} for every model file of a task; two files for one job name is an error."""
    found: dict[str, str] = {}
    for uri in storage.glob(storage.join(resources.model_root, task_name, "*.pt")):
        job = job_name_for_model_file(uri)
        if job in found:
            raise ConfigError(f"model files {found[job]} and {uri} both stand for job {job!r}; rename one")
        found[job] = uri
    return found



def write_frozen_config(config: TaskConfig) -> str:
    storage.write_text(config.uri, config.to_yaml())
    return config.uri
