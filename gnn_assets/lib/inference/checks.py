"""Asset checks on a task's inference output. All are blocking: a failure means the data is wrong."""


from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetChecksDefinition, asset_check

from gnn_assets.config.job import Job
from gnn_assets.lib.common import partition_job, recorded_metadata, task_asset_key
from gnn_assets.lib.common import job_partitions, partition_job_name
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.outputs.published import read_committed
from gnn_assets.lib.resources import GnnDeployment
from gnn_assets.config import tables
from gnn_assets.jobs.unenumerate import mapping_tables


def _frozen(context: AssetCheckExecutionContext, deployment: GnnDeployment, task: str) -> TaskConfig:
    return partition_job(context, deployment, task).config


def build_task_checks(template: TaskConfig) -> list[AssetChecksDefinition]:
    task = template.task_name
    embeddings = task_asset_key(task, "embeddings")
    common = {"partitions_def": job_partitions(task), "blocking": True}

    @asset_check(asset=task_asset_key(task, "raw_embeddings"), name="dead_letters_within_threshold", **common)
    def dead_letters_within_threshold(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
        """The fraction of samples that went to the dead-letter output is within gnnAssetsConfig.maxDeadLetterFraction."""
        frozen = _frozen(context, deployment, task)
        manifest = read_committed(Job.of(frozen, deployment.resources()).layout)
        outputs = manifest.outputs
        fractions = {t: o.dead_letters / max(o.samples, 1) for t, o in outputs.items()}
        return AssetCheckResult(
            passed=all(f <= frozen.max_dead_letter_fraction for f in fractions.values()),
            metadata={
                "run_id": manifest.run_id,
                "dead_letters": {t: o.dead_letters for t, o in outputs.items()},
                "corrupt_shards": {t: o.corrupt_shards for t, o in outputs.items()},
                "fractions": fractions,
                "max_dead_letter_fraction": frozen.max_dead_letter_fraction,
            },
        )

    @asset_check(asset=embeddings, name="one_row_per_node", **common)
    def one_row_per_node(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
        """Every embeddings table has as many rows as its node type has nodes in node_id_mapping."""
        frozen = _frozen(context, deployment, task)
        warehouse = deployment.warehouse()
        mappings = mapping_tables(frozen)
        counts = {
            t: {"rows": warehouse.row_count(frozen.output_tables(t)["embeddings"]), "nodes": warehouse.row_count(mappings[t])}
            for t in frozen.root_node_types
        }
        return AssetCheckResult(passed=all(c["rows"] == c["nodes"] for c in counts.values()), metadata={"counts": counts})

    @asset_check(asset=embeddings, name="all_values_finite", **common)
    def all_values_finite(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
        """No embedding has a NaN or infinite component."""
        frozen = _frozen(context, deployment, task)
        warehouse = deployment.warehouse()
        bad = {t: warehouse.embedding_quality(frozen.output_tables(t)["embeddings"]).non_finite_rows for t in frozen.root_node_types}
        return AssetCheckResult(passed=not any(bad.values()), metadata={"non_finite_rows": bad})

    @asset_check(asset=embeddings, name="dimension_matches_model", **common)
    def dimension_matches_model(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
        """Every embedding has the model's output size (the inferencer's out_dim)."""
        frozen = _frozen(context, deployment, task)
        from gnn_assets.inference.protocol import inferencer_from_config

        expected = getattr(inferencer_from_config(frozen, deployment.resources().model_policy), "out_dim", None)
        warehouse = deployment.warehouse()
        dims = {}
        for t in frozen.root_node_types:
            quality = warehouse.embedding_quality(frozen.output_tables(t)["embeddings"])
            dims[t] = {"min": quality.min_dim, "max": quality.max_dim}
        passed = all(d["min"] == d["max"] and (expected is None or d["min"] == expected) for d in dims.values() if d["min"] is not None)
        return AssetCheckResult(passed=passed, metadata={"expected_dim": expected if expected is not None else "undeclared", "dims": dims})

    @asset_check(asset=embeddings, name="every_row_unenumerated", **common)
    def every_row_unenumerated(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
        """Every raw (enumerated) id found its original node id, and no row lacks one."""
        frozen = _frozen(context, deployment, task)
        warehouse = deployment.warehouse()
        mappings = mapping_tables(frozen)
        found = {}
        for t in frozen.root_node_types:
            raw = tables.raw_output_table(task, frozen.job_name, t, "embeddings")
            gaps = warehouse.unenumeration_gaps(raw, mappings[t])
            quality = warehouse.embedding_quality(frozen.output_tables(t)["embeddings"])
            found[t] = {"unmapped_ids": gaps.unmapped_ids, "unmapped_examples": gaps.unmapped_examples, "null_node_ids": quality.null_node_ids}
        return AssetCheckResult(
            passed=all(f["unmapped_ids"] == 0 and f["null_node_ids"] == 0 for f in found.values()), metadata={"found": found}
        )

    quality_asset = task_asset_key(task, "predictions" if template.task_kind.is_node_based else "embeddings")

    @asset_check(asset=quality_asset, name="model_beats_baseline", **common)
    def model_beats_baseline(context: AssetCheckExecutionContext, deployment: GnnDeployment) -> AssetCheckResult:
        """On held-out data, the job's output beats a trivial baseline: classification accuracy above
        always predicting the most common label; regression RMSE at most 0.95 of predicting the
        training mean's; link prediction recall@10 above random ranking.
        Judges the held-out quality its asset's materialization measured (held_out_quality), so
        the tables are not read and scored a second time."""
        job = partition_job_name(context.partition_key)
        quality = recorded_metadata(context.instance, quality_asset, job, "held_out_quality")
        return AssetCheckResult(passed=bool(quality) and all(q["beats_baseline"] for q in quality.values()), metadata=quality)

    checks = [dead_letters_within_threshold, one_row_per_node, all_values_finite, dimension_matches_model, every_row_unenumerated]
    # An edge task's quality is its edge predictions' (lib/edge_tasks/assets.py), not its embeddings'.
    return checks if template.task_kind.is_edge_based else [*checks, model_beats_baseline]
