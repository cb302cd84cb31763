"""<task>/embedding_drift: a job's embeddings against its champion's (gnnAssetsConfig.champion:
a job name, PREVIOUS or DEPLOYED), over the same nodes, with pictures; built for tasks that name a
champion. The inference job ran the champion's model on the same input and committed both
outputs; this asset compares them. Its check warns (it does not block) when the mean neighbour
overlap falls under gnnAssetsConfig.drift.minMeanOverlap."""

from dagster import (
    Definitions,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from gnn_assets import storage
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.lib.common import job_partitions, partition_job, per_node_type, png_metadata, recorded_metadata, task_asset_key
from gnn_assets.lib.resources import GnnDeployment


def build_drift_assets(template: TaskConfig) -> Definitions:
    if not template.champion:
        return Definitions()
    task = template.task_name
    key = task_asset_key(task, "embedding_drift")

    @asset(
        key=key,
        deps=[task_asset_key(task, "embeddings")],
        partitions_def=job_partitions(task),
        group_name=task,
        kinds={"numpy", "png"},
        description=(
            f"How far a {task} job's embeddings moved from its champion's ({template.champion}), whose model the job ran "
            "on the same input: over the same nodes, "
            "overlap of each sampled node's nearest neighbours in the two spaces (mean, quantiles, the nodes that "
            "changed most), norm statistics, prediction agreement for classification; a histogram of the overlap "
            "and a 2-D projection of both sets as pictures."
        ),
    )
    def embedding_drift(context: AssetExecutionContext, deployment: GnnDeployment) -> MaterializeResult:
        from gnn_assets.comparison.drift import drift_of_run
        from gnn_assets.comparison.pictures import overlap_histogram_png, projection_png
        from gnn_assets.outputs.published import read_committed

        job = partition_job(context, deployment, task)
        resources, frozen, layout = job.resources, job.config, job.layout
        manifest = read_committed(layout)
        if not manifest.champion:
            reason = f"the committed run {manifest.run_id} ran no champion ({frozen.champion}: none yet)"
            context.log.info(reason)
            return MaterializeResult(metadata={"compared": False, "reason": reason, "mean_overlap": {}})
        champion = manifest.champion["job_name"]
        names = (f"champion {champion}", f"challenger {frozen.job_name}")
        results, pictures = {}, {}
        for node_type, found in drift_of_run(frozen, resources, manifest).items():
            drift = found.drift
            results[node_type] = drift
            title = f"{task} {node_type}: {frozen.job_name} vs {champion}"
            rows = drift.sample_rows
            images = {
                "overlap": overlap_histogram_png(drift.overlaps, drift.neighbours, title),
                "projection": projection_png(found.champion[rows], found.challenger[rows], drift.overlaps, names, title),
            }
            for name, png in images.items():
                uri = storage.join(layout.directory, "drift", f"{node_type}_{name}.png")
                storage.write_bytes(uri, png)
                pictures[f"{node_type}_{name}"] = (uri, png)
            context.log.info(f"{node_type}: mean neighbour overlap {drift.mean_overlap:.3f} over {drift.sampled:,} nodes")
        metadata = {
            "compared": True,
            "champion_job": champion,
            "champion_model_sha256": manifest.champion["model_sha256"],
            "run_id": manifest.run_id,
            "mean_overlap": {t: d.mean_overlap for t, d in results.items()},
            **per_node_type("mean_overlap", {t: d.mean_overlap for t, d in results.items()}),
            "drift": {t: d.to_dict() for t, d in results.items()},
        }
        for name, (uri, png) in pictures.items():
            metadata[f"picture_{name}"] = MetadataValue.path(uri)
            metadata[f"picture_{name}_png"] = png_metadata(name, png)
        return MaterializeResult(metadata=metadata)

    @asset_check(asset=key, name="neighbour_overlap_above_floor", partitions_def=job_partitions(task), blocking=False)
    def neighbour_overlap_above_floor(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
        """Warns when a root node type's mean neighbour overlap with the champion falls under
        gnnAssetsConfig.drift.minMeanOverlap (a big change of the embedding space)."""
        frozen = partition_job(context, deployment, task).config
        overlaps = recorded_metadata(context.instance, key, frozen.job_name, "mean_overlap")
        floor = frozen.drift_min_mean_overlap
        return AssetCheckResult(
            passed=all(v >= floor for v in overlaps.values()),
            severity=AssetCheckSeverity.WARN,
            metadata={"mean_overlap": overlaps, "min_mean_overlap": floor, "compared": bool(overlaps)},
        )

    return Definitions(assets=[embedding_drift], asset_checks=[neighbour_overlap_above_floor])
