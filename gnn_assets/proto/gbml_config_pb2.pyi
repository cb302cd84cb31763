from gnn_assets.proto import graph_schema_pb2 as _graph_schema_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SampleEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLE_ENCODING_UNSPECIFIED: _ClassVar[SampleEncoding]
    PACKED: _ClassVar[SampleEncoding]
    GIGL_PROTO: _ClassVar[SampleEncoding]
SAMPLE_ENCODING_UNSPECIFIED: SampleEncoding
PACKED: SampleEncoding
GIGL_PROTO: SampleEncoding

class TrainedModelMetadata(_message.Message):
    __slots__ = ("trained_model_uri", "scripted_model_uri", "eval_metrics_uri", "tensorboard_logs_uri")
    TRAINED_MODEL_URI_FIELD_NUMBER: _ClassVar[int]
    SCRIPTED_MODEL_URI_FIELD_NUMBER: _ClassVar[int]
    EVAL_METRICS_URI_FIELD_NUMBER: _ClassVar[int]
    TENSORBOARD_LOGS_URI_FIELD_NUMBER: _ClassVar[int]
    trained_model_uri: str
    scripted_model_uri: str
    eval_metrics_uri: str
    tensorboard_logs_uri: str
    def __init__(self, trained_model_uri: _Optional[str] = ..., scripted_model_uri: _Optional[str] = ..., eval_metrics_uri: _Optional[str] = ..., tensorboard_logs_uri: _Optional[str] = ...) -> None: ...

class InferenceOutput(_message.Message):
    __slots__ = ("embeddings_path", "predictions_path")
    EMBEDDINGS_PATH_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_PATH_FIELD_NUMBER: _ClassVar[int]
    embeddings_path: str
    predictions_path: str
    def __init__(self, embeddings_path: _Optional[str] = ..., predictions_path: _Optional[str] = ...) -> None: ...

class InferenceMetadata(_message.Message):
    __slots__ = ("node_type_to_inferencer_output_info_map",)
    class NodeTypeToInferencerOutputInfoMapEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: InferenceOutput
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[InferenceOutput, _Mapping]] = ...) -> None: ...
    NODE_TYPE_TO_INFERENCER_OUTPUT_INFO_MAP_FIELD_NUMBER: _ClassVar[int]
    node_type_to_inferencer_output_info_map: _containers.MessageMap[str, InferenceOutput]
    def __init__(self, node_type_to_inferencer_output_info_map: _Optional[_Mapping[str, InferenceOutput]] = ...) -> None: ...

class SupervisedNodeClassificationOutput(_message.Message):
    __slots__ = ("labeled_tfrecord_uri_prefix", "unlabeled_tfrecord_uri_prefix")
    LABELED_TFRECORD_URI_PREFIX_FIELD_NUMBER: _ClassVar[int]
    UNLABELED_TFRECORD_URI_PREFIX_FIELD_NUMBER: _ClassVar[int]
    labeled_tfrecord_uri_prefix: str
    unlabeled_tfrecord_uri_prefix: str
    def __init__(self, labeled_tfrecord_uri_prefix: _Optional[str] = ..., unlabeled_tfrecord_uri_prefix: _Optional[str] = ...) -> None: ...

class NodeAnchorBasedLinkPredictionOutput(_message.Message):
    __slots__ = ("tfrecord_uri_prefix", "node_type_to_random_negative_tfrecord_uri_prefix")
    class NodeTypeToRandomNegativeTfrecordUriPrefixEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TFRECORD_URI_PREFIX_FIELD_NUMBER: _ClassVar[int]
    NODE_TYPE_TO_RANDOM_NEGATIVE_TFRECORD_URI_PREFIX_FIELD_NUMBER: _ClassVar[int]
    tfrecord_uri_prefix: str
    node_type_to_random_negative_tfrecord_uri_prefix: _containers.ScalarMap[str, str]
    def __init__(self, tfrecord_uri_prefix: _Optional[str] = ..., node_type_to_random_negative_tfrecord_uri_prefix: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FlattenedGraphMetadata(_message.Message):
    __slots__ = ("supervised_node_classification_output", "node_anchor_based_link_prediction_output")
    SUPERVISED_NODE_CLASSIFICATION_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    NODE_ANCHOR_BASED_LINK_PREDICTION_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    supervised_node_classification_output: SupervisedNodeClassificationOutput
    node_anchor_based_link_prediction_output: NodeAnchorBasedLinkPredictionOutput
    def __init__(self, supervised_node_classification_output: _Optional[_Union[SupervisedNodeClassificationOutput, _Mapping]] = ..., node_anchor_based_link_prediction_output: _Optional[_Union[NodeAnchorBasedLinkPredictionOutput, _Mapping]] = ...) -> None: ...

class PreprocessedMetadata(_message.Message):
    __slots__ = ("condensed_node_type_to_preprocessed_metadata",)
    class NodeMetadataOutput(_message.Message):
        __slots__ = ("node_id_key", "feature_keys", "enumerated_node_ids_bq_table", "feature_dim")
        NODE_ID_KEY_FIELD_NUMBER: _ClassVar[int]
        FEATURE_KEYS_FIELD_NUMBER: _ClassVar[int]
        ENUMERATED_NODE_IDS_BQ_TABLE_FIELD_NUMBER: _ClassVar[int]
        FEATURE_DIM_FIELD_NUMBER: _ClassVar[int]
        node_id_key: str
        feature_keys: _containers.RepeatedScalarFieldContainer[str]
        enumerated_node_ids_bq_table: str
        feature_dim: int
        def __init__(self, node_id_key: _Optional[str] = ..., feature_keys: _Optional[_Iterable[str]] = ..., enumerated_node_ids_bq_table: _Optional[str] = ..., feature_dim: _Optional[int] = ...) -> None: ...
    class CondensedNodeTypeToPreprocessedMetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: PreprocessedMetadata.NodeMetadataOutput
        def __init__(self, key: _Optional[int] = ..., value: _Optional[_Union[PreprocessedMetadata.NodeMetadataOutput, _Mapping]] = ...) -> None: ...
    CONDENSED_NODE_TYPE_TO_PREPROCESSED_METADATA_FIELD_NUMBER: _ClassVar[int]
    condensed_node_type_to_preprocessed_metadata: _containers.MessageMap[int, PreprocessedMetadata.NodeMetadataOutput]
    def __init__(self, condensed_node_type_to_preprocessed_metadata: _Optional[_Mapping[int, PreprocessedMetadata.NodeMetadataOutput]] = ...) -> None: ...

class GbmlConfig(_message.Message):
    __slots__ = ("task_metadata", "graph_metadata", "shared_config", "dataset_config", "inferencer_config", "feature_flags", "gnn_assets_config")
    class TaskMetadata(_message.Message):
        __slots__ = ("node_based_task_metadata", "node_anchor_based_link_prediction_task_metadata", "link_based_task_metadata")
        class NodeBasedTaskMetadata(_message.Message):
            __slots__ = ("supervision_node_types",)
            SUPERVISION_NODE_TYPES_FIELD_NUMBER: _ClassVar[int]
            supervision_node_types: _containers.RepeatedScalarFieldContainer[str]
            def __init__(self, supervision_node_types: _Optional[_Iterable[str]] = ...) -> None: ...
        class NodeAnchorBasedLinkPredictionTaskMetadata(_message.Message):
            __slots__ = ("supervision_edge_types",)
            SUPERVISION_EDGE_TYPES_FIELD_NUMBER: _ClassVar[int]
            supervision_edge_types: _containers.RepeatedCompositeFieldContainer[_graph_schema_pb2.EdgeType]
            def __init__(self, supervision_edge_types: _Optional[_Iterable[_Union[_graph_schema_pb2.EdgeType, _Mapping]]] = ...) -> None: ...
        class LinkBasedTaskMetadata(_message.Message):
            __slots__ = ("supervision_edge_types",)
            SUPERVISION_EDGE_TYPES_FIELD_NUMBER: _ClassVar[int]
            supervision_edge_types: _containers.RepeatedCompositeFieldContainer[_graph_schema_pb2.EdgeType]
            def __init__(self, supervision_edge_types: _Optional[_Iterable[_Union[_graph_schema_pb2.EdgeType, _Mapping]]] = ...) -> None: ...
        NODE_BASED_TASK_METADATA_FIELD_NUMBER: _ClassVar[int]
        NODE_ANCHOR_BASED_LINK_PREDICTION_TASK_METADATA_FIELD_NUMBER: _ClassVar[int]
        LINK_BASED_TASK_METADATA_FIELD_NUMBER: _ClassVar[int]
        node_based_task_metadata: GbmlConfig.TaskMetadata.NodeBasedTaskMetadata
        node_anchor_based_link_prediction_task_metadata: GbmlConfig.TaskMetadata.NodeAnchorBasedLinkPredictionTaskMetadata
        link_based_task_metadata: GbmlConfig.TaskMetadata.LinkBasedTaskMetadata
        def __init__(self, node_based_task_metadata: _Optional[_Union[GbmlConfig.TaskMetadata.NodeBasedTaskMetadata, _Mapping]] = ..., node_anchor_based_link_prediction_task_metadata: _Optional[_Union[GbmlConfig.TaskMetadata.NodeAnchorBasedLinkPredictionTaskMetadata, _Mapping]] = ..., link_based_task_metadata: _Optional[_Union[GbmlConfig.TaskMetadata.LinkBasedTaskMetadata, _Mapping]] = ...) -> None: ...
    class SharedConfig(_message.Message):
        __slots__ = ("preprocessed_metadata_uri", "flattened_graph_metadata", "trained_model_metadata", "inference_metadata", "shared_args", "is_graph_directed", "should_skip_training", "should_skip_automatic_temp_asset_cleanup", "should_skip_inference", "should_skip_model_evaluation")
        class SharedArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        PREPROCESSED_METADATA_URI_FIELD_NUMBER: _ClassVar[int]
        FLATTENED_GRAPH_METADATA_FIELD_NUMBER: _ClassVar[int]
        TRAINED_MODEL_METADATA_FIELD_NUMBER: _ClassVar[int]
        INFERENCE_METADATA_FIELD_NUMBER: _ClassVar[int]
        SHARED_ARGS_FIELD_NUMBER: _ClassVar[int]
        IS_GRAPH_DIRECTED_FIELD_NUMBER: _ClassVar[int]
        SHOULD_SKIP_TRAINING_FIELD_NUMBER: _ClassVar[int]
        SHOULD_SKIP_AUTOMATIC_TEMP_ASSET_CLEANUP_FIELD_NUMBER: _ClassVar[int]
        SHOULD_SKIP_INFERENCE_FIELD_NUMBER: _ClassVar[int]
        SHOULD_SKIP_MODEL_EVALUATION_FIELD_NUMBER: _ClassVar[int]
        preprocessed_metadata_uri: str
        flattened_graph_metadata: FlattenedGraphMetadata
        trained_model_metadata: TrainedModelMetadata
        inference_metadata: InferenceMetadata
        shared_args: _containers.ScalarMap[str, str]
        is_graph_directed: bool
        should_skip_training: bool
        should_skip_automatic_temp_asset_cleanup: bool
        should_skip_inference: bool
        should_skip_model_evaluation: bool
        def __init__(self, preprocessed_metadata_uri: _Optional[str] = ..., flattened_graph_metadata: _Optional[_Union[FlattenedGraphMetadata, _Mapping]] = ..., trained_model_metadata: _Optional[_Union[TrainedModelMetadata, _Mapping]] = ..., inference_metadata: _Optional[_Union[InferenceMetadata, _Mapping]] = ..., shared_args: _Optional[_Mapping[str, str]] = ..., is_graph_directed: bool = ..., should_skip_training: bool = ..., should_skip_automatic_temp_asset_cleanup: bool = ..., should_skip_inference: bool = ..., should_skip_model_evaluation: bool = ...) -> None: ...
    class DatasetConfig(_message.Message):
        __slots__ = ("subgraph_sampler_config",)
        class SubgraphSamplerConfig(_message.Message):
            __slots__ = ("num_hops", "num_neighbors_to_sample")
            NUM_HOPS_FIELD_NUMBER: _ClassVar[int]
            NUM_NEIGHBORS_TO_SAMPLE_FIELD_NUMBER: _ClassVar[int]
            num_hops: int
            num_neighbors_to_sample: int
            def __init__(self, num_hops: _Optional[int] = ..., num_neighbors_to_sample: _Optional[int] = ...) -> None: ...
        SUBGRAPH_SAMPLER_CONFIG_FIELD_NUMBER: _ClassVar[int]
        subgraph_sampler_config: GbmlConfig.DatasetConfig.SubgraphSamplerConfig
        def __init__(self, subgraph_sampler_config: _Optional[_Union[GbmlConfig.DatasetConfig.SubgraphSamplerConfig, _Mapping]] = ...) -> None: ...
    class InferencerConfig(_message.Message):
        __slots__ = ("inferencer_args", "inferencer_cls_path", "inference_batch_size")
        class InferencerArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        INFERENCER_ARGS_FIELD_NUMBER: _ClassVar[int]
        INFERENCER_CLS_PATH_FIELD_NUMBER: _ClassVar[int]
        INFERENCE_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
        inferencer_args: _containers.ScalarMap[str, str]
        inferencer_cls_path: str
        inference_batch_size: int
        def __init__(self, inferencer_args: _Optional[_Mapping[str, str]] = ..., inferencer_cls_path: _Optional[str] = ..., inference_batch_size: _Optional[int] = ...) -> None: ...
    class FeatureFlagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_METADATA_FIELD_NUMBER: _ClassVar[int]
    GRAPH_METADATA_FIELD_NUMBER: _ClassVar[int]
    SHARED_CONFIG_FIELD_NUMBER: _ClassVar[int]
    DATASET_CONFIG_FIELD_NUMBER: _ClassVar[int]
    INFERENCER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FLAGS_FIELD_NUMBER: _ClassVar[int]
    GNN_ASSETS_CONFIG_FIELD_NUMBER: _ClassVar[int]
    task_metadata: GbmlConfig.TaskMetadata
    graph_metadata: _graph_schema_pb2.GraphMetadata
    shared_config: GbmlConfig.SharedConfig
    dataset_config: GbmlConfig.DatasetConfig
    inferencer_config: GbmlConfig.InferencerConfig
    feature_flags: _containers.ScalarMap[str, str]
    gnn_assets_config: GnnAssetsConfig
    def __init__(self, task_metadata: _Optional[_Union[GbmlConfig.TaskMetadata, _Mapping]] = ..., graph_metadata: _Optional[_Union[_graph_schema_pb2.GraphMetadata, _Mapping]] = ..., shared_config: _Optional[_Union[GbmlConfig.SharedConfig, _Mapping]] = ..., dataset_config: _Optional[_Union[GbmlConfig.DatasetConfig, _Mapping]] = ..., inferencer_config: _Optional[_Union[GbmlConfig.InferencerConfig, _Mapping]] = ..., feature_flags: _Optional[_Mapping[str, str]] = ..., gnn_assets_config: _Optional[_Union[GnnAssetsConfig, _Mapping]] = ...) -> None: ...

class GnnAssetsConfig(_message.Message):
    __slots__ = ("graph_name", "sampler", "max_dead_letter_fraction", "task_name", "job_name")
    class SamplerConfig(_message.Message):
        __slots__ = ("fanout", "seed", "sample_encoding", "num_shards")
        FANOUT_FIELD_NUMBER: _ClassVar[int]
        SEED_FIELD_NUMBER: _ClassVar[int]
        SAMPLE_ENCODING_FIELD_NUMBER: _ClassVar[int]
        NUM_SHARDS_FIELD_NUMBER: _ClassVar[int]
        fanout: _containers.RepeatedScalarFieldContainer[int]
        seed: int
        sample_encoding: SampleEncoding
        num_shards: int
        def __init__(self, fanout: _Optional[_Iterable[int]] = ..., seed: _Optional[int] = ..., sample_encoding: _Optional[_Union[SampleEncoding, str]] = ..., num_shards: _Optional[int] = ...) -> None: ...
    GRAPH_NAME_FIELD_NUMBER: _ClassVar[int]
    SAMPLER_FIELD_NUMBER: _ClassVar[int]
    MAX_DEAD_LETTER_FRACTION_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    graph_name: str
    sampler: GnnAssetsConfig.SamplerConfig
    max_dead_letter_fraction: float
    task_name: str
    job_name: str
    def __init__(self, graph_name: _Optional[str] = ..., sampler: _Optional[_Union[GnnAssetsConfig.SamplerConfig, _Mapping]] = ..., max_dead_letter_fraction: _Optional[float] = ..., task_name: _Optional[str] = ..., job_name: _Optional[str] = ...) -> None: ...
