"""<task>/edge_predictions: for edge tasks (linkBasedTaskMetadata), a prediction for every edge of
the supervision edge types from its two ends' embeddings (the task's decoder, a stage after the
GNN), published with original src and dst ids. Checks: every supervision edge has its prediction;
held-out quality beats a trivial baseline."""

from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    Definitions,
    MaterializeResult,
    PipesSubprocessClient,
    TableColumn,
    TableSchema,
    asset,
    asset_check,
)

from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.enumerated_layout import edge_type_name, edges_uri
from gnn_assets.lib.common import inference_command, job_partitions, partition_job, partition_job_name, recorded_metadata, task_asset_key
from gnn_assets.lib.resources import WAREHOUSE_POOL, GnnDeployment
from gnn_assets.outputs.published import parquet_rows


def _schema(regression: bool) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn("src_node_id", "string", description="original id of the edge's source node"),
            TableColumn("dst_node_id", "string", description="original id of the edge's destination node"),
            TableColumn("pred", "float64" if regression else "int64", description="predicted value" if regression else "predicted class"),
        ]
    )


def build_edge_prediction_assets(template: TaskConfig, warehouse_kind: str, runner_overrides: Mapping[str, Any] | None = None) -> Definitions:
    if not template.task_kind.is_edge_based:
        return Definitions()
    template_uri = template.uri
    task = template.task_name
    key = task_asset_key(task, "edge_predictions")
    regression = template.task_kind.is_regression
    supervised = ", ".join(edge_type_name(e) for e in template.supervision_edge_types)

    @asset(
        key=key,
        deps=[task_asset_key(task, "embeddings")],
        partitions_def=job_partitions(task),
        group_name=task,
        kinds={"pytorch", warehouse_kind},
        pool=WAREHOUSE_POOL,
        metadata={"dagster/column_schema": _schema(regression)},
        description=(
            f"A predicted {'value' if regression else 'class'} for every {supervised} edge of {task}'s graph, from its two "
            "ends' embeddings of the committed inference run (the task's decoder), then both ids un-enumerated in the "
            "warehouse. Held-out quality as metadata. Runs `python -m gnn_assets.inference --stages edges` through Dagster Pipes."
        ),
    )
    def edge_predictions(
        context: AssetExecutionContext, deployment: GnnDeployment, pipes_subprocess_client: PipesSubprocessClient
    ) -> MaterializeResult:
        job_name = partition_job_name(context.partition_key)
        model_sha256 = recorded_metadata(context.instance, task_asset_key(task, "trained_model"), job_name, "sha256")
        command = inference_command(
            job_name, template_uri, deployment.resource_config_uri, "edges", runner_overrides, "--trained_model_sha256", model_sha256
        )
        return pipes_subprocess_client.run(command=command, context=context).get_materialize_result()

    @asset_check(asset=key, name="every_edge_predicted", partitions_def=job_partitions(task), blocking=True)
    def every_edge_predicted(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
        """The published table holds one row for every edge of each supervision edge type in the enumerated graph."""
        job = partition_job(context, deployment, task)
        warehouse = deployment.warehouse()
        found = {
            edge_type_name(e): {"rows": warehouse.row_count(table), "edges": parquet_rows(edges_uri(job.graph_dir, e))}
            for e, table in job.config.edge_predictions_tables().items()
        }
        return AssetCheckResult(passed=all(f["rows"] == f["edges"] for f in found.values()), metadata={"tables": found})

    @asset_check(asset=key, name="model_beats_baseline", partitions_def=job_partitions(task), blocking=True)
    def model_beats_baseline(context: AssetCheckExecutionContext) -> AssetCheckResult:
        """On held-out edge labels, the predictions beat a trivial baseline: accuracy above always
        predicting the most common training class; RMSE at most 0.95 of predicting the training
        mean's. Judges what the asset's materialization measured (held_out_quality)."""
        job = partition_job_name(context.partition_key)
        quality = recorded_metadata(context.instance, key, job, "held_out_quality")
        return AssetCheckResult(passed=bool(quality) and all(q["beats_baseline"] for q in quality.values()), metadata=quality)

    return Definitions(assets=[edge_predictions], asset_checks=[every_edge_predicted, model_beats_baseline])
