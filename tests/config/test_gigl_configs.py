"""GiGL task configs load as they are: every GbmlConfig field, kept and round-tripped."""

from __future__ import annotations


import pytest
import yaml
from google.protobuf import json_format

from gnn_assets.config import ConfigError
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import freeze_task_config, load_task_config, parse_task_config
from gnn_assets.proto.gbml_config_pb2 import GbmlConfig
from tests.support.deployments import write_local_resources
from tests.support.gigl import EVERY_FIELD

def _set_fields(message, prefix="") -> set[str]:
    """Every field path set anywhere in a message (map and repeated entries included)."""
    found = set()
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        found.add(path)
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            values = value.values() if field.message_type.fields_by_name["value"].message_type else []
        elif field.label == field.LABEL_REPEATED:
            values = value
        else:
            values = [value]
        for item in values:
            found |= _set_fields(item, path + ".")
    return found


def _all_fields(descriptor, prefix="", seen=()) -> set[str]:
    """Every field path GbmlConfig defines (GiGL's part), recursively."""
    out = set()
    for field in descriptor.fields:
        path = f"{prefix}{field.name}"
        out.add(path)
        nested = field.message_type
        if nested is None or nested.full_name in seen:
            continue
        if nested.GetOptions().map_entry:
            nested = nested.fields_by_name["value"].message_type
            if nested is None:
                continue
        out |= _all_fields(nested, path + ".", (*seen, nested.full_name))
    return out


def test_a_config_with_every_gigl_field_loads_and_round_trips():
    config = load_task_config(str(EVERY_FIELD))
    again = parse_task_config(config.to_yaml(), "again.yaml")
    assert again.proto == config.proto
    ours = ("gnn_assets_config", "graph_metadata.bigquery_source")  # gnn_assets' own fields, not GiGL's
    gigl_fields = {f for f in _all_fields(GbmlConfig.DESCRIPTOR) if not f.startswith(ours)}
    # Members of a oneof exclude each other: a config sets one; the file sets every other field.
    alternatives = {
        "shared_config.flattened_graph_metadata.supervised_node_classification_output",
        "shared_config.flattened_graph_metadata.supervised_link_based_task_output",
        "shared_config.dataset_metadata.supervised_node_classification_dataset",
        "shared_config.dataset_metadata.supervised_link_based_task_dataset",
        "task_metadata.node_based_task_metadata",
        "task_metadata.link_based_task_metadata",
        "dataset_config.subgraph_sampler_config.subgraph_sampling_strategy.global_random_uniform",
        "trainer_config.cls_path",
        "inferencer_config.cls_path",
        "shared_config.should_skip_inference",  # false, its default, or nothing would be inferred
    }
    unset = {f for f in gigl_fields - _set_fields(config.proto) if not any(f == a or f.startswith(a + ".") for a in alternatives)}
    assert unset == set()


def test_freezing_keeps_what_inference_does_not_use(tmp_path):
    resources = load_resource_config(str(write_local_resources(tmp_path)))
    template = load_task_config(str(EVERY_FIELD))
    frozen = freeze_task_config(template, resources, "job-1")
    for name in ("trainer_config", "dataset_config", "post_processor_config", "metrics_config", "profiler_config", "feature_flags"):
        assert getattr(frozen.proto, name) == getattr(template.proto, name)
    assert frozen.proto.shared_config.dataset_metadata == template.proto.shared_config.dataset_metadata
    assert frozen.proto.inferencer_config.command == "python -m my_team.inference.main"
    assert frozen.edge_types == [("user", "to", "story"), ("story", "to", "user"), ("user", "to", "user")]
    # Output tables are the job's own; the template's (GiGL's BigQuery paths) do not survive freezing.
    assert frozen.output_tables("story") == {"embeddings": "link_prediction_every_field_job_1_story_embeddings"}
    parse_task_config(frozen.to_yaml(), frozen.uri)  # valid as frozen


def test_a_command_style_inferencer_is_told_what_it_needs():
    data = yaml.safe_load(EVERY_FIELD.read_text())
    del data["inferencerConfig"]["inferencerClsPath"]
    with pytest.raises(ConfigError, match=r"inferencerConfig\.command: a command-style \(GiGL v2\) inferencer .*inferencerClsPath"):
        parse_task_config(yaml.safe_dump(data), "v2.yaml")


def test_the_same_edge_type_twice_is_refused():
    data = yaml.safe_load(EVERY_FIELD.read_text())
    data["graphMetadata"]["edgeTypes"].append({"srcNodeType": "user", "relation": "to", "dstNodeType": "story"})
    with pytest.raises(ConfigError, match=r"graphMetadata\.edgeTypes: an edge type .* is listed twice"):
        parse_task_config(yaml.safe_dump(data), "twice.yaml")


def test_yaml_and_json_names_agree():
    """GiGL writes camelCase (protobuf JSON names); a field spelt in snake_case is read too, as protobuf does."""
    config = load_task_config(str(EVERY_FIELD))
    as_dict = json_format.MessageToDict(config.proto)
    assert as_dict["datasetConfig"]["subgraphSamplerConfig"]["subgraphSamplingStrategy"]["messagePassingPaths"]["paths"][0]["rootNodeType"] == "user"
