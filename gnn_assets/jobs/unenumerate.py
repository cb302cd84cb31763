"""Load inference output into the warehouse and restore original node ids (un-enumeration)."""

from __future__ import annotations

from typing import Callable

from gnn_assets.outputs import published
from gnn_assets.config.job import Job
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.enumerated_layout import MAPPING_SCHEMA, check_enumeration, edge_type_name, enumeration_id, mapping_uri
from gnn_assets.graph.enumeration import read_preprocessed_metadata
from gnn_assets.outputs.overlay import merged_output_files, removed_node_ids
from gnn_assets.outputs.published import output_kinds
from gnn_assets.config import tables
from gnn_assets.warehouse.protocol import LinkTableReplacement, LinkTableReport, MappingLoad, TableReplacement, UnenumerationReport, Warehouse

_VALUE_COLUMN = {"embeddings": "emb", "predictions": "pred"}


def load_node_id_mappings(warehouse: Warehouse, resources: Resources, graph_name: str, node_types: list[str]) -> dict[str, str]:
    """Load the enumeration's mapping files into one table per node type; returns the table names."""
    directory = resources.layout.enumerated_graph_dir(graph_name)
    enumeration = enumeration_id(directory)
    loaded = {t: tables.node_id_mapping_table(graph_name, t) for t in node_types}
    warehouse.load_mappings([MappingLoad(loaded[t], [mapping_uri(directory, t)], MAPPING_SCHEMA, enumeration) for t in node_types])
    return loaded


def mapping_tables(config: TaskConfig) -> dict[str, str]:
    """The mapping table of each node type, as the enumeration recorded it."""
    meta = read_preprocessed_metadata(config.preprocessed_metadata_uri).condensed_node_type_to_preprocessed_metadata
    return {t: meta[i].enumerated_node_ids_bq_table for i, t in enumerate(config.node_types)}


def _enumeration_tie(job: Job, enumeration: str, what: str, node_types: list[str]) -> tuple[list[MappingLoad], Callable[[], None]]:
    """Output is joined only with the mapping of the enumeration it was computed on: refused now
    (one line, nothing replaced) when the graph was enumerated again since; else the mapping
    tables it needs are reloaded from that enumeration's files in the publishing transaction,
    and the check that it is still the graph's runs again just before that transaction commits."""

    def check() -> None:
        check_enumeration(job.graph_dir, enumeration, what)

    check()
    tables_of = mapping_tables(job.config)
    loads = [MappingLoad(tables_of[t], [mapping_uri(job.graph_dir, t)], MAPPING_SCHEMA, enumeration) for t in dict.fromkeys(node_types)]
    return loads, check


def _publishes_by_delta(job: Job, manifest: published.InferenceJobResult, warehouse: Warehouse) -> bool:
    """An incremental run whose every output is layered over its base run's, onto tables that
    hold that base run's rows now (its job's last publication): only the changed rows move."""
    base_run = manifest.details.get("incremental", {}).get("base_run")
    layered = all(out.base_layers for out in manifest.outputs.values())
    return bool(getattr(warehouse, "publishes_deltas", False) and base_run and layered and published.published_run(job.layout) == base_run)


def unenumerate_outputs(job: Job, warehouse: Warehouse, progress: Callable[[str], None] = print) -> dict[str, UnenumerationReport]:
    """Publish a job's committed raw output as warehouse tables keyed by original node id.

    Reads only what the job's manifest lists, refuses output that lost rows or falls short of
    its samples (NoCommittedOutput / IncompleteOutput, before any table changes), and replaces
    every table of the job in one transaction. Returns reports keyed by the final table name.
    """
    config = job.config
    manifest = published.read_committed(job.layout)
    schemas = dict(output_kinds(config))
    kinds = list(schemas)
    missing = [t for t in config.root_node_types if t not in manifest.outputs]
    if missing:
        raise published.IncompleteOutput(f"committed run {manifest.run_id} has no output for node types {missing}")
    published.verify_committed(manifest, kinds)
    what = f"run {manifest.run_id} of job {config.job_name!r}"
    loads, check = _enumeration_tie(job, manifest.enumeration_id, what, config.root_node_types)
    mappings = mapping_tables(config)
    by_delta = _publishes_by_delta(job, manifest, warehouse)
    if by_delta:
        progress(f"{what}: publishing the rows it recomputed onto the tables of its base run {manifest.details['incremental']['base_run']}")
    replacements = []
    for node_type in config.root_node_types:
        output = manifest.outputs[node_type]
        for kind, final_table in config.output_tables(node_type).items():
            replacements.append(
                TableReplacement(
                    raw_table=tables.raw_output_table(config.task_name, config.job_name, node_type, kind),
                    files=output.files[kind] if by_delta else merged_output_files(output, kind, f"{what}: {node_type} {kind}"),
                    schema=schemas[kind],
                    mapping_table=mappings[node_type],
                    output_table=final_table,
                    value_column=_VALUE_COLUMN[kind],
                    removed_node_ids=removed_node_ids(output) if by_delta else None,
                )
            )
    reports = warehouse.publish_job_tables(replacements, loads, check)
    published.record_published(job.layout, manifest.run_id)
    for final_table, report in reports.items():
        progress(
            f"{final_table}: {report.output_rows:,} rows from {report.raw_rows:,} raw rows (run {manifest.run_id}); "
            f"{report.duplicate_rows_dropped} duplicate rows dropped, {report.unmapped_ids} unmapped ids, "
            f"{report.missing_nodes} nodes without output"
        )
    return reports


def publish_link_candidates(job: Job, warehouse: Warehouse, progress: Callable[[str], None] = print) -> dict[str, LinkTableReport]:
    """Publish a job's committed link candidates as warehouse tables keyed by original ids (both
    columns mapped), every table of the job in one transaction. Reports by final table name."""
    from gnn_assets.outputs.candidates import CANDIDATES_SCHEMA, read_committed_candidates

    config = job.config
    manifest = read_committed_candidates(job)
    pairs = {}
    for edge_type, final_table in config.link_candidates_tables().items():
        edge = manifest.edges[edge_type_name(edge_type)]
        published.verify_files(edge.files, edge.rows, edge.file_sha256, f"{edge_type_name(edge_type)} candidates")
        pairs[edge_type] = (final_table, tables.link_candidates_table(config.task_name, config.job_name, edge_type, raw=True), edge.files)
    return _publish_pair_tables(job, warehouse, "link candidates", manifest.run_id, manifest.enumeration_id, CANDIDATES_SCHEMA, pairs, progress)


def publish_edge_predictions(job: Job, warehouse: Warehouse, progress: Callable[[str], None] = print) -> dict[str, LinkTableReport]:
    """Publish an edge task's committed edge predictions as warehouse tables keyed by original src
    and dst ids (both columns mapped), every table of the job in one transaction."""
    from gnn_assets.outputs.edge_predictions import edge_predictions_schema, read_committed_edge_predictions

    config = job.config
    manifest = read_committed_edge_predictions(job)  # its files checked against the commit
    pairs = {}
    for edge_type, final_table in config.edge_predictions_tables().items():
        edge = manifest.edges.get(edge_type_name(edge_type))
        if edge is None:
            raise published.IncompleteOutput(f"edge predictions run {manifest.run_id} has no {edge_type_name(edge_type)} edges")
        pairs[edge_type] = (final_table, tables.edge_predictions_table(config.task_name, config.job_name, edge_type, raw=True), edge.files)
    schema = edge_predictions_schema(config.task_kind.is_regression)
    return _publish_pair_tables(job, warehouse, "edge predictions", manifest.run_id, manifest.enumeration_id, schema, pairs, progress)


def _publish_pair_tables(
    job: Job, warehouse: Warehouse, what: str, run_id: str, enumeration_id: str, schema, pairs: dict, progress: Callable[[str], None]
) -> dict[str, LinkTableReport]:
    """Tables of node pairs (pairs: edge type -> final table, raw table, committed files) published
    with both ids mapped, in one transaction tied to the run's enumeration."""
    ends = [t for e in pairs for t in (e[0], e[2])]
    loads, check = _enumeration_tie(job, enumeration_id, f"{what} run {run_id} of job {job.config.job_name!r}", ends)
    mappings = mapping_tables(job.config)
    replacements = [
        LinkTableReplacement(
            raw_table=raw_table, files=files, schema=schema, src_mapping_table=mappings[e[0]], dst_mapping_table=mappings[e[2]], output_table=final
        )
        for e, (final, raw_table, files) in pairs.items()
    ]
    reports = warehouse.publish_link_tables(replacements, loads, check)
    for final_table, report in reports.items():
        progress(f"{final_table}: {report.output_rows:,} {what} (run {run_id}); {report.unmapped_rows} rows with unmapped ids")
    return reports
