"""`make demo`: materialize every demo task for partition 'demo' in the persistent instance.

Graphs first (generated, enumerated), then each task's chain with its checks: its trained_model
trains the task's model (its trainerConfig), the demo job's model file having been removed.
Prints each job's held-out quality next to a trivial baseline. `make dev` opens the same
instance in the UI.
"""

import glob
import os
import sys
import warnings

# Dagster marks partitioned asset checks and parts of Pipes as preview; say so once, in the README.
warnings.filterwarnings("ignore", message=".*currently in preview")

from dagster import DagsterInstance  # noqa: E402

from gnn_assets import storage  # noqa: E402
from gnn_assets.config.resource_config import load_resource_config  # noqa: E402
from gnn_assets.config.task_config import freeze_task_config, load_task_config  # noqa: E402
from gnn_assets.definitions import defs  # noqa: E402
from gnn_assets.defs.common import job_partitions  # noqa: E402
from gnn_assets.training.evaluation import job_quality  # noqa: E402
from gnn_assets.defs.resources import default_resource_config_uri, default_task_config_dir  # noqa: E402
from gnn_assets.warehouse import open_warehouse  # noqa: E402

JOB_NAME = "demo"


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
    failed_checks = [
        e.asset_check_evaluation_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]
    if not result.success or failed_checks:
        raise SystemExit(f"{job_name} failed (failed checks: {failed_checks or 'none'}); see `make dev` for the run's logs")


def main() -> int:
    instance = DagsterInstance.get()
    resources = load_resource_config(default_resource_config_uri())
    templates = [load_task_config(p) for p in sorted(glob.glob(os.path.join(default_task_config_dir(), "*.yaml")))]

    _execute("refresh_graphs", instance)
    instance.add_dynamic_partitions(job_partitions.name, [JOB_NAME])
    for template in templates:
        # The demo's job trains its model every time (seeded: the same file), replacing any file
        # an earlier demo left there.
        storage.delete_tree(freeze_task_config(template, resources, JOB_NAME).trained_model_uri)
        _execute(f"{template.task_name}_inference", instance, JOB_NAME)

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
                    shown = f"emb[{len(value)}] = [{', '.join(f'{v:+.4f}' for v in value[:4])}, ...]" if value else f"pred = {row['pred']}"
                    _say(f"  {row['node_id']:<16} {shown}")
        for table in frozen.link_candidates_tables().values():
            rows = warehouse.read_table(table, limit=3).to_pylist()  # the first source's best candidates
            _say(f"\n{table}  ({warehouse.row_count(table):,} rows)")
            for row in rows:
                _say(f"  {row['src_node_id']:<16} -> {row['dst_node_id']:<16} rank {row['rank']}, score {row['score']:+.3f}")
    _say("\n== held-out quality (model vs trivial baseline)")
    for template in templates:
        frozen = freeze_task_config(template, resources, JOB_NAME)
        for name, quality in job_quality(frozen, resources, warehouse).items():
            _say(
                f"{template.task_name} {name}: {quality.metric} {quality.value:.3f} vs baseline {quality.baseline:.3f} "
                f"on {quality.count:,} held-out {'labels' if quality.metric == 'accuracy' else 'edges'}"
            )
    _say("\nBrowse the runs, partitions, checks and lineage with `make dev` (http://127.0.0.1:3000).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
