"""Field names and numbers that GiGL's wire format and YAML depend on (shared/reference/gigl-compat.md)."""

import pytest

from gnn_assets.proto import gbml_config_pb2, graph_schema_pb2, training_samples_schema_pb2 as samples

EXPECTED = [
    (graph_schema_pb2.Node, {"node_id": 1, "condensed_node_type": 2, "feature_values": 3}),
    (graph_schema_pb2.Edge, {"src_node_id": 1, "dst_node_id": 2, "condensed_edge_type": 3, "feature_values": 4}),
    (graph_schema_pb2.EdgeType, {"relation": 1, "src_node_type": 2, "dst_node_type": 3}),
    (graph_schema_pb2.GraphMetadata, {"node_types": 1, "edge_types": 2, "condensed_edge_type_map": 3, "condensed_node_type_map": 4}),
    (graph_schema_pb2.Graph, {"nodes": 2, "edges": 3}),
    (samples.Label, {"label_type": 1, "label": 2}),
    (samples.RootedNodeNeighborhood, {"root_node": 1, "neighborhood": 2}),
    (samples.SupervisedNodeClassificationSample, {"root_node": 1, "neighborhood": 2, "root_node_labels": 3}),
    (gbml_config_pb2.GbmlConfig, {"task_metadata": 1, "graph_metadata": 2, "shared_config": 3, "dataset_config": 4, "inferencer_config": 6, "feature_flags": 10}),
    (gbml_config_pb2.GbmlConfig.SharedConfig, {"preprocessed_metadata_uri": 1, "flattened_graph_metadata": 2, "trained_model_metadata": 4, "inference_metadata": 5, "should_skip_inference": 10}),
    (gbml_config_pb2.GbmlConfig.InferencerConfig, {"inferencer_args": 1, "inferencer_cls_path": 2, "inference_batch_size": 5}),
    (gbml_config_pb2.TrainedModelMetadata, {"trained_model_uri": 1, "scripted_model_uri": 2}),
    (gbml_config_pb2.InferenceOutput, {"embeddings_path": 1, "predictions_path": 2}),
    (gbml_config_pb2.FlattenedGraphMetadata, {"supervised_node_classification_output": 1, "node_anchor_based_link_prediction_output": 2}),
    (gbml_config_pb2.PreprocessedMetadata.NodeMetadataOutput, {"node_id_key": 1, "feature_keys": 2, "enumerated_node_ids_bq_table": 6, "feature_dim": 8}),
]


@pytest.mark.parametrize("message, fields", EXPECTED, ids=lambda v: getattr(v, "__name__", ""))
def test_field_numbers_match_gigl(message, fields):
    actual = {name: message.DESCRIPTOR.fields_by_name[name].number for name in fields}
    assert actual == fields


def test_gigl_bytes_decode_into_our_messages():
    # Hand-written wire bytes of a GiGL Graph: field 2 (nodes) holding Node{node_id: 7, feature_values: [1.5]}.
    node = bytes([0x08, 0x07, 0x1A, 0x04, 0x00, 0x00, 0xC0, 0x3F])
    graph = graph_schema_pb2.Graph.FromString(bytes([0x12, len(node)]) + node)
    assert graph.nodes[0].node_id == 7 and list(graph.nodes[0].feature_values) == [1.5]
