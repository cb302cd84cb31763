"""`gnn-assets`: every step of the chain from the command line.

    gnn-assets demo-graph  --resource_config_uri R --graph_name G --kind typed|homogeneous [--num_nodes N]
    gnn-assets enumerate   --resource_config_uri R --graph_name G
    gnn-assets apply-changes --resource_config_uri R --graph_name G --changes DIR
    gnn-assets sample      --resource_config_uri R --task_config_uri T --job_name J
    gnn-assets train       --resource_config_uri R --task_config_uri T --job_name J
    gnn-assets init-model  --resource_config_uri R --task_config_uri T --job_name J [--seed S]
    gnn-assets serve       --task_config_uri T --resource_config_uri R [--job_name J] [--host H --port P] [--workers N]
    gnn-assets inference   (the same as python -m gnn_assets.inference)
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from gnn_assets.config.errors import ConfigError
from gnn_assets.errors import UserError

# Each command imports what it needs when it runs: `gnn-assets --help` and a config error answer
# without loading torch, PyG or Beam.


def _say(line: str) -> None:
    print(line, flush=True)


def _frozen(args: argparse.Namespace):
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.config.task_config import freeze_task_config, load_task_config, write_frozen_config

    resources = load_resource_config(args.resource_config_uri)
    frozen = freeze_task_config(load_task_config(args.task_config_uri), resources, args.job_name)
    write_frozen_config(frozen)
    return frozen, resources


def demo_graph(args: argparse.Namespace) -> None:
    """Generate a seeded demo graph source."""
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.graph.demo import STREAM_ABOVE, generate_homogeneous_demo_graph, generate_typed_demo_graph, write_demo_shards
    from gnn_assets.graph.source import write_graph_source

    resources = load_resource_config(args.resource_config_uri)
    # Without --seed, the generators' own seeds: the same graphs the Dagster graph_source asset makes.
    seed = {} if args.seed is None else {"seed": args.seed}
    directory = resources.layout.graph_source_dir(args.graph_name)
    if args.kind == "homogeneous" and args.num_nodes > STREAM_ABOVE:
        nodes, edges = write_demo_shards(directory, args.num_nodes, progress=_say, **seed)
        _say(f"homogeneous demo graph: {nodes:,} nodes, {edges:,} edges, as shard folders -> {directory}")
        return
    if args.kind == "typed":
        source = generate_typed_demo_graph(args.num_nodes * 3 // 5, args.num_nodes * 2 // 5, **seed)
    else:
        source = generate_homogeneous_demo_graph(args.num_nodes, **seed)
    write_graph_source(directory, source)
    _say(f"{args.kind} demo graph: {source.nodes.num_rows:,} nodes, {source.edges.num_rows:,} edges -> {directory}")


def enumerate_(args: argparse.Namespace) -> None:
    """Enumerate a graph source and load its node id mapping tables."""
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.graph.enumeration import enumerate_deployment_graph
    from gnn_assets.warehouse import open_warehouse
    from gnn_assets.jobs.unenumerate import load_node_id_mappings

    resources = load_resource_config(args.resource_config_uri)
    report = enumerate_deployment_graph(resources, args.graph_name)
    _say(f"enumerated {args.graph_name}: nodes {report.nodes}, edges {report.edges}, duplicate edges dropped {report.duplicate_edges_dropped}")
    loaded = load_node_id_mappings(open_warehouse(resources), resources, args.graph_name, list(report.nodes))
    _say(f"mapping tables: {', '.join(loaded.values())}")


def apply_changes(args: argparse.Namespace) -> None:
    """Apply a change log (nodes.parquet / edges.parquet of added, removed and updated rows) to a graph source, then enumerate it."""
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.graph.change_log import apply_change_log
    from gnn_assets.graph.sql_enumeration import sql_settings_of

    resources = load_resource_config(args.resource_config_uri)
    report = apply_change_log(resources.layout.graph_source_dir(args.graph_name), args.changes, sql_settings_of(resources))
    _say(
        f"{args.graph_name}: nodes +{report.nodes_added:,} -{report.nodes_removed:,} ~{report.nodes_updated:,}, edges +{report.edges_added:,} "
        f"-{report.edges_removed:,} (and {report.edges_of_removed_nodes:,} of removed nodes): {report.nodes:,} nodes, {report.edges:,} edges now"
    )
    enumerate_(args)


def sample(args: argparse.Namespace) -> None:
    """Sample every root's neighbourhood for a job."""
    from gnn_assets.config.job import Job
    from gnn_assets.graph.sampling import sample_with_engine

    frozen, resources = _frozen(args)
    for prefix, report in sample_with_engine(Job.of(frozen, resources), progress=_say).items():
        _say(f"{report.roots:,} samples in {len(report.shards)} shards at {prefix}*.tfrecord ({report.seconds:.1f}s)")


def train(args: argparse.Namespace) -> None:
    """Train a job's model with the task's trainerConfig and write it where the job reads it."""
    from gnn_assets.training.protocol import TrainingError, has_trainer
    from gnn_assets.training.run import train_model

    frozen, resources = _frozen(args)
    if not has_trainer(frozen):
        raise TrainingError(f"{args.task_config_uri}: no trainerConfig.trainerClsPath to train with")
    trained = train_model(frozen, resources, progress=_say)
    _say(f"metrics and training curve: {trained.report_uris['metrics']}, {trained.report_uris['curve']}")


def init_model(args: argparse.Namespace) -> None:
    """Write a seeded, untrained model file for a job (plumbing tests: it fails model_beats_baseline)."""
    from gnn_assets.inference.task_specs import write_untrained_model

    from gnn_assets import storage

    frozen, resources = _frozen(args)
    if storage.exists(frozen.trained_model_uri) and not args.overwrite:
        raise ConfigError(f"{frozen.trained_model_uri} exists (job {args.job_name}'s model): pass --overwrite to replace it")
    _say(f"untrained model (seed {args.seed}) written to {write_untrained_model(frozen, args.seed, resources.model_policy)}")


def serve(args: argparse.Namespace) -> None:
    """Serve a job's model over HTTP (default: the task's deployed model, swapped when it changes)."""
    from gnn_assets import storage
    from gnn_assets.config.layout import job_layout
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.config.task_config import load_task_config
    from gnn_assets.serving.app import serve as run_server

    resources = load_resource_config(args.resource_config_uri)  # a bad config fails here, in one line, not in each worker
    task_name = load_task_config(args.task_config_uri).task_name
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    if args.job_name:
        frozen = job_layout(resources.layout, task_name, args.job_name).frozen_config_uri
        if not storage.exists(frozen):
            raise ConfigError(f"--job_name {args.job_name}: task {task_name} has no such job ({frozen} is missing): run the job first")
        model = load_task_config(frozen).trained_model_uri
        if not storage.exists(model):
            raise ConfigError(f"--job_name {args.job_name}: task {task_name}'s job has no model file ({model} is missing): train or copy it first")
    what = f"job {args.job_name}" if args.job_name else "the deployed model"
    _say(f"serving {task_name} ({what}) on http://{args.host}:{args.port} with {args.workers} worker process(es)")
    run_server(args.resource_config_uri, task_name, args.job_name, args.host, args.port, args.workers)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "inference":
        from gnn_assets.jobs import driver

        return driver.main(argv[1:])
    parser = argparse.ArgumentParser(prog="gnn-assets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    parser_for = {}
    for name, func, needs_job in (
        ("demo-graph", demo_graph, False),
        ("enumerate", enumerate_, False),
        ("apply-changes", apply_changes, False),
        ("sample", sample, True),
        ("train", train, True),
        ("init-model", init_model, True),
    ):
        sub = commands.add_parser(name, help=func.__doc__)
        sub.set_defaults(func=func)
        sub.add_argument("--resource_config_uri", required=True)
        if needs_job:
            sub.add_argument("--task_config_uri", required=True)
            sub.add_argument("--job_name", required=True)
        parser_for[name] = sub
    commands.add_parser("inference", help="run inference (python -m gnn_assets.inference --help)")
    served = commands.add_parser("serve", help=serve.__doc__)
    served.set_defaults(func=serve)
    served.add_argument("--resource_config_uri", required=True)
    served.add_argument("--task_config_uri", required=True)
    served.add_argument("--job_name", help="serve this job's model (default: the deployed one)")
    served.add_argument("--host", default="127.0.0.1")
    served.add_argument("--port", type=int, default=8080)
    served.add_argument("--workers", type=int, default=1, help="server processes sharing the port (one per core serves most)")
    parser_for["demo-graph"].add_argument("--graph_name", required=True)
    parser_for["demo-graph"].add_argument("--kind", choices=("typed", "homogeneous"), required=True)
    parser_for["demo-graph"].add_argument(
        "--num_nodes", type=int, default=20_000, help="homogeneous graphs above 1,000,000 nodes are written as shard folders, a slice at a time"
    )
    parser_for["demo-graph"].add_argument("--seed", type=int)
    parser_for["enumerate"].add_argument("--graph_name", required=True)
    parser_for["apply-changes"].add_argument("--graph_name", required=True)
    parser_for["apply-changes"].add_argument("--changes", required=True, help="the change log's folder (nodes.parquet and/or edges.parquet, by original id)")
    parser_for["init-model"].add_argument("--seed", type=int, default=0)
    parser_for["init-model"].add_argument("--overwrite", action="store_true", help="replace the job's model file if there is one")
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


def run() -> None:
    """The console script: main(), then the process ends (gnn_assets/process_exit.py says why)."""
    from gnn_assets.process_exit import run_and_exit

    run_and_exit(main)


if __name__ == "__main__":
    run()
