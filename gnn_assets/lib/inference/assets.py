"""The inference chain of one task, partitioned by job name:

frozen_config -> trained_model -> sampled_subgraphs -> raw_embeddings -> embeddings (+ predictions)

A LAYERWISE task (gnnAssetsConfig.inferenceMode) has no samples: its raw_embeddings reads the
graph's enumeration and computes every layer once over all nodes.

Every asset calls the library; raw_embeddings runs the same CLI a user runs by hand, through
Dagster Pipes, so both paths share one code path. Library modules that pull in torch, PyG or
Beam are imported inside the assets that use them: the code location, its sensors and every run
start without them.
"""


from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    PipesSubprocessClient,
    TableColumn,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
    asset,
    multi_asset,
)

from gnn_assets import storage
from gnn_assets.lib.graphs.assets import node_id_mapping_key
from gnn_assets.lib.common import (
    inference_command,
    job_partitions,
    partition_job,
    partition_job_name,
    per_node_type,
    png_metadata,
    recorded_metadata,
    task_asset_key,
)
from gnn_assets.config.errors import ConfigError
from gnn_assets.config.layout import job_layout
from gnn_assets.config.task_config import TaskConfig, TaskKind, freeze_task_config, load_task_config, write_frozen_config
from gnn_assets.proto.gbml_config_pb2 import SampleEncoding
from gnn_assets.lib.resources import WAREHOUSE_POOL, GnnDeployment

_OUTPUT_SCHEMAS = {
    "embeddings": TableSchema(
        columns=[
            TableColumn("node_id", "string", description="original node id"),
            TableColumn("emb", "array<float>", description="embedding of the node"),
        ]
    ),
    "predictions": TableSchema(
        columns=[
            TableColumn("node_id", "string", description="original node id"),
            TableColumn("pred", "int64", description="predicted class"),
        ]
    ),
    "predicted values": TableSchema(  # node regression's predictions
        columns=[
            TableColumn("node_id", "string", description="original node id"),
            TableColumn("pred", "float64", description="predicted value"),
        ]
    ),
}
_VALUE_COLUMN = {"embeddings": "emb", "predictions": "pred"}


def _training_numbers(result) -> dict[str, MetadataValue]:
    """The final training loss, the validation figure and its baseline as numbers the asset page
    plots across materializations (those a trainer reported: a trainer of the user's may not)."""
    numbers = {}
    if result.history and isinstance(result.history[-1].get("loss"), (int, float)):
        numbers["final_training_loss"] = float(result.history[-1]["loss"])
    for name, value in result.metrics.items():
        if name.startswith("validation_") and isinstance(value, float):  # figures, not counts (validation_nodes)
            numbers["validation_baseline" if "baseline" in name else name] = float(value)
    return {name: MetadataValue.float(value) for name, value in numbers.items()}


def build_task_assets(
    template: TaskConfig, warehouse_kind: str, runner_kind: str, runner_overrides: Mapping[str, Any] | None = None
) -> list[AssetsDefinition]:
    template_uri, task = template.uri, template.task_name
    common = {"partitions_def": job_partitions(task), "group_name": task}

    @asset(
        key=task_asset_key(task, "frozen_config"),
        kinds={"yaml"},
        description=(
            f"The {task} task config (GiGL GbmlConfig) frozen for one job: every field that derives from the job "
            "name and the deployment is filled (sample URIs, trained model URI, output tables per node type). "
            "The same template, deployment and job name always give the same bytes."
        ),
        metadata={"template_uri": MetadataValue.path(template_uri)},
        **common,
    )
    def frozen_config(context: AssetExecutionContext, deployment: GnnDeployment) -> MaterializeResult:
        job_name = partition_job_name(context.partition_key)
        frozen = freeze_task_config(load_task_config(template_uri), deployment.resources(), job_name)
        write_frozen_config(frozen)
        return MaterializeResult(
            metadata={
                "uri": MetadataValue.path(frozen.uri),
                "template_uri": MetadataValue.path(template_uri),
                "trained_model_uri": MetadataValue.path(frozen.trained_model_uri),
                "root_node_types": frozen.root_node_types,
                "sha256": frozen.sha256,
                "config": MetadataValue.md(f"```yaml\n{frozen.to_yaml()}```"),
            },
            data_version=DataVersion(frozen.sha256[:16]),
        )

    @asset(
        key=task_asset_key(task, "trained_model"),
        deps=[frozen_config],
        kinds={"pytorch"},
        description=(
            f"The trained model of {task} for one job: a file dropped under the model location (the sensor sees "
            "new files there), or, when the job has none and the config names a trainerConfig, one trained here "
            "(progress per epoch in the run's log; metrics and the training curve as metadata). Materializing checks "
            "that its state dict loads into the model the frozen config describes and records its size, parameter "
            "count and content hash, which is also its data version."
        ),
        **common,
    )
    def trained_model(context: AssetExecutionContext, deployment: GnnDeployment) -> MaterializeResult:
        job = partition_job(context, deployment, task)
        resources, frozen = job.resources, job.config
        from gnn_assets.inference.protocol import load_inferencer
        from gnn_assets.training.protocol import has_trainer

        training = {}
        if not storage.exists(frozen.trained_model_uri):
            if not has_trainer(frozen):
                raise ConfigError(
                    f"no model file for job {frozen.job_name!r} at {frozen.trained_model_uri}, and {template_uri} names no "
                    f"trainerConfig.trainerClsPath: put a trained model there (the sensor {task}_new_trained_model picks it up) "
                    "or add a trainerConfig so that this asset trains one"
                )
            from gnn_assets.training.run import train_model

            trained = train_model(frozen, resources, progress=context.log.info)
            training = {
                "trained_here": True,
                "trainer": frozen.proto.trainer_config.trainer_cls_path,
                "training_metrics": trained.result.metrics,
                **_training_numbers(trained.result),
                "training_history": trained.result.history,
                "training_curve": MetadataValue.path(trained.report_uris["curve"]),
                "training_curve_png": png_metadata("training curve", trained.curve_png),
            }
        # Refuses (one line) a file that is too large, not floating point, non-finite or does not fit.
        weights = load_inferencer(frozen, resources.model_policy).weights
        return MaterializeResult(
            metadata={
                "uri": MetadataValue.path(frozen.trained_model_uri),
                "size_bytes": weights.size_bytes,
                "parameters": sum(t.numel() for t in weights.tensors.values()),
                "sha256": weights.sha256,
                "inferencer": frozen.proto.inferencer_config.inferencer_cls_path,
                **training,
            },
            data_version=DataVersion(weights.sha256[:16]),
        )

    @asset(
        key=task_asset_key(task, "sampled_subgraphs"),
        # After trained_model: no sampling pass for a job whose model is missing or does not fit.
        deps=[frozen_config, trained_model, node_id_mapping_key(template.graph_name)],
        kinds={"tfrecord", "numpy"},
        description=(
            f"For every root node of {task}, its k-hop in-neighbourhood sampled with the config's fanout per hop, "
            "written as sharded TFRecords of GiGL-compatible samples (packed or GiGL's own layout)."
        ),
        **common,
    )
    def sampled_subgraphs(context: AssetExecutionContext, deployment: GnnDeployment) -> MaterializeResult:
        job = partition_job(context, deployment, task, runner_overrides)
        frozen = job.config
        from gnn_assets.graph.sampling import sample_with_engine

        reports = sample_with_engine(job, progress=context.log.info, dagster_run_id=context.run_id)
        samples_dir = storage.join(job.layout.directory, "samples")
        return MaterializeResult(
            metadata={
                "sampler_engine": frozen.sampler_engine,
                "bytes": MetadataValue.int(sum(storage.size(shard) for r in reports.values() for shard in r.shards)),
                "samples": sum(r.roots for r in reports.values()),
                "shards": sum(len(r.shards) for r in reports.values()),
                "samples_per_prefix": {prefix: r.roots for prefix, r in reports.items()},
                "seconds": round(sum(r.seconds for r in reports.values()), 2),
                "fanout": frozen.fanout,
                "encoding": SampleEncoding.Name(frozen.sample_encoding),
                "uri": MetadataValue.path(samples_dir),
            }
        )

    outputs_named = f"Embeddings{' and predictions' if template.task_kind.is_node_based else ''} of {task}"
    entry_point = (
        "Runs `python -m gnn_assets.inference --stages infer` through Dagster Pipes: the same entry point a user runs by hand."
    )
    if template.is_layerwise:
        raw_deps = [trained_model, node_id_mapping_key(template.graph_name)]
        on_beam = template.layerwise_engine == "BEAM"
        raw_kinds = {"pytorch", "parquet", *({"beam"} if on_beam else set())}
        where = (
            "as a Beam job over blocks of nodes (layerwise.engine BEAM: per layer, states joined to edges and messages "
            "combined per destination block; resumable at its first incomplete layer)"
            if on_beam
            else "on one machine, in chunks of nodes"
        )
        raw_description = (
            f"{outputs_named} keyed by enumerated node id, computed layer-wise (inferenceMode LAYERWISE): the model is "
            f"split at its message-passing layers and each layer runs once over every node of the enumerated graph, {where}, "
            f"exactly (no sampling). Its metadata says the engine, device, layers, chunks or blocks and spilled or shuffled bytes. {entry_point}"
        )
    else:
        raw_deps = [sampled_subgraphs, trained_model]
        raw_kinds = {"beam", "parquet", *({"dataflow"} if runner_kind == "dataflow_runner" else set())}
        raw_description = (
            f"{outputs_named} keyed by enumerated node id, as Parquet shards written by the Beam inference job "
            f"(RunInference over the samples). {entry_point}"
        )

    @asset(key=task_asset_key(task, "raw_embeddings"), deps=raw_deps, kinds=raw_kinds, description=raw_description, **common)
    def raw_embeddings(
        context: AssetExecutionContext, deployment: GnnDeployment, pipes_subprocess_client: PipesSubprocessClient
    ) -> MaterializeResult:
        job_name = partition_job_name(context.partition_key)
        # The config frozen_config froze and recorded: read as it is, never frozen again.
        frozen_uri = job_layout(deployment.resources().layout, task, job_name).frozen_config_uri
        # The job runs exactly the config and model that were recorded upstream, or refuses.
        command = inference_command(
            job_name, frozen_uri, deployment.resource_config_uri, "infer", runner_overrides,
            "--frozen_config_sha256", recorded_metadata(context.instance, task_asset_key(task, "frozen_config"), job_name, "sha256"),
            "--trained_model_sha256", recorded_metadata(context.instance, task_asset_key(task, "trained_model"), job_name, "sha256"),
        )  # fmt: skip
        return pipes_subprocess_client.run(command=command, context=context).get_materialize_result()

    kinds = ["embeddings"] + (["predictions"] if template.task_kind.is_node_based else [])
    quality_kind = kinds[-1]  # held-out quality: of the predictions for node-based tasks, else of the embeddings

    def column_schema(kind: str) -> TableSchema:
        regression = kind == "predictions" and template.task_kind is TaskKind.NODE_REGRESSION
        return _OUTPUT_SCHEMAS["predicted values" if regression else kind]

    specs = [
        AssetSpec(
            key=task_asset_key(task, kind),
            deps=[raw_embeddings, node_id_mapping_key(template.graph_name)],
            kinds={warehouse_kind},
            group_name=task,
            partitions_def=job_partitions(task),
            description=(
                f"{kind.capitalize()} of {task} keyed by original node id: the raw output joined with the node id "
                "mapping in the warehouse, one table per root node type (node_id STRING, "
                f"{_VALUE_COLUMN[kind]}). Duplicates resolve deterministically; unmapped ids and nodes without "
                "output are counted. All of a job's tables are replaced in one transaction, from its committed output only."
            ),
            metadata={"dagster/column_schema": column_schema(kind)},
        )
        for kind in kinds
    ]

    @multi_asset(specs=specs, name=f"{task}_unenumerate", pool=WAREHOUSE_POOL)
    def unenumerated(context: AssetExecutionContext, deployment: GnnDeployment):
        job = partition_job(context, deployment, task)
        resources, frozen = job.resources, job.config
        from gnn_assets.training.evaluation import job_quality
        from gnn_assets.jobs.unenumerate import unenumerate_outputs

        reports = unenumerate_outputs(job, deployment.warehouse(), progress=context.log.info)
        for kind in kinds:
            tables = {t: frozen.output_tables(t)[kind] for t in frozen.root_node_types}
            table_reports = {t: reports[table] for t, table in tables.items()}
            metadata = {
                "tables": tables,
                "dagster/row_count": sum(r.output_rows for r in table_reports.values()),
                "rows_per_node_type": {t: r.output_rows for t, r in table_reports.items()},
                "unenumeration": {t: r.to_dict() for t, r in table_reports.items()},
                "dagster/column_schema": column_schema(kind),
                # The open-source UI lists dagster/column_lineage as raw metadata only; this table reads.
                "lineage": MetadataValue.md(
                    "| column | comes from | how |\n|---|---|---|\n"
                    f"| `node_id` | `{template.graph_name}/node_id_mapping`.`node_id` | the mapping row whose `int_id` is the raw row's `node_id` |\n"
                    f"| `{_VALUE_COLUMN[kind]}` | `{task}/raw_embeddings`.`{_VALUE_COLUMN[kind]}` | as the Beam job wrote it; of several rows for one id, the smallest |\n"
                ),
                "dagster/column_lineage": TableColumnLineage(
                    deps_by_column={
                        "node_id": [TableColumnDep(asset_key=node_id_mapping_key(template.graph_name), column_name="node_id")],
                        _VALUE_COLUMN[kind]: [TableColumnDep(asset_key=task_asset_key(task, "raw_embeddings"), column_name=_VALUE_COLUMN[kind])],
                    }
                ),
            }
            if len(tables) == 1:
                metadata["dagster/table_name"] = next(iter(tables.values()))
            metadata.update(per_node_type("rows", {t: r.output_rows for t, r in table_reports.items()}))
            if kind == quality_kind and not template.task_kind.is_edge_based:  # edge tasks: their edge_predictions
                quality = job_quality(frozen, resources, deployment.warehouse())
                metadata["held_out_quality"] = {name: q.to_dict() for name, q in quality.items()}
                for name, q in quality.items():
                    metadata.update(per_node_type(f"held_out_{q.metric}", {name: q.value}))
                    metadata.update(per_node_type(f"baseline_{q.metric}", {name: q.baseline}))
                    for figure, value in q.extra.items():
                        metadata.update(per_node_type(f"held_out_{figure}", {name: value}))
            yield MaterializeResult(asset_key=task_asset_key(task, kind), metadata=metadata)

    sampling = [] if template.is_layerwise else [sampled_subgraphs]
    return [frozen_config, trained_model, *sampling, raw_embeddings, unenumerated]
