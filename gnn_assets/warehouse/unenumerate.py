"""Load inference output into the warehouse and restore original node ids (un-enumeration)."""

from __future__ import annotations

from typing import Callable

from gnn_assets import storage
from gnn_assets.config.resource_config import Resources
from gnn_assets.config.task_config import TaskConfig
from gnn_assets.graph.enumeration import MAPPING_SCHEMA, mapping_uri, read_preprocessed_metadata
from gnn_assets.inference.pipeline import EMBEDDINGS_SCHEMA, PREDICTIONS_SCHEMA, output_shards_glob
from gnn_assets.warehouse import tables
from gnn_assets.warehouse.protocol import UnenumerationReport, Warehouse

_VALUE = {"embeddings": ("emb", EMBEDDINGS_SCHEMA), "predictions": ("pred", PREDICTIONS_SCHEMA)}


def load_node_id_mappings(warehouse: Warehouse, resources: Resources, graph_name: str, node_types: list[str]) -> dict[str, str]:
    """Load the enumeration's mapping files into one table per node type; returns the table names."""
    directory = resources.layout.enumerated_graph_dir(graph_name)
    loaded = {}
    for node_type in node_types:
        table = tables.node_id_mapping_table(graph_name, node_type)
        warehouse.load_parquet(table, [mapping_uri(directory, node_type)], MAPPING_SCHEMA)
        loaded[node_type] = table
    return loaded


def mapping_tables(config: TaskConfig) -> dict[str, str]:
    """The mapping table of each node type, as the enumeration recorded it."""
    meta = read_preprocessed_metadata(config.preprocessed_metadata_uri).condensed_node_type_to_preprocessed_metadata
    return {t: meta[i].enumerated_node_ids_bq_table for i, t in enumerate(config.node_types)}


def unenumerate_outputs(
    config: TaskConfig,
    resources: Resources,
    warehouse: Warehouse,
    progress: Callable[[str], None] = print,
) -> dict[str, UnenumerationReport]:
    """For every root node type and output kind: Parquet -> raw table -> final table.

    Returns reports keyed by the final table name.
    """
    reports = {}
    mappings = mapping_tables(config)
    for node_type in config.root_node_types:
        output_dir = resources.layout.job(config.task_name, config.job_name).inference_output_dir(node_type)
        for kind, final_table in config.output_tables(node_type).items():
            value_column, schema = _VALUE[kind]
            files = storage.glob(output_shards_glob(output_dir, kind))
            raw_table = tables.raw_output_table(config.task_name, config.job_name, node_type, kind)
            raw_rows = warehouse.load_parquet(raw_table, files, schema)
            report = warehouse.unenumerate(raw_table, mappings[node_type], final_table, value_column)
            progress(
                f"{final_table}: {report.output_rows:,} rows from {raw_rows:,} raw rows; "
                f"{report.duplicate_rows_dropped} duplicate rows dropped, {report.unmapped_ids} unmapped ids, "
                f"{report.missing_nodes} nodes without output"
            )
            reports[final_table] = report
    return reports
