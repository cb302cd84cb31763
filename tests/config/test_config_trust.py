"""Config files are data: environment values are substituted into parsed values, never into
YAML text; a key given twice is an error; a frozen config writes only its own job's tables."""

from __future__ import annotations

import pytest
import yaml

from gnn_assets.config import ConfigError
from gnn_assets.config.resource_config import load_resource_config
from gnn_assets.config.task_config import freeze_task_config, load_task_config, parse_task_config
from tests.support.deployments import template_of, write_local_resources

LOCAL = "storage: {{root: {root}}}\nlocalRunner: {{}}\nduckdb: {{path: {db}}}\n"


def test_a_variable_in_a_comment_is_not_expanded(tmp_path, monkeypatch):
    """Before: '# set ${GNN_UNSET_VAR}' in a comment failed with 'environment variable is not set'."""
    monkeypatch.delenv("GNN_UNSET_VAR", raising=False)
    path = tmp_path / "r.yaml"
    path.write_text("# set ${GNN_UNSET_VAR} before use\n" + LOCAL.format(root="data", db="w.duckdb"))
    assert load_resource_config(str(path)).proto.duckdb.path == "w.duckdb"


def test_an_environment_value_cannot_inject_yaml(tmp_path, monkeypatch):
    """Before: the value was pasted into the text, so '"}\\n...' rewrote duckdb.path."""
    monkeypatch.setenv("GNN_ROOT", 'data"}\nduckdb: {path: /tmp/elsewhere.duckdb}\n#')
    path = tmp_path / "r.yaml"
    path.write_text('storage: {root: "${GNN_ROOT}"}\nlocalRunner: {}\nduckdb: {path: w.duckdb}\n')
    resources = load_resource_config(str(path))
    assert resources.proto.duckdb.path == "w.duckdb"
    assert resources.proto.storage.root.startswith('data"}')  # the value stays one string


def test_defaults_and_unset_variables(tmp_path, monkeypatch):
    monkeypatch.delenv("GNN_UNSET_VAR", raising=False)
    path = tmp_path / "r.yaml"
    path.write_text(LOCAL.format(root="'${GNN_UNSET_VAR:-fallback}'", db="w.duckdb"))
    assert load_resource_config(str(path)).layout.root.endswith("fallback")
    path.write_text(LOCAL.format(root="'${GNN_UNSET_VAR}'", db="w.duckdb"))
    with pytest.raises(ConfigError, match=r"r\.yaml: environment variable GNN_UNSET_VAR is not set"):
        load_resource_config(str(path))


def test_a_duplicate_key_is_an_error(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("storage: {root: data}\nlocalRunner: {}\nduckdb: {path: a.duckdb}\nduckdb: {path: b.duckdb}\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: not valid YAML: .*duplicate key 'duckdb' \(first at line 3\)"):
        load_resource_config(str(path))
    task = (template_of("demo_node_classification")).read_text().replace("gnnAssetsConfig:", "gnnAssetsConfig:\n  graphName: a\n  graphName: b", 1)
    with pytest.raises(ConfigError, match="duplicate key 'graphName'"):
        parse_task_config(task, "task.yaml")


def test_a_frozen_config_may_only_name_its_own_output_tables(tmp_path):
    """Before: a frozen config in storage with predictionsPath set to a mapping table made
    un-enumeration overwrite that table."""
    resources = load_resource_config(str(write_local_resources(tmp_path)))
    frozen = freeze_task_config(load_task_config(str(template_of("demo_node_classification"))), resources, "job-1")
    parse_task_config(frozen.to_yaml(), frozen.uri)  # as frozen: valid
    data = yaml.safe_load(frozen.to_yaml())
    data["sharedConfig"]["inferenceMetadata"]["nodeTypeToInferencerOutputInfoMap"]["paper"]["predictionsPath"] = (
        "demo_homogeneous_paper_node_id_mapping"
    )
    with pytest.raises(ConfigError, match=r"predictionsPath: 'demo_homogeneous_paper_node_id_mapping' is not this job's own table"):
        parse_task_config(yaml.safe_dump(data), frozen.uri)


def test_allowed_class_prefixes_and_device_are_validated(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(LOCAL.format(root="data", db="w.duckdb") + "allowedClassPrefixes: ['my_models']\ndevice: gpu\n")
    with pytest.raises(ConfigError, match=r"allowedClassPrefixes: 'my_models' is not a module prefix ending in '\.'.*device: 'gpu' is not one of"):
        load_resource_config(str(path))
    path.write_text(LOCAL.format(root="data", db="w.duckdb") + "allowedClassPrefixes: ['my_models.', 'gnn_assets.']\ndevice: cuda:1\n")
    resources = load_resource_config(str(path))
    assert resources.model_policy.allowed_class_prefixes == ("my_models.", "gnn_assets.") and resources.device == "cuda:1"
