from gnn_assets.proto import graph_schema_pb2 as _graph_schema_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SamplingDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INCOMING: _ClassVar[SamplingDirection]
    OUTGOING: _ClassVar[SamplingDirection]

class SampleEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLE_ENCODING_UNSPECIFIED: _ClassVar[SampleEncoding]
    PACKED: _ClassVar[SampleEncoding]
    GIGL_PROTO: _ClassVar[SampleEncoding]

class CandidateScore(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANDIDATE_SCORE_UNSPECIFIED: _ClassVar[CandidateScore]
    DOT: _ClassVar[CandidateScore]
    COSINE: _ClassVar[CandidateScore]

class Engine(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENGINE_UNSPECIFIED: _ClassVar[Engine]
    LOCAL: _ClassVar[Engine]
    BEAM: _ClassVar[Engine]

class InferenceMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INFERENCE_MODE_UNSPECIFIED: _ClassVar[InferenceMode]
    SAMPLED: _ClassVar[InferenceMode]
    LAYERWISE: _ClassVar[InferenceMode]
INCOMING: SamplingDirection
OUTGOING: SamplingDirection
SAMPLE_ENCODING_UNSPECIFIED: SampleEncoding
PACKED: SampleEncoding
GIGL_PROTO: SampleEncoding
CANDIDATE_SCORE_UNSPECIFIED: CandidateScore
DOT: CandidateScore
COSINE: CandidateScore
ENGINE_UNSPECIFIED: Engine
LOCAL: Engine
BEAM: Engine
INFERENCE_MODE_UNSPECIFIED: InferenceMode
SAMPLED: InferenceMode
LAYERWISE: InferenceMode

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

class PostProcessedMetadata(_message.Message):
    __slots__ = ("post_processor_log_metrics_uri",)
    POST_PROCESSOR_LOG_METRICS_URI_FIELD_NUMBER: _ClassVar[int]
    post_processor_log_metrics_uri: str
    def __init__(self, post_processor_log_metrics_uri: _Optional[str] = ...) -> None: ...

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

class SupervisedLinkBasedTaskOutput(_message.Message):
    __slots__ = ("labeled_tfrecord_uri_prefix", "unlabeled_tfrecord_uri_prefix")
    LABELED_TFRECORD_URI_PREFIX_FIELD_NUMBER: _ClassVar[int]
    UNLABELED_TFRECORD_URI_PREFIX_FIELD_NUMBER: _ClassVar[int]
    labeled_tfrecord_uri_prefix: str
    unlabeled_tfrecord_uri_prefix: str
    def __init__(self, labeled_tfrecord_uri_prefix: _Optional[str] = ..., unlabeled_tfrecord_uri_prefix: _Optional[str] = ...) -> None: ...

class FlattenedGraphMetadata(_message.Message):
    __slots__ = ("supervised_node_classification_output", "node_anchor_based_link_prediction_output", "supervised_link_based_task_output")
    SUPERVISED_NODE_CLASSIFICATION_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    NODE_ANCHOR_BASED_LINK_PREDICTION_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SUPERVISED_LINK_BASED_TASK_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    supervised_node_classification_output: SupervisedNodeClassificationOutput
    node_anchor_based_link_prediction_output: NodeAnchorBasedLinkPredictionOutput
    supervised_link_based_task_output: SupervisedLinkBasedTaskOutput
    def __init__(self, supervised_node_classification_output: _Optional[_Union[SupervisedNodeClassificationOutput, _Mapping]] = ..., node_anchor_based_link_prediction_output: _Optional[_Union[NodeAnchorBasedLinkPredictionOutput, _Mapping]] = ..., supervised_link_based_task_output: _Optional[_Union[SupervisedLinkBasedTaskOutput, _Mapping]] = ...) -> None: ...

class SupervisedNodeClassificationDataset(_message.Message):
    __slots__ = ("train_data_uri", "test_data_uri", "val_data_uri")
    TRAIN_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    TEST_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    VAL_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    train_data_uri: str
    test_data_uri: str
    val_data_uri: str
    def __init__(self, train_data_uri: _Optional[str] = ..., test_data_uri: _Optional[str] = ..., val_data_uri: _Optional[str] = ...) -> None: ...

class NodeAnchorBasedLinkPredictionDataset(_message.Message):
    __slots__ = ("train_main_data_uri", "test_main_data_uri", "val_main_data_uri", "train_node_type_to_random_negative_data_uri", "val_node_type_to_random_negative_data_uri", "test_node_type_to_random_negative_data_uri")
    class TrainNodeTypeToRandomNegativeDataUriEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ValNodeTypeToRandomNegativeDataUriEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TestNodeTypeToRandomNegativeDataUriEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRAIN_MAIN_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    TEST_MAIN_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    VAL_MAIN_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    TRAIN_NODE_TYPE_TO_RANDOM_NEGATIVE_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    VAL_NODE_TYPE_TO_RANDOM_NEGATIVE_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    TEST_NODE_TYPE_TO_RANDOM_NEGATIVE_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    train_main_data_uri: str
    test_main_data_uri: str
    val_main_data_uri: str
    train_node_type_to_random_negative_data_uri: _containers.ScalarMap[str, str]
    val_node_type_to_random_negative_data_uri: _containers.ScalarMap[str, str]
    test_node_type_to_random_negative_data_uri: _containers.ScalarMap[str, str]
    def __init__(self, train_main_data_uri: _Optional[str] = ..., test_main_data_uri: _Optional[str] = ..., val_main_data_uri: _Optional[str] = ..., train_node_type_to_random_negative_data_uri: _Optional[_Mapping[str, str]] = ..., val_node_type_to_random_negative_data_uri: _Optional[_Mapping[str, str]] = ..., test_node_type_to_random_negative_data_uri: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SupervisedLinkBasedTaskSplitDataset(_message.Message):
    __slots__ = ("train_data_uri", "test_data_uri", "val_data_uri")
    TRAIN_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    TEST_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    VAL_DATA_URI_FIELD_NUMBER: _ClassVar[int]
    train_data_uri: str
    test_data_uri: str
    val_data_uri: str
    def __init__(self, train_data_uri: _Optional[str] = ..., test_data_uri: _Optional[str] = ..., val_data_uri: _Optional[str] = ...) -> None: ...

class DatasetMetadata(_message.Message):
    __slots__ = ("supervised_node_classification_dataset", "node_anchor_based_link_prediction_dataset", "supervised_link_based_task_dataset")
    SUPERVISED_NODE_CLASSIFICATION_DATASET_FIELD_NUMBER: _ClassVar[int]
    NODE_ANCHOR_BASED_LINK_PREDICTION_DATASET_FIELD_NUMBER: _ClassVar[int]
    SUPERVISED_LINK_BASED_TASK_DATASET_FIELD_NUMBER: _ClassVar[int]
    supervised_node_classification_dataset: SupervisedNodeClassificationDataset
    node_anchor_based_link_prediction_dataset: NodeAnchorBasedLinkPredictionDataset
    supervised_link_based_task_dataset: SupervisedLinkBasedTaskSplitDataset
    def __init__(self, supervised_node_classification_dataset: _Optional[_Union[SupervisedNodeClassificationDataset, _Mapping]] = ..., node_anchor_based_link_prediction_dataset: _Optional[_Union[NodeAnchorBasedLinkPredictionDataset, _Mapping]] = ..., supervised_link_based_task_dataset: _Optional[_Union[SupervisedLinkBasedTaskSplitDataset, _Mapping]] = ...) -> None: ...

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

class RandomUniform(_message.Message):
    __slots__ = ("num_nodes_to_sample",)
    NUM_NODES_TO_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    num_nodes_to_sample: int
    def __init__(self, num_nodes_to_sample: _Optional[int] = ...) -> None: ...

class RandomWeighted(_message.Message):
    __slots__ = ("num_nodes_to_sample", "edge_feat_name")
    NUM_NODES_TO_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    EDGE_FEAT_NAME_FIELD_NUMBER: _ClassVar[int]
    num_nodes_to_sample: int
    edge_feat_name: str
    def __init__(self, num_nodes_to_sample: _Optional[int] = ..., edge_feat_name: _Optional[str] = ...) -> None: ...

class TopK(_message.Message):
    __slots__ = ("num_nodes_to_sample", "edge_feat_name")
    NUM_NODES_TO_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    EDGE_FEAT_NAME_FIELD_NUMBER: _ClassVar[int]
    num_nodes_to_sample: int
    edge_feat_name: str
    def __init__(self, num_nodes_to_sample: _Optional[int] = ..., edge_feat_name: _Optional[str] = ...) -> None: ...

class UserDefined(_message.Message):
    __slots__ = ("path_to_udf", "params")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PATH_TO_UDF_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    path_to_udf: str
    params: _containers.ScalarMap[str, str]
    def __init__(self, path_to_udf: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SamplingOp(_message.Message):
    __slots__ = ("op_name", "edge_type", "input_op_names", "random_uniform", "random_weighted", "top_k", "user_defined", "sampling_direction")
    OP_NAME_FIELD_NUMBER: _ClassVar[int]
    EDGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    INPUT_OP_NAMES_FIELD_NUMBER: _ClassVar[int]
    RANDOM_UNIFORM_FIELD_NUMBER: _ClassVar[int]
    RANDOM_WEIGHTED_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    USER_DEFINED_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_DIRECTION_FIELD_NUMBER: _ClassVar[int]
    op_name: str
    edge_type: _graph_schema_pb2.EdgeType
    input_op_names: _containers.RepeatedScalarFieldContainer[str]
    random_uniform: RandomUniform
    random_weighted: RandomWeighted
    top_k: TopK
    user_defined: UserDefined
    sampling_direction: SamplingDirection
    def __init__(self, op_name: _Optional[str] = ..., edge_type: _Optional[_Union[_graph_schema_pb2.EdgeType, _Mapping]] = ..., input_op_names: _Optional[_Iterable[str]] = ..., random_uniform: _Optional[_Union[RandomUniform, _Mapping]] = ..., random_weighted: _Optional[_Union[RandomWeighted, _Mapping]] = ..., top_k: _Optional[_Union[TopK, _Mapping]] = ..., user_defined: _Optional[_Union[UserDefined, _Mapping]] = ..., sampling_direction: _Optional[_Union[SamplingDirection, str]] = ...) -> None: ...

class MessagePassingPath(_message.Message):
    __slots__ = ("root_node_type", "sampling_ops")
    ROOT_NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_OPS_FIELD_NUMBER: _ClassVar[int]
    root_node_type: str
    sampling_ops: _containers.RepeatedCompositeFieldContainer[SamplingOp]
    def __init__(self, root_node_type: _Optional[str] = ..., sampling_ops: _Optional[_Iterable[_Union[SamplingOp, _Mapping]]] = ...) -> None: ...

class MessagePassingPathStrategy(_message.Message):
    __slots__ = ("paths",)
    PATHS_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedCompositeFieldContainer[MessagePassingPath]
    def __init__(self, paths: _Optional[_Iterable[_Union[MessagePassingPath, _Mapping]]] = ...) -> None: ...

class GlobalRandomUniformStrategy(_message.Message):
    __slots__ = ("num_hops", "random_uniform_spec")
    NUM_HOPS_FIELD_NUMBER: _ClassVar[int]
    RANDOM_UNIFORM_SPEC_FIELD_NUMBER: _ClassVar[int]
    num_hops: int
    random_uniform_spec: RandomUniform
    def __init__(self, num_hops: _Optional[int] = ..., random_uniform_spec: _Optional[_Union[RandomUniform, _Mapping]] = ...) -> None: ...

class SubgraphSamplingStrategy(_message.Message):
    __slots__ = ("message_passing_paths", "global_random_uniform")
    MESSAGE_PASSING_PATHS_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_RANDOM_UNIFORM_FIELD_NUMBER: _ClassVar[int]
    message_passing_paths: MessagePassingPathStrategy
    global_random_uniform: GlobalRandomUniformStrategy
    def __init__(self, message_passing_paths: _Optional[_Union[MessagePassingPathStrategy, _Mapping]] = ..., global_random_uniform: _Optional[_Union[GlobalRandomUniformStrategy, _Mapping]] = ...) -> None: ...

class GbmlConfig(_message.Message):
    __slots__ = ("task_metadata", "graph_metadata", "shared_config", "dataset_config", "trainer_config", "inferencer_config", "metrics_config", "profiler_config", "post_processor_config", "feature_flags", "gnn_assets_config")
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
        __slots__ = ("preprocessed_metadata_uri", "flattened_graph_metadata", "dataset_metadata", "trained_model_metadata", "inference_metadata", "shared_args", "is_graph_directed", "should_skip_training", "should_skip_automatic_temp_asset_cleanup", "should_skip_inference", "should_skip_model_evaluation", "postprocessed_metadata", "should_include_isolated_nodes_in_training")
        class SharedArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        PREPROCESSED_METADATA_URI_FIELD_NUMBER: _ClassVar[int]
        FLATTENED_GRAPH_METADATA_FIELD_NUMBER: _ClassVar[int]
        DATASET_METADATA_FIELD_NUMBER: _ClassVar[int]
        TRAINED_MODEL_METADATA_FIELD_NUMBER: _ClassVar[int]
        INFERENCE_METADATA_FIELD_NUMBER: _ClassVar[int]
        SHARED_ARGS_FIELD_NUMBER: _ClassVar[int]
        IS_GRAPH_DIRECTED_FIELD_NUMBER: _ClassVar[int]
        SHOULD_SKIP_TRAINING_FIELD_NUMBER: _ClassVar[int]
        SHOULD_SKIP_AUTOMATIC_TEMP_ASSET_CLEANUP_FIELD_NUMBER: _ClassVar[int]
        SHOULD_SKIP_INFERENCE_FIELD_NUMBER: _ClassVar[int]
        SHOULD_SKIP_MODEL_EVALUATION_FIELD_NUMBER: _ClassVar[int]
        POSTPROCESSED_METADATA_FIELD_NUMBER: _ClassVar[int]
        SHOULD_INCLUDE_ISOLATED_NODES_IN_TRAINING_FIELD_NUMBER: _ClassVar[int]
        preprocessed_metadata_uri: str
        flattened_graph_metadata: FlattenedGraphMetadata
        dataset_metadata: DatasetMetadata
        trained_model_metadata: TrainedModelMetadata
        inference_metadata: InferenceMetadata
        shared_args: _containers.ScalarMap[str, str]
        is_graph_directed: bool
        should_skip_training: bool
        should_skip_automatic_temp_asset_cleanup: bool
        should_skip_inference: bool
        should_skip_model_evaluation: bool
        postprocessed_metadata: PostProcessedMetadata
        should_include_isolated_nodes_in_training: bool
        def __init__(self, preprocessed_metadata_uri: _Optional[str] = ..., flattened_graph_metadata: _Optional[_Union[FlattenedGraphMetadata, _Mapping]] = ..., dataset_metadata: _Optional[_Union[DatasetMetadata, _Mapping]] = ..., trained_model_metadata: _Optional[_Union[TrainedModelMetadata, _Mapping]] = ..., inference_metadata: _Optional[_Union[InferenceMetadata, _Mapping]] = ..., shared_args: _Optional[_Mapping[str, str]] = ..., is_graph_directed: bool = ..., should_skip_training: bool = ..., should_skip_automatic_temp_asset_cleanup: bool = ..., should_skip_inference: bool = ..., should_skip_model_evaluation: bool = ..., postprocessed_metadata: _Optional[_Union[PostProcessedMetadata, _Mapping]] = ..., should_include_isolated_nodes_in_training: bool = ...) -> None: ...
    class DatasetConfig(_message.Message):
        __slots__ = ("data_preprocessor_config", "subgraph_sampler_config", "split_generator_config")
        class DataPreprocessorConfig(_message.Message):
            __slots__ = ("data_preprocessor_config_cls_path", "data_preprocessor_args")
            class DataPreprocessorArgsEntry(_message.Message):
                __slots__ = ("key", "value")
                KEY_FIELD_NUMBER: _ClassVar[int]
                VALUE_FIELD_NUMBER: _ClassVar[int]
                key: str
                value: str
                def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
            DATA_PREPROCESSOR_CONFIG_CLS_PATH_FIELD_NUMBER: _ClassVar[int]
            DATA_PREPROCESSOR_ARGS_FIELD_NUMBER: _ClassVar[int]
            data_preprocessor_config_cls_path: str
            data_preprocessor_args: _containers.ScalarMap[str, str]
            def __init__(self, data_preprocessor_config_cls_path: _Optional[str] = ..., data_preprocessor_args: _Optional[_Mapping[str, str]] = ...) -> None: ...
        class SubgraphSamplerConfig(_message.Message):
            __slots__ = ("num_hops", "num_neighbors_to_sample", "num_positive_samples", "experimental_flags", "num_max_training_samples_to_output", "num_user_defined_positive_samples", "num_user_defined_negative_samples", "graph_db_config", "subgraph_sampling_strategy")
            class ExperimentalFlagsEntry(_message.Message):
                __slots__ = ("key", "value")
                KEY_FIELD_NUMBER: _ClassVar[int]
                VALUE_FIELD_NUMBER: _ClassVar[int]
                key: str
                value: str
                def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
            NUM_HOPS_FIELD_NUMBER: _ClassVar[int]
            NUM_NEIGHBORS_TO_SAMPLE_FIELD_NUMBER: _ClassVar[int]
            NUM_POSITIVE_SAMPLES_FIELD_NUMBER: _ClassVar[int]
            EXPERIMENTAL_FLAGS_FIELD_NUMBER: _ClassVar[int]
            NUM_MAX_TRAINING_SAMPLES_TO_OUTPUT_FIELD_NUMBER: _ClassVar[int]
            NUM_USER_DEFINED_POSITIVE_SAMPLES_FIELD_NUMBER: _ClassVar[int]
            NUM_USER_DEFINED_NEGATIVE_SAMPLES_FIELD_NUMBER: _ClassVar[int]
            GRAPH_DB_CONFIG_FIELD_NUMBER: _ClassVar[int]
            SUBGRAPH_SAMPLING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
            num_hops: int
            num_neighbors_to_sample: int
            num_positive_samples: int
            experimental_flags: _containers.ScalarMap[str, str]
            num_max_training_samples_to_output: int
            num_user_defined_positive_samples: int
            num_user_defined_negative_samples: int
            graph_db_config: GbmlConfig.GraphDBConfig
            subgraph_sampling_strategy: SubgraphSamplingStrategy
            def __init__(self, num_hops: _Optional[int] = ..., num_neighbors_to_sample: _Optional[int] = ..., num_positive_samples: _Optional[int] = ..., experimental_flags: _Optional[_Mapping[str, str]] = ..., num_max_training_samples_to_output: _Optional[int] = ..., num_user_defined_positive_samples: _Optional[int] = ..., num_user_defined_negative_samples: _Optional[int] = ..., graph_db_config: _Optional[_Union[GbmlConfig.GraphDBConfig, _Mapping]] = ..., subgraph_sampling_strategy: _Optional[_Union[SubgraphSamplingStrategy, _Mapping]] = ...) -> None: ...
        class SplitGeneratorConfig(_message.Message):
            __slots__ = ("split_strategy_cls_path", "split_strategy_args", "assigner_cls_path", "assigner_args")
            class SplitStrategyArgsEntry(_message.Message):
                __slots__ = ("key", "value")
                KEY_FIELD_NUMBER: _ClassVar[int]
                VALUE_FIELD_NUMBER: _ClassVar[int]
                key: str
                value: str
                def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
            class AssignerArgsEntry(_message.Message):
                __slots__ = ("key", "value")
                KEY_FIELD_NUMBER: _ClassVar[int]
                VALUE_FIELD_NUMBER: _ClassVar[int]
                key: str
                value: str
                def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
            SPLIT_STRATEGY_CLS_PATH_FIELD_NUMBER: _ClassVar[int]
            SPLIT_STRATEGY_ARGS_FIELD_NUMBER: _ClassVar[int]
            ASSIGNER_CLS_PATH_FIELD_NUMBER: _ClassVar[int]
            ASSIGNER_ARGS_FIELD_NUMBER: _ClassVar[int]
            split_strategy_cls_path: str
            split_strategy_args: _containers.ScalarMap[str, str]
            assigner_cls_path: str
            assigner_args: _containers.ScalarMap[str, str]
            def __init__(self, split_strategy_cls_path: _Optional[str] = ..., split_strategy_args: _Optional[_Mapping[str, str]] = ..., assigner_cls_path: _Optional[str] = ..., assigner_args: _Optional[_Mapping[str, str]] = ...) -> None: ...
        DATA_PREPROCESSOR_CONFIG_FIELD_NUMBER: _ClassVar[int]
        SUBGRAPH_SAMPLER_CONFIG_FIELD_NUMBER: _ClassVar[int]
        SPLIT_GENERATOR_CONFIG_FIELD_NUMBER: _ClassVar[int]
        data_preprocessor_config: GbmlConfig.DatasetConfig.DataPreprocessorConfig
        subgraph_sampler_config: GbmlConfig.DatasetConfig.SubgraphSamplerConfig
        split_generator_config: GbmlConfig.DatasetConfig.SplitGeneratorConfig
        def __init__(self, data_preprocessor_config: _Optional[_Union[GbmlConfig.DatasetConfig.DataPreprocessorConfig, _Mapping]] = ..., subgraph_sampler_config: _Optional[_Union[GbmlConfig.DatasetConfig.SubgraphSamplerConfig, _Mapping]] = ..., split_generator_config: _Optional[_Union[GbmlConfig.DatasetConfig.SplitGeneratorConfig, _Mapping]] = ...) -> None: ...
    class GraphDBConfig(_message.Message):
        __slots__ = ("graph_db_ingestion_cls_path", "graph_db_ingestion_args", "graph_db_args", "graph_db_sampler_config")
        class GraphDBServiceConfig(_message.Message):
            __slots__ = ("graph_db_client_class_path",)
            GRAPH_DB_CLIENT_CLASS_PATH_FIELD_NUMBER: _ClassVar[int]
            graph_db_client_class_path: str
            def __init__(self, graph_db_client_class_path: _Optional[str] = ...) -> None: ...
        class GraphDbIngestionArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        class GraphDbArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        GRAPH_DB_INGESTION_CLS_PATH_FIELD_NUMBER: _ClassVar[int]
        GRAPH_DB_INGESTION_ARGS_FIELD_NUMBER: _ClassVar[int]
        GRAPH_DB_ARGS_FIELD_NUMBER: _ClassVar[int]
        GRAPH_DB_SAMPLER_CONFIG_FIELD_NUMBER: _ClassVar[int]
        graph_db_ingestion_cls_path: str
        graph_db_ingestion_args: _containers.ScalarMap[str, str]
        graph_db_args: _containers.ScalarMap[str, str]
        graph_db_sampler_config: GbmlConfig.GraphDBConfig.GraphDBServiceConfig
        def __init__(self, graph_db_ingestion_cls_path: _Optional[str] = ..., graph_db_ingestion_args: _Optional[_Mapping[str, str]] = ..., graph_db_args: _Optional[_Mapping[str, str]] = ..., graph_db_sampler_config: _Optional[_Union[GbmlConfig.GraphDBConfig.GraphDBServiceConfig, _Mapping]] = ...) -> None: ...
    class GraphStoreStorageConfig(_message.Message):
        __slots__ = ("command", "storage_args")
        class StorageArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        COMMAND_FIELD_NUMBER: _ClassVar[int]
        STORAGE_ARGS_FIELD_NUMBER: _ClassVar[int]
        command: str
        storage_args: _containers.ScalarMap[str, str]
        def __init__(self, command: _Optional[str] = ..., storage_args: _Optional[_Mapping[str, str]] = ...) -> None: ...
    class TrainerConfig(_message.Message):
        __slots__ = ("trainer_cls_path", "trainer_args", "cls_path", "command", "should_log_to_tensorboard", "graph_store_storage_config", "tensorboard_experiment_name")
        class TrainerArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        TRAINER_CLS_PATH_FIELD_NUMBER: _ClassVar[int]
        TRAINER_ARGS_FIELD_NUMBER: _ClassVar[int]
        CLS_PATH_FIELD_NUMBER: _ClassVar[int]
        COMMAND_FIELD_NUMBER: _ClassVar[int]
        SHOULD_LOG_TO_TENSORBOARD_FIELD_NUMBER: _ClassVar[int]
        GRAPH_STORE_STORAGE_CONFIG_FIELD_NUMBER: _ClassVar[int]
        TENSORBOARD_EXPERIMENT_NAME_FIELD_NUMBER: _ClassVar[int]
        trainer_cls_path: str
        trainer_args: _containers.ScalarMap[str, str]
        cls_path: str
        command: str
        should_log_to_tensorboard: bool
        graph_store_storage_config: GbmlConfig.GraphStoreStorageConfig
        tensorboard_experiment_name: str
        def __init__(self, trainer_cls_path: _Optional[str] = ..., trainer_args: _Optional[_Mapping[str, str]] = ..., cls_path: _Optional[str] = ..., command: _Optional[str] = ..., should_log_to_tensorboard: bool = ..., graph_store_storage_config: _Optional[_Union[GbmlConfig.GraphStoreStorageConfig, _Mapping]] = ..., tensorboard_experiment_name: _Optional[str] = ...) -> None: ...
    class InferencerConfig(_message.Message):
        __slots__ = ("inferencer_args", "inferencer_cls_path", "cls_path", "command", "inference_batch_size", "graph_store_storage_config")
        class InferencerArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        INFERENCER_ARGS_FIELD_NUMBER: _ClassVar[int]
        INFERENCER_CLS_PATH_FIELD_NUMBER: _ClassVar[int]
        CLS_PATH_FIELD_NUMBER: _ClassVar[int]
        COMMAND_FIELD_NUMBER: _ClassVar[int]
        INFERENCE_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
        GRAPH_STORE_STORAGE_CONFIG_FIELD_NUMBER: _ClassVar[int]
        inferencer_args: _containers.ScalarMap[str, str]
        inferencer_cls_path: str
        cls_path: str
        command: str
        inference_batch_size: int
        graph_store_storage_config: GbmlConfig.GraphStoreStorageConfig
        def __init__(self, inferencer_args: _Optional[_Mapping[str, str]] = ..., inferencer_cls_path: _Optional[str] = ..., cls_path: _Optional[str] = ..., command: _Optional[str] = ..., inference_batch_size: _Optional[int] = ..., graph_store_storage_config: _Optional[_Union[GbmlConfig.GraphStoreStorageConfig, _Mapping]] = ...) -> None: ...
    class PostProcessorConfig(_message.Message):
        __slots__ = ("post_processor_args", "post_processor_cls_path")
        class PostProcessorArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        POST_PROCESSOR_ARGS_FIELD_NUMBER: _ClassVar[int]
        POST_PROCESSOR_CLS_PATH_FIELD_NUMBER: _ClassVar[int]
        post_processor_args: _containers.ScalarMap[str, str]
        post_processor_cls_path: str
        def __init__(self, post_processor_args: _Optional[_Mapping[str, str]] = ..., post_processor_cls_path: _Optional[str] = ...) -> None: ...
    class MetricsConfig(_message.Message):
        __slots__ = ("metrics_cls_path", "metrics_args")
        class MetricsArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        METRICS_CLS_PATH_FIELD_NUMBER: _ClassVar[int]
        METRICS_ARGS_FIELD_NUMBER: _ClassVar[int]
        metrics_cls_path: str
        metrics_args: _containers.ScalarMap[str, str]
        def __init__(self, metrics_cls_path: _Optional[str] = ..., metrics_args: _Optional[_Mapping[str, str]] = ...) -> None: ...
    class ProfilerConfig(_message.Message):
        __slots__ = ("should_enable_profiler", "profiler_log_dir", "profiler_args")
        class ProfilerArgsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        SHOULD_ENABLE_PROFILER_FIELD_NUMBER: _ClassVar[int]
        PROFILER_LOG_DIR_FIELD_NUMBER: _ClassVar[int]
        PROFILER_ARGS_FIELD_NUMBER: _ClassVar[int]
        should_enable_profiler: bool
        profiler_log_dir: str
        profiler_args: _containers.ScalarMap[str, str]
        def __init__(self, should_enable_profiler: bool = ..., profiler_log_dir: _Optional[str] = ..., profiler_args: _Optional[_Mapping[str, str]] = ...) -> None: ...
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
    TRAINER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    INFERENCER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    METRICS_CONFIG_FIELD_NUMBER: _ClassVar[int]
    PROFILER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    POST_PROCESSOR_CONFIG_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FLAGS_FIELD_NUMBER: _ClassVar[int]
    GNN_ASSETS_CONFIG_FIELD_NUMBER: _ClassVar[int]
    task_metadata: GbmlConfig.TaskMetadata
    graph_metadata: _graph_schema_pb2.GraphMetadata
    shared_config: GbmlConfig.SharedConfig
    dataset_config: GbmlConfig.DatasetConfig
    trainer_config: GbmlConfig.TrainerConfig
    inferencer_config: GbmlConfig.InferencerConfig
    metrics_config: GbmlConfig.MetricsConfig
    profiler_config: GbmlConfig.ProfilerConfig
    post_processor_config: GbmlConfig.PostProcessorConfig
    feature_flags: _containers.ScalarMap[str, str]
    gnn_assets_config: GnnAssetsConfig
    def __init__(self, task_metadata: _Optional[_Union[GbmlConfig.TaskMetadata, _Mapping]] = ..., graph_metadata: _Optional[_Union[_graph_schema_pb2.GraphMetadata, _Mapping]] = ..., shared_config: _Optional[_Union[GbmlConfig.SharedConfig, _Mapping]] = ..., dataset_config: _Optional[_Union[GbmlConfig.DatasetConfig, _Mapping]] = ..., trainer_config: _Optional[_Union[GbmlConfig.TrainerConfig, _Mapping]] = ..., inferencer_config: _Optional[_Union[GbmlConfig.InferencerConfig, _Mapping]] = ..., metrics_config: _Optional[_Union[GbmlConfig.MetricsConfig, _Mapping]] = ..., profiler_config: _Optional[_Union[GbmlConfig.ProfilerConfig, _Mapping]] = ..., post_processor_config: _Optional[_Union[GbmlConfig.PostProcessorConfig, _Mapping]] = ..., feature_flags: _Optional[_Mapping[str, str]] = ..., gnn_assets_config: _Optional[_Union[GnnAssetsConfig, _Mapping]] = ...) -> None: ...

class GnnAssetsConfig(_message.Message):
    __slots__ = ("graph_name", "sampler", "max_dead_letter_fraction", "task_name", "job_name", "inference_mode", "layerwise", "champion", "drift", "link_candidates", "template_uri", "incremental", "regression")
    class SamplerConfig(_message.Message):
        __slots__ = ("fanout", "seed", "sample_encoding", "num_shards", "engine")
        FANOUT_FIELD_NUMBER: _ClassVar[int]
        SEED_FIELD_NUMBER: _ClassVar[int]
        SAMPLE_ENCODING_FIELD_NUMBER: _ClassVar[int]
        NUM_SHARDS_FIELD_NUMBER: _ClassVar[int]
        ENGINE_FIELD_NUMBER: _ClassVar[int]
        fanout: _containers.RepeatedScalarFieldContainer[int]
        seed: int
        sample_encoding: SampleEncoding
        num_shards: int
        engine: Engine
        def __init__(self, fanout: _Optional[_Iterable[int]] = ..., seed: _Optional[int] = ..., sample_encoding: _Optional[_Union[SampleEncoding, str]] = ..., num_shards: _Optional[int] = ..., engine: _Optional[_Union[Engine, str]] = ...) -> None: ...
    class LayerwiseConfig(_message.Message):
        __slots__ = ("memory_budget_mb", "engine", "block_nodes", "keep_states", "piece_kb", "combine_mb")
        MEMORY_BUDGET_MB_FIELD_NUMBER: _ClassVar[int]
        ENGINE_FIELD_NUMBER: _ClassVar[int]
        BLOCK_NODES_FIELD_NUMBER: _ClassVar[int]
        KEEP_STATES_FIELD_NUMBER: _ClassVar[int]
        PIECE_KB_FIELD_NUMBER: _ClassVar[int]
        COMBINE_MB_FIELD_NUMBER: _ClassVar[int]
        memory_budget_mb: int
        engine: Engine
        block_nodes: int
        keep_states: bool
        piece_kb: int
        combine_mb: int
        def __init__(self, memory_budget_mb: _Optional[int] = ..., engine: _Optional[_Union[Engine, str]] = ..., block_nodes: _Optional[int] = ..., keep_states: bool = ..., piece_kb: _Optional[int] = ..., combine_mb: _Optional[int] = ...) -> None: ...
    class DriftConfig(_message.Message):
        __slots__ = ("neighbours", "min_mean_overlap", "sample_nodes")
        NEIGHBOURS_FIELD_NUMBER: _ClassVar[int]
        MIN_MEAN_OVERLAP_FIELD_NUMBER: _ClassVar[int]
        SAMPLE_NODES_FIELD_NUMBER: _ClassVar[int]
        neighbours: int
        min_mean_overlap: float
        sample_nodes: int
        def __init__(self, neighbours: _Optional[int] = ..., min_mean_overlap: _Optional[float] = ..., sample_nodes: _Optional[int] = ...) -> None: ...
    class LinkCandidatesConfig(_message.Message):
        __slots__ = ("k", "score", "exclude_existing_edges")
        K_FIELD_NUMBER: _ClassVar[int]
        SCORE_FIELD_NUMBER: _ClassVar[int]
        EXCLUDE_EXISTING_EDGES_FIELD_NUMBER: _ClassVar[int]
        k: int
        score: CandidateScore
        exclude_existing_edges: bool
        def __init__(self, k: _Optional[int] = ..., score: _Optional[_Union[CandidateScore, str]] = ..., exclude_existing_edges: bool = ...) -> None: ...
    class IncrementalConfig(_message.Message):
        __slots__ = ("base_job", "max_affected_fraction")
        BASE_JOB_FIELD_NUMBER: _ClassVar[int]
        MAX_AFFECTED_FRACTION_FIELD_NUMBER: _ClassVar[int]
        base_job: str
        max_affected_fraction: float
        def __init__(self, base_job: _Optional[str] = ..., max_affected_fraction: _Optional[float] = ...) -> None: ...
    GRAPH_NAME_FIELD_NUMBER: _ClassVar[int]
    SAMPLER_FIELD_NUMBER: _ClassVar[int]
    MAX_DEAD_LETTER_FRACTION_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_MODE_FIELD_NUMBER: _ClassVar[int]
    LAYERWISE_FIELD_NUMBER: _ClassVar[int]
    CHAMPION_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    LINK_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_URI_FIELD_NUMBER: _ClassVar[int]
    INCREMENTAL_FIELD_NUMBER: _ClassVar[int]
    REGRESSION_FIELD_NUMBER: _ClassVar[int]
    graph_name: str
    sampler: GnnAssetsConfig.SamplerConfig
    max_dead_letter_fraction: float
    task_name: str
    job_name: str
    inference_mode: InferenceMode
    layerwise: GnnAssetsConfig.LayerwiseConfig
    champion: str
    drift: GnnAssetsConfig.DriftConfig
    link_candidates: GnnAssetsConfig.LinkCandidatesConfig
    template_uri: str
    incremental: GnnAssetsConfig.IncrementalConfig
    regression: bool
    def __init__(self, graph_name: _Optional[str] = ..., sampler: _Optional[_Union[GnnAssetsConfig.SamplerConfig, _Mapping]] = ..., max_dead_letter_fraction: _Optional[float] = ..., task_name: _Optional[str] = ..., job_name: _Optional[str] = ..., inference_mode: _Optional[_Union[InferenceMode, str]] = ..., layerwise: _Optional[_Union[GnnAssetsConfig.LayerwiseConfig, _Mapping]] = ..., champion: _Optional[str] = ..., drift: _Optional[_Union[GnnAssetsConfig.DriftConfig, _Mapping]] = ..., link_candidates: _Optional[_Union[GnnAssetsConfig.LinkCandidatesConfig, _Mapping]] = ..., template_uri: _Optional[str] = ..., incremental: _Optional[_Union[GnnAssetsConfig.IncrementalConfig, _Mapping]] = ..., regression: bool = ...) -> None: ...
