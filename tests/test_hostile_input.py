"""The round-3 hostile-input findings, each as the input that broke a promise before its fix."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gnn_assets.config import ConfigError
from gnn_assets.config.resource_config import ModelPolicy, load_resource_config
from gnn_assets.config.task_config import load_task_config
from gnn_assets.config.yaml_proto import MAX_CONFIG_BYTES
from gnn_assets.errors import MAX_MESSAGE_CHARS, UserError, shorten
from gnn_assets.inference.protocol import ModelMismatchError, inferencer_from_config
from gnn_assets.serving.payloads import GRAPH_CONVERSION_FAILED, PayloadError, feature_matrix
from gnn_assets.training.protocol import int_arg
from tests.support.deployments import template_of, write_local_resources, write_task_config

ALIAS_BOMB = """storage: {root: data}
localRunner: {}
duckdb: {}
a: &a ["x.", "x.", "x.", "x.", "x.", "x.", "x.", "x.", "x."]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
allowedClassPrefixes: [*f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    """Before: this 600-byte resource config grew to 2.7 GB and ended in a MemoryError traceback."""
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    with pytest.raises(ConfigError, match=r"bomb\.yaml: not valid YAML: aliases \(\*a\) are not allowed in configs"):
        load_resource_config(str(path))


def test_a_config_larger_than_the_bound_is_refused_before_it_is_parsed(tmp_path):
    """Before: a 20M-entry fanout list was still loading after 300 s."""
    path = write_task_config(tmp_path, "demo_node_classification")
    with open(path, "a") as f:
        f.write("# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(ConfigError, match=r"bytes, more than a config may hold \(1,048,576\)"):
        load_task_config(str(path))


def test_a_huge_value_is_not_echoed_whole(tmp_path):
    """Before: a 100 MB string was echoed whole in the one-line error."""
    path = write_task_config(tmp_path, "demo_node_classification", **{"graphMetadata.nodeTypes": ["paper", "bad name " + "y" * 500_000]})
    with pytest.raises(ConfigError) as error:
        load_task_config(str(path))
    message = str(error.value)
    assert str(path) in message and "characters]…" in message and len(message) <= MAX_MESSAGE_CHARS + 100


def test_shorten_keeps_head_and_tail():
    assert shorten("abc") == "abc"
    cut = shorten("a" * 100 + "b" * 1000 + "c" * 100, 200)
    assert cut.startswith("a" * 80) and cut.endswith("c" * 80) and "[1,040 characters]" in cut
    assert len(str(UserError("z" * 10**6))) <= MAX_MESSAGE_CHARS


def test_a_fanout_with_more_hops_than_any_model_is_refused(tmp_path):
    path = write_task_config(tmp_path, "demo_node_classification", **{"gnnAssetsConfig.sampler.fanout": [5] * 10_000})
    with pytest.raises(ConfigError, match=r"gnnAssetsConfig\.sampler\.fanout: 10,000 hops, more than 16"):
        load_task_config(str(path))


@pytest.mark.parametrize(
    "path, message",
    [
        ("gnn_assets.inference.__main__.X", "is in an entry-point module"),
        ("gnn_assets.cli.Anything", "is in an entry-point module"),
        ("gnn_assets.demo.Anything", "is in an entry-point module"),
        ("gnn_assets.definitions.defs", "is in an entry-point module"),
        ("gnn_assets.config.task_config.cached_property", "defined outside the allowed module prefixes"),
    ],
)
def test_class_paths_never_import_entry_points_or_foreign_classes(tmp_path, path, message):
    """Before: gnn_assets.inference.__main__.X ran the inference CLI when imported."""
    uri = write_task_config(tmp_path, "demo_node_classification", **{"inferencerConfig.inferencerClsPath": path})
    config = load_task_config(str(uri))
    error = ConfigError if "entry-point" in message else ModelMismatchError
    before = set(sys.modules)
    with pytest.raises(error, match=message):
        inferencer_from_config(config, ModelPolicy())
    assert "gnn_assets.inference.__main__" not in set(sys.modules) - before


def test_trainer_integers_are_bounded():
    """Before: trainerArgs.epochs 99999999999999999999 was accepted."""
    with pytest.raises(ValueError, match="trainerArgs.epochs must be at most 1,000,000,000"):
        int_arg("epochs", "99999999999999999999")
    with pytest.raises(ValueError, match="trainerArgs.epochs must be an integer, got '1111"):
        int_arg("epochs", "1" * 10_000)


@pytest.mark.parametrize(
    "rows, message",
    [
        ([["1.0", 2.0]], "must hold JSON numbers only, found strings"),
        ([[True, 2.0]], "must hold JSON numbers only, found booleans"),
        ([[None, 2.0]], "holds null: every value must be given"),
        ([[[1.0], 2.0]], "must hold JSON numbers only, found lists"),
        ([[10**400, 2.0]], "beyond what a float32 holds"),
        ([[1e39, 2.0]], "beyond what a float32 holds"),
    ],
)
def test_feature_values_must_be_json_numbers(rows, message):
    """Before: "1.0" and true were read as numbers (200), and null got the message for huge values."""
    with pytest.raises(PayloadError, match=message) as error:
        feature_matrix(rows, "paper")
    assert error.value.code == GRAPH_CONVERSION_FAILED


def test_feature_values_that_are_numbers_pass():
    assert feature_matrix([[1, 2.5], [0, -3.5]], "paper").tolist() == [[1.0, 2.5], [0.0, -3.5]]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "gnn_assets.cli", *args], capture_output=True, text=True)


def test_serve_a_job_that_does_not_exist_says_so_before_serving(tmp_path):
    """Before: it printed 'serving ...' first, then failed in the worker."""
    resources = write_local_resources(tmp_path)
    result = _cli("serve", "--resource_config_uri", str(resources), "--task_config_uri", str(template_of("demo_node_classification")),
                  "--job_name", "ghost", "--port", "1")
    assert result.returncode == 1 and "serving" not in result.stdout
    assert "--job_name ghost: task demo_node_classification has no such job" in result.stderr


def test_inference_with_no_stage_is_refused(tmp_path):
    """Before: --stages '' did nothing and exited 0."""
    resources = write_local_resources(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "gnn_assets.inference", "--job_name", "j", "--task_config_uri", str(template_of("demo_node_classification")),
         "--resource_config_uri", str(resources), "--stages", ""],
        capture_output=True, text=True,
    )
    assert result.returncode == 1 and "--stages: no stage given" in result.stderr


def test_init_model_does_not_overwrite_a_model_unless_told(tmp_path):
    """Before: `gnn-assets init-model` silently replaced a trained model file of the same job."""
    resources = write_local_resources(tmp_path)
    r = ["--resource_config_uri", str(resources), "--graph_name", "demo_homogeneous"]
    assert _cli("demo-graph", *r, "--kind", "homogeneous", "--num_nodes", "300").returncode == 0
    assert _cli("enumerate", *r).returncode == 0
    args = ["init-model", "--resource_config_uri", str(resources), "--task_config_uri", str(template_of("demo_node_classification")),
            "--job_name", "j"]
    assert _cli(*args).returncode == 0
    model = load_resource_config(str(resources)).model_root + "/demo_node_classification/j.pt"
    with open(model, "wb") as f:
        f.write(b"trained weights")
    refused = _cli(*args)
    assert refused.returncode == 1 and "exists (job j's model): pass --overwrite" in refused.stderr
    assert open(model, "rb").read() == b"trained weights"
    assert _cli(*args, "--overwrite").returncode == 0 and open(model, "rb").read() != b"trained weights"


def test_a_refused_graph_source_exits_1_every_time(tmp_path):
    """Before: a NULL node id was refused with the right line, but about 1 run in 40 then aborted
    as the interpreter tore down Arrow's thread pool (`terminate called without an active
    exception`, exit 134). The command is run 40 times, two at a time: before the fix this
    failed more often than not."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gnn_assets.graph.demo import generate_homogeneous_demo_graph
    from gnn_assets.graph.source import write_graph_source

    resources_uri = write_local_resources(tmp_path)
    directory = load_resource_config(str(resources_uri)).layout.graph_source_dir("g")
    source = generate_homogeneous_demo_graph(2000, seed=1)
    write_graph_source(directory, source)
    ids = source.nodes["node_id"].to_pylist()
    ids[5] = None
    pq.write_table(source.nodes.set_column(0, "node_id", pa.array(ids, pa.string())), f"{directory}/nodes.parquet")
    command = [sys.executable, "-m", "gnn_assets.cli", "enumerate", "--resource_config_uri", str(resources_uri), "--graph_name", "g"]
    outcomes = []
    for _ in range(20):
        pair = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outcomes += [(p.wait(), p.stderr.read()) for p in pair]
    assert all(code == 1 for code, _ in outcomes), [code for code, _ in outcomes]
    assert all(err.count("\n") == 1 and "1 rows have a NULL node_id, e.g. rows [5]" in err for _, err in outcomes)


def test_a_refused_config_names_the_file_the_user_wrote_not_the_frozen_copy(tmp_path):
    """Before: an inferencer class that cannot be imported was reported against
    jobs/<task>/<job>/frozen_gbml_config.yaml, a file the user never wrote."""
    resources = write_local_resources(tmp_path)
    r = ["--resource_config_uri", str(resources), "--graph_name", "demo_homogeneous"]
    assert _cli("demo-graph", *r, "--kind", "homogeneous", "--num_nodes", "300").returncode == 0
    assert _cli("enumerate", *r).returncode == 0
    task = write_task_config(tmp_path, "demo_node_classification", **{"inferencerConfig.inferencerClsPath": "gnn_assets.no_such_module.Spec"})
    result = _cli("init-model", "--resource_config_uri", str(resources), "--task_config_uri", str(task), "--job_name", "j")
    assert result.returncode == 1 and f"error: {task}: inferencerConfig.inferencerClsPath" in result.stderr
    assert "frozen_gbml_config.yaml" not in result.stderr


def test_a_long_environment_value_is_echoed_shortened(tmp_path, monkeypatch):
    """Before: a ${VAR} value was echoed about 1,950 characters long (values are cut to 200)."""
    path = tmp_path / "resources.yaml"
    path.write_text("storage: {root: data}\nlocalRunner: {runningMode: '${LONG_MODE}'}\nduckdb: {}\n")
    monkeypatch.setenv("LONG_MODE", "z" * 3000)
    with pytest.raises(ConfigError) as error:
        load_resource_config(str(path))
    assert "characters]…" in str(error.value) and len(str(error.value)) < 500


@pytest.mark.parametrize("megabytes", [1, 16])
def test_a_duckdb_memory_limit_too_small_to_run_a_query_is_refused(tmp_path, megabytes):
    """Before: duckdb.memoryLimitMb 1 or 16 failed inside DuckDB's first query with a traceback."""
    path = tmp_path / "resources.yaml"
    path.write_text(f"storage: {{root: data}}\nlocalRunner: {{}}\nduckdb: {{memoryLimitMb: {megabytes}}}\n")
    with pytest.raises(ConfigError, match=rf"duckdb\.memoryLimitMb: {megabytes} is below the 64 MB DuckDB needs"):
        load_resource_config(str(path))


def test_serve_a_job_without_a_model_file_says_so_before_serving(tmp_path):
    """Before: it printed 'serving … on http://…' and then refused the job."""
    from gnn_assets.config.task_config import freeze_task_config, write_frozen_config

    resources = write_local_resources(tmp_path)
    template = template_of("demo_node_classification")
    write_frozen_config(freeze_task_config(load_task_config(str(template)), load_resource_config(str(resources)), "no-model"))
    result = _cli("serve", "--resource_config_uri", str(resources), "--task_config_uri", str(template), "--job_name", "no-model", "--port", "1")
    assert result.returncode == 1 and "serving" not in result.stdout
    assert "--job_name no-model: task demo_node_classification's job has no model file" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_a_device_this_machine_lacks_is_refused_before_the_job(tmp_path, small_homogeneous_graph):
    """Before: device cuda:7 was refused only inside the Beam job, after a traceback."""
    from tests.support.deployments import prepare_job

    job = prepare_job(tmp_path, "demo_node_classification", small_homogeneous_graph)
    with open(job.resources.uri, "a") as f:
        f.write("device: 'cuda:7'\n")
    result = subprocess.run(
        [sys.executable, "-m", "gnn_assets.inference", "--job_name", job.job_name, "--task_config_uri", job.task_config_uri,
         "--resource_config_uri", job.resources.uri],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert "device 'cuda:7' is configured but this machine has" in result.stderr
    runs = job.resources.layout.job(job.frozen.task_name, job.job_name).inference_dir
    assert not os.path.exists(runs)  # the job never started


@pytest.mark.parametrize("content", [b"", b"not parquet at all", b"PAR1 cut short"])
def test_a_shard_that_is_not_parquet_is_refused_in_one_line(tmp_path, content):
    """Before: a 0-byte or foreign *.parquet shard in a nodes/ folder failed inside DuckDB with a traceback."""
    from gnn_assets.graph.demo import generate_homogeneous_demo_graph
    from gnn_assets.graph.source import write_graph_source

    resources_uri = write_local_resources(tmp_path)
    directory = load_resource_config(str(resources_uri)).layout.graph_source_dir("g")
    write_graph_source(directory, generate_homogeneous_demo_graph(200, seed=1))
    os.makedirs(f"{directory}/nodes")
    os.rename(f"{directory}/nodes.parquet", f"{directory}/nodes/part-0.parquet")
    with open(f"{directory}/nodes/part-1.parquet", "wb") as f:
        f.write(content)
    result = _cli("enumerate", "--resource_config_uri", str(resources_uri), "--graph_name", "g")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert "nodes/part-1.parquet: not a Parquet file" in result.stderr
