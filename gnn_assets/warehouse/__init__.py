"""Warehouses: one adapter module each, behind one registry (DuckDB embedded, BigQuery on GCP).

A new warehouse is a module with a class that has from_resources(resources) and the methods of
protocol.Warehouse, an entry in ADAPTERS, and its block in the resource config's `warehouse` oneof.
"""

import importlib

from gnn_assets.config.resource_config import Resources
from gnn_assets.warehouse.protocol import UnenumerationReport, Warehouse

__all__ = ["ADAPTERS", "UnenumerationReport", "Warehouse", "open_warehouse"]

# resource config's warehouse kind -> "module:class"; imported only when opened (BigQuery's
# client is a heavy import a DuckDB deployment never needs).
ADAPTERS = {
    "duckdb": "gnn_assets.warehouse.duckdb:DuckDbWarehouse",
    "bigquery": "gnn_assets.warehouse.bigquery:BigQueryWarehouse",
}


def open_warehouse(resources: Resources) -> Warehouse:
    module, _, cls = ADAPTERS[resources.warehouse_kind].partition(":")
    return getattr(importlib.import_module(module), cls).from_resources(resources)
