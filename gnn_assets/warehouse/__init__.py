"""Warehouses (DuckDB embedded, BigQuery on GCP) and un-enumeration of inference output."""

from gnn_assets.config.resource_config import Resources
from gnn_assets.warehouse.protocol import UnenumerationReport, Warehouse

__all__ = ["UnenumerationReport", "Warehouse", "open_warehouse"]


def open_warehouse(resources: Resources) -> Warehouse:
    if resources.warehouse_kind == "duckdb":
        from gnn_assets.warehouse.duckdb import DuckDbWarehouse

        return DuckDbWarehouse(resources.duckdb_path)
    raise NotImplementedError(f"{resources.uri}: warehouse {resources.warehouse_kind!r} is not supported by this version")
