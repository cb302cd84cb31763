"""<task>/embedding_drift: a job's embeddings against its champion's (gnnAssetsConfig.champion:
a job name, PREVIOUS or DEPLOYED), over the same nodes, with pictures; built for tasks that name a
champion. Its check warns (it does not block) when the mean neighbour overlap falls under
gnnAssetsConfig.drift.minMeanOverlap."""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetRecordsFilter,
    AssetsDefinition,
    DagsterInstance,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from gnn_assets import storage
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig, TaskKind, load_task_config
from gnn_assets.defs.inference.assets import frozen_config_for, png_metadata, recorded_metadata, task_asset_key
from gnn_assets.defs.inference.partitions import job_partitions, partition_job_name
from gnn_assets.resources import GnnDeployment


def champion_job(instance: DagsterInstance, resources: Resources, frozen: TaskConfig) -> str | None:
    """The job to compare with, or None when there is none yet (the task's first job for
    PREVIOUS, no deployment for DEPLOYED)."""
    task, champion = frozen.task_name, frozen.champion
    if champion == "DEPLOYED":
        from gnn_assets.serving.deployment import NoDeployment, read_deployment

        try:
            return read_deployment(resources.layout, task).job_name
        except NoDeployment:
            return None
    if champion == "PREVIOUS":
        records = instance.fetch_materializations(AssetRecordsFilter(asset_key=task_asset_key(task, "embeddings")), limit=100).records
        mine = [r.timestamp for r in records if r.partition_key == frozen.job_name]
        before = min(mine) if mine else float("inf")
        earlier = [r for r in records if r.partition_key != frozen.job_name and r.timestamp < before]
        return max(earlier, key=lambda r: r.timestamp).partition_key if earlier else None
    return champion


def build_drift_assets(template_uri: str) -> list[AssetsDefinition]:
    template = load_task_config(template_uri)
    if not template.champion:
        return []
    task = template.task_name
    key = task_asset_key(task, "embedding_drift")

    @asset(
        key=key,
        deps=[task_asset_key(task, "embeddings")],
        partitions_def=job_partitions,
        group_name=task,
        kinds={"numpy", "png"},
        description=(
            f"How far a {task} job's embeddings moved from its champion's ({template.champion}) over the same nodes: "
            "overlap of each sampled node's nearest neighbours in the two spaces (mean, quantiles, the nodes that "
            "changed most), norm statistics, prediction agreement for classification; a histogram of the overlap "
            "and a 2-D projection of both sets as pictures."
        ),
    )
    def embedding_drift(context: AssetExecutionContext, deployment: GnnDeployment) -> MaterializeResult:
        from gnn_assets.comparison.drift import aligned, compare_embeddings
        from gnn_assets.comparison.pictures import overlap_histogram_png, projection_png

        resources = deployment.resources()
        frozen = frozen_config_for(context.instance, resources, task, partition_job_name(context.partition_key))
        champion = champion_job(context.instance, resources, frozen)
        if champion is None:
            context.log.info(f"no {frozen.champion} job to compare {frozen.job_name} with yet")
            return MaterializeResult(metadata={"compared": False, "reason": f"no {frozen.champion} job yet", "mean_overlap": {}})
        champion_config = load_task_config(resources.layout.job(task, champion).frozen_config_uri)
        warehouse = deployment.warehouse()
        directory = storage.join(resources.layout.job(task, frozen.job_name).directory, "drift")
        names = (f"champion {champion}", f"challenger {frozen.job_name}")
        results, pictures = {}, {}
        for node_type in frozen.root_node_types:
            tables = [c.output_tables(node_type) for c in (champion_config, frozen)]
            ids, a, b = aligned(warehouse.read_table(tables[0]["embeddings"]), warehouse.read_table(tables[1]["embeddings"]))
            predictions = (None, None)
            if frozen.task_kind is TaskKind.NODE_CLASSIFICATION:
                pred_ids, pa_, pb_ = aligned(warehouse.read_table(tables[0]["predictions"]), warehouse.read_table(tables[1]["predictions"]), "pred")
                if pred_ids == ids:
                    predictions = (pa_, pb_)
            drift = compare_embeddings(
                ids, a, b, neighbours=frozen.drift_neighbours, sample_nodes=frozen.drift_sample_nodes, seed=frozen.sampler_seed,
                champion_predictions=predictions[0], challenger_predictions=predictions[1], names=names,
            )
            results[node_type] = drift
            title = f"{task} {node_type}: {frozen.job_name} vs {champion}"
            rows = drift.sample_rows
            images = {
                "overlap": overlap_histogram_png(drift.overlaps, drift.neighbours, title),
                "projection": projection_png(a[rows], b[rows], drift.overlaps, names, title),
            }
            for name, png in images.items():
                uri = storage.join(directory, f"{node_type}_{name}.png")
                storage.write_bytes(uri, png)
                pictures[f"{node_type}_{name}"] = (uri, png)
            context.log.info(f"{node_type}: mean neighbour overlap {drift.mean_overlap:.3f} over {drift.sampled:,} nodes")
        metadata = {
            "compared": True,
            "champion_job": champion,
            "mean_overlap": {t: d.mean_overlap for t, d in results.items()},
            "drift": {t: d.to_dict() for t, d in results.items()},
        }
        for name, (uri, png) in pictures.items():
            metadata[f"picture_{name}"] = MetadataValue.path(uri)
            metadata[f"picture_{name}_png"] = png_metadata(name, png)
        return MaterializeResult(metadata=metadata)

    @asset_check(asset=key, name="neighbour_overlap_above_floor", partitions_def=job_partitions, blocking=False)
    def neighbour_overlap_above_floor(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
        """Warns when a root node type's mean neighbour overlap with the champion falls under
        gnnAssetsConfig.drift.minMeanOverlap (a big change of the embedding space)."""
        job = partition_job_name(context.partition_key)
        frozen = frozen_config_for(context.instance, deployment.resources(), task, job)
        overlaps = recorded_metadata(context.instance, key, job, "mean_overlap")
        floor = frozen.drift_min_mean_overlap
        return AssetCheckResult(
            passed=all(v >= floor for v in overlaps.values()),
            severity=AssetCheckSeverity.WARN,
            metadata={"mean_overlap": overlaps, "min_mean_overlap": floor, "compared": bool(overlaps)},
        )

    return [embedding_drift, neighbour_overlap_above_floor]
