"""Node regression (gnnAssetsConfig.regression) through every engine: the published predictions
are a value per node, equal to the head of PyG's full-graph forward of the same model (1e-4),
sampled with full neighbourhoods (by either sampler), layer-wise on this machine and as a Beam job; a config and a
model of different task kinds are refused before any job."""

from __future__ import annotations

import pytest

from gnn_assets.config.errors import ConfigError
from gnn_assets.config.task_config import TaskConfig, load_task_config
from gnn_assets.inference.protocol import ModelMismatchError, load_inferencer
from gnn_assets.jobs import driver
from gnn_assets.warehouse import open_warehouse
from tests.support.deployments import prepare_job, write_task_config
from tests.support.exactness import FULL, assert_matches_hetero_full_graph_forward

TASK = "demo_node_regression"
ENGINES = {
    "sampled": {"gnnAssetsConfig.inferenceMode": "SAMPLED", **FULL},
    "sampled_by_beam": {"gnnAssetsConfig.inferenceMode": "SAMPLED", "gnnAssetsConfig.sampler.engine": "BEAM", **FULL},
    "layerwise_local": {},
    "layerwise_beam": {"gnnAssetsConfig.layerwise": {"engine": "BEAM", "blockNodes": 128, "pieceKb": 8}},
}


@pytest.mark.slow
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_published_values_equal_the_full_graph_forward(tmp_path, small_typed_graph, engine):
    job = prepare_job(tmp_path, TASK, small_typed_graph, **ENGINES[engine])
    run = driver.run(job.job_name, job.task_config_uri, job.resources.uri, progress=lambda _: None)
    assert (run.job.mode, run.job.details.get("engine")) == {
        "sampled": ("SAMPLED", None), "sampled_by_beam": ("SAMPLED", None), "layerwise_local": ("LAYERWISE", "LOCAL"), "layerwise_beam": ("LAYERWISE", "BEAM")
    }[engine]
    assert_matches_hetero_full_graph_forward(job, small_typed_graph, ["item"], values=True)
    table = open_warehouse(job.resources).read_table(job.frozen.output_tables("item")["predictions"])
    assert str(table.schema.field("pred").type) == "double"


def test_a_regression_model_under_a_classification_config_is_refused_and_regression_needs_nodes(tmp_path, small_typed_graph):
    job = prepare_job(tmp_path, TASK, small_typed_graph)
    proto = type(job.frozen.proto)()
    proto.CopyFrom(job.frozen.proto)
    proto.gnn_assets_config.regression = False
    with pytest.raises(ModelMismatchError, match="NodeRegressionTaskSpec runs supervised_node_regression tasks"):
        load_inferencer(TaskConfig(job.frozen.uri, proto), job.resources.model_policy)
    (tmp_path / "other").mkdir()
    wrong = write_task_config(tmp_path / "other", "demo_link_prediction", **{"gnnAssetsConfig.regression": True})
    with pytest.raises(ConfigError, match="gnnAssetsConfig.regression: only nodeBasedTaskMetadata and linkBasedTaskMetadata tasks predict values"):
        load_task_config(str(wrong))
