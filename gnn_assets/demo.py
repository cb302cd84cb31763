"""`make demo`: materialize every demo task for partition 'demo' in the persistent instance.

Graphs first (generated, enumerated), then each task's chain with its checks: its trained_model
trains the task's model (its trainerConfig), the demo job's model file having been removed.
A task that names a champion gets a second job, 'demo-retrained', whose model is trained from
another seed (as a retrained model dropped into the model root would be): it runs beside the
first job's model, so embedding_drift has a comparison and its pictures. Prints each job's
held-out quality next to a trivial baseline. `make dev` opens the same instance in the UI.
"""

import sys
import warnings

# Dagster marks partitioned asset checks and parts of Pipes as preview; say so once, in the README.
warnings.filterwarnings("ignore", message=".*currently in preview")

from dagster import AssetCheckSeverity, AssetKey, DagsterInstance  # noqa: E402

from gnn_assets import storage  # noqa: E402
from gnn_assets.config.resource_config import load_resource_config  # noqa: E402
from gnn_assets.config.task_config import TaskConfig, freeze_task_config, load_task_config  # noqa: E402
from gnn_assets.definitions import defs  # noqa: E402
from gnn_assets.lib.common import add_job_partitions  # noqa: E402
from gnn_assets.lib.instance import leave_automation_unpaused  # noqa: E402
from gnn_assets.training.evaluation import job_quality  # noqa: E402
from gnn_assets.training.run import train_model  # noqa: E402
from gnn_assets.warehouse import open_warehouse  # noqa: E402

JOB_NAME = "demo"
RETRAINED_JOB_NAME = "demo-retrained"


def _say(line: str) -> None:
    print(line, flush=True)


def _execute(job_name: str, instance: DagsterInstance, partition_key: str | None = None) -> None:
    _say(f"== materializing {job_name}" + (f" for partition {partition_key!r}" if partition_key else ""))
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance,
        partition_key=partition_key,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    evaluations = [e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    failed_checks = [c.check_name for c in evaluations if not c.passed and c.severity == AssetCheckSeverity.ERROR]
    for warned in (c for c in evaluations if not c.passed and c.severity == AssetCheckSeverity.WARN):
        _say(f"warning: check {warned.check_name} of {warned.asset_key.to_user_string()} did not pass (it warns, it does not fail the run)")
    if not result.success or failed_checks:
        raise SystemExit(f"{job_name} failed (failed checks: {failed_checks or 'none'}); see `make dev` for the run's logs")


def _reseeded(frozen: TaskConfig) -> TaskConfig:
    """The frozen config with its trainer's seed moved on by one: another model of the same task."""
    proto = type(frozen.proto)()
    proto.CopyFrom(frozen.proto)
    args = proto.trainer_config.trainer_args
    args["seed"] = str(int(args.get("seed", "0")) + 1)
    return TaskConfig(frozen.uri, proto)


def _retrained_job(template: TaskConfig, resources, instance: DagsterInstance) -> None:
    """A second job of a task that names a champion: its model from another seed, its chain run
    beside the first job's model, and where embedding_drift put its pictures."""
    frozen = freeze_task_config(template, resources, RETRAINED_JOB_NAME)
    _say(f"== training {template.task_name}'s model for job {RETRAINED_JOB_NAME!r} from another seed (a retrained model)")
    train_model(_reseeded(frozen), resources, progress=lambda _: None)
    add_job_partitions(instance, template.task_name, [RETRAINED_JOB_NAME])
    _execute(f"{template.task_name}_inference", instance, RETRAINED_JOB_NAME)


def _drift_lines(template: TaskConfig, instance: DagsterInstance) -> list[str]:
    event = instance.get_latest_materialization_event(AssetKey([template.task_name, "embedding_drift"]))
    metadata = event.asset_materialization.metadata if event else {}
    if not metadata.get("compared") or not metadata["compared"].value:
        return [f"{template.task_name}: no drift comparison ({metadata['reason'].value if 'reason' in metadata else 'not materialized'})"]
    champion = metadata["champion_job"].value
    lines = [
        f"{template.task_name} {RETRAINED_JOB_NAME} vs {champion}: mean neighbour overlap {overlap:.3f} ({node_type})"
        for node_type, overlap in metadata["mean_overlap"].value.items()
    ]
    lines += [f"  {name.removeprefix('picture_')}: {entry.value}" for name, entry in metadata.items() if name.startswith("picture_") and not name.endswith("_png")]
    return lines


def _project_templates() -> list[TaskConfig]:
    """The template of every task the code location defines (its frozen_config records where it lies)."""
    specs = [spec for a in defs.assets for spec in a.specs if spec.key.path[-1] == "frozen_config"]
    return [load_task_config(spec.metadata["template_uri"].value) for spec in sorted(specs, key=lambda s: s.key.path)]


def main() -> int:
    instance = DagsterInstance.get()
    leave_automation_unpaused(instance)
    resources = load_resource_config(defs.resources["deployment"].resource_config_uri)
    templates = _project_templates()

    _execute("refresh_graphs", instance)
    for template in templates:
        add_job_partitions(instance, template.task_name, [JOB_NAME])
        # The demo's job trains its model every time (seeded: the same file), replacing any file
        # an earlier demo left there.
        storage.delete_tree(freeze_task_config(template, resources, JOB_NAME).trained_model_uri)
        _execute(f"{template.task_name}_inference", instance, JOB_NAME)
    compared = [t for t in templates if t.champion]
    for template in compared:
        _retrained_job(template, resources, instance)

    warehouse = open_warehouse(resources)
    _say("\n== results")
    where = resources.duckdb_path if resources.warehouse_kind == "duckdb" else resources.proto.bigquery.dataset
    _say(f"warehouse: {where}")
    for template in templates:
        frozen = freeze_task_config(template, resources, JOB_NAME)
        for node_type in frozen.root_node_types:
            for kind, table in frozen.output_tables(node_type).items():
                rows = warehouse.read_table(table, limit=3).to_pylist()
                _say(f"\n{table}  ({warehouse.row_count(table):,} rows)")
                for row in rows:
                    value = row.get("emb")
                    pred = row.get("pred")
                    shown = f"emb[{len(value)}] = [{', '.join(f'{v:+.4f}' for v in value[:4])}, ...]" if value else f"pred = {pred:.4f}" if isinstance(pred, float) else f"pred = {pred}"
                    _say(f"  {row['node_id']:<16} {shown}")
        for table in frozen.link_candidates_tables().values():
            rows = warehouse.read_table(table, limit=3).to_pylist()  # the first source's best candidates
            _say(f"\n{table}  ({warehouse.row_count(table):,} rows)")
            for row in rows:
                _say(f"  {row['src_node_id']:<16} -> {row['dst_node_id']:<16} rank {row['rank']}, score {row['score']:+.3f}")
        for table in frozen.edge_predictions_tables().values():
            rows = warehouse.read_table(table, limit=3).to_pylist()
            _say(f"\n{table}  ({warehouse.row_count(table):,} rows)")
            for row in rows:
                pred = f"{row['pred']:.4f}" if isinstance(row["pred"], float) else row["pred"]
                _say(f"  {row['src_node_id']:<16} -> {row['dst_node_id']:<16} pred = {pred}")
    _say("\n== held-out quality (model vs trivial baseline)")
    for template in templates:
        frozen = freeze_task_config(template, resources, JOB_NAME)
        for name, quality in job_quality(frozen, resources, warehouse).items():
            # Four significant digits: a baseline of 0.0013 shown as 0.001 hid a twelvefold margin.
            _say(
                f"{template.task_name} {name}: {quality.metric} {quality.value:.4g} vs baseline {quality.baseline:.4g} "
                f"on {quality.count:,} held-out {'edges' if quality.metric.startswith('recall') else 'labels'}"
            )
    if compared:
        _say("\n== embedding drift (a retrained model against the first; pictures also on the asset page in `make dev`)")
        for template in compared:
            for line in _drift_lines(template, instance):
                _say(line)
    _say("\nBrowse the runs, partitions, checks and lineage with `make dev` (http://127.0.0.1:3000).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
