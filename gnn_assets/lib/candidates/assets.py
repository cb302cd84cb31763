"""<task>/link_candidates: for link prediction tasks with gnnAssetsConfig.linkCandidates.k, the k
best destinations of every source node by embedding score, a second model stage after the GNN
(a Beam job whose model is the destination embeddings index), published with original ids.
Checks: k rows for every source node; no node paired with itself where the edge's ends share a type."""

from collections.abc import Mapping
from typing import Any

from dagster import (
    Definitions,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    MaterializeResult,
    PipesSubprocessClient,
    TableColumn,
    TableSchema,
    asset,
    asset_check,
)

from gnn_assets.config.task_config import TaskConfig
from gnn_assets.lib.common import inference_command, partition_job, task_asset_key
from gnn_assets.lib.common import job_partitions, partition_job_name
from gnn_assets.graph.enumerated_layout import edge_type_name
from gnn_assets.lib.resources import WAREHOUSE_POOL, GnnDeployment

_SCHEMA = TableSchema(
    columns=[
        TableColumn("src_node_id", "string", description="original id of the source node"),
        TableColumn("dst_node_id", "string", description="original id of a candidate destination"),
        TableColumn("score", "float", description="dot product or cosine of the two embeddings"),
        TableColumn("rank", "int", description="1 for the source's best candidate"),
    ]
)


def build_candidate_assets(template: TaskConfig, warehouse_kind: str, runner_overrides: Mapping[str, Any] | None = None) -> Definitions:
    template_uri = template.uri
    if not template.link_candidates_k:
        return Definitions()
    task = template.task_name
    key = task_asset_key(task, "link_candidates")

    @asset(
        key=key,
        deps=[task_asset_key(task, "embeddings")],
        partitions_def=job_partitions(task),
        group_name=task,
        kinds={"beam", warehouse_kind},
        pool=WAREHOUSE_POOL,
        metadata={"dagster/column_schema": _SCHEMA},
        description=(
            f"For every source node of {task}'s supervision edges, its {template.link_candidates_k} best destination nodes "
            f"by {template.candidate_score} score of their embeddings"
            + (", existing edges left out" if template.exclude_existing_edges else "")
            + ": a Beam job whose model is an exact index of the destination embeddings, then both ids un-enumerated "
            "in the warehouse. Recall against held-out edges as metadata. Runs `python -m gnn_assets.inference "
            "--stages candidates` through Dagster Pipes."
        ),
    )
    def link_candidates(
        context: AssetExecutionContext, deployment: GnnDeployment, pipes_subprocess_client: PipesSubprocessClient
    ) -> MaterializeResult:
        command = inference_command(
            partition_job_name(context.partition_key), template_uri, deployment.resource_config_uri, "candidates", runner_overrides
        )
        return pipes_subprocess_client.run(command=command, context=context).get_materialize_result()

    @asset_check(asset=key, name="k_candidates_per_source", partitions_def=job_partitions(task), blocking=True)
    def k_candidates_per_source(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
        """Every source node that has an embedding has exactly k candidates."""
        frozen = partition_job(context, deployment, task).config
        warehouse = deployment.warehouse()
        found, passed = {}, True
        for edge_type, table in frozen.link_candidates_tables().items():
            quality = warehouse.candidate_quality(table)
            sources = warehouse.row_count(frozen.output_tables(edge_type[0])["embeddings"])
            found[edge_type_name(edge_type)] = {**quality.to_dict(), "source_nodes": sources}
            passed &= quality.sources == sources and quality.min_per_source == quality.max_per_source == frozen.link_candidates_k
        return AssetCheckResult(passed=bool(passed), metadata={"k": frozen.link_candidates_k, "tables": found})

    checks = [k_candidates_per_source]
    if any(src == dst for src, _, dst in template.supervision_edge_types):

        @asset_check(asset=key, name="no_self_pairs", partitions_def=job_partitions(task), blocking=True)
        def no_self_pairs(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
            """No node is its own candidate (edge types whose two ends are one node type)."""
            frozen = partition_job(context, deployment, task).config
            warehouse = deployment.warehouse()
            same = {
                edge_type_name(e): warehouse.candidate_quality(t).self_pairs
                for e, t in frozen.link_candidates_tables().items()
                if e[0] == e[2]
            }
            return AssetCheckResult(passed=not any(same.values()), metadata={"self_pairs": same})

        checks.append(no_self_pairs)
    return Definitions(assets=[link_candidates], asset_checks=checks)
