"""Warehouses (DuckDB embedded, BigQuery on GCP) and un-enumeration of inference output."""

from gnn_assets.config.resource_config import Resources
from gnn_assets.warehouse.protocol import UnenumerationReport, Warehouse

__all__ = ["UnenumerationReport", "Warehouse", "open_warehouse"]


def open_warehouse(resources: Resources) -> Warehouse:
    if resources.warehouse_kind == "duckdb":
        from gnn_assets.warehouse.duckdb import DuckDbWarehouse

        return DuckDbWarehouse(resources.duckdb_path)
    from gnn_assets.warehouse.bigquery import BigQueryWarehouse

    bq = resources.proto.bigquery
    return BigQueryWarehouse(bq.project, bq.dataset, bq.location, dict(bq.labels))
