"""A label, as the graph source gives it (nodes.parquet's, or edges.parquet's for edge tasks) and
the enumeration keeps it: a class (an integer column; -1 where a node has none) for
classification, or a value (a floating column; NaN where none) for regression. The column's type decides which, once, where the
source is read; every reader after that asks the array.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from gnn_assets.graph.source_refusals import non_numeric_labels

CLASSES, VALUES = pa.int64(), pa.float64()  # the enumerated nodes file's label types
NO_CLASS = -1


def label_type(source_type: pa.DataType, where: str) -> pa.DataType:
    """The enumerated label type for a source's label column type (Arrow); anything but numbers refused."""
    if pa.types.is_integer(source_type) or pa.types.is_null(source_type):
        return CLASSES
    if pa.types.is_floating(source_type) or pa.types.is_decimal(source_type):
        return VALUES
    raise non_numeric_labels(where, str(source_type))


_SQL_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "INT64", "NULL")
_SQL_FLOATING = ("FLOAT", "DOUBLE", "DECIMAL", "REAL", "FLOAT64", "NUMERIC", "BIGNUMERIC")


def sql_label_type(sql_type: str, where: str) -> pa.DataType:
    """label_type for a column as DuckDB describes it (BIGINT, DOUBLE, DECIMAL(9,2), ...) or as
    a BigQuery schema types it (INTEGER, INT64, FLOAT64, NUMERIC, ...)."""
    name = sql_type.upper().split("(")[0].strip('"')
    if name in _SQL_INTEGERS:
        return CLASSES
    if name in _SQL_FLOATING:
        return VALUES
    raise non_numeric_labels(where, sql_type)


def is_values(labels: np.ndarray) -> bool:
    """Whether labels are values (regression) rather than classes."""
    return np.issubdtype(labels.dtype, np.floating)


def labelled(labels: np.ndarray) -> np.ndarray:
    """Which nodes have a label, as a boolean mask."""
    return ~np.isnan(labels) if is_values(labels) else labels >= 0


def class_labels(labels: np.ndarray) -> np.ndarray:
    """The labels as classes (int64, -1 where none): a graph whose labels are values has no
    classes (its samples carry none)."""
    return np.full(len(labels), NO_CLASS, np.int64) if is_values(labels) else labels.astype(np.int64, copy=False)


def read_labels(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An enumerated nodes file's label column as numpy: classes with -1, or values with NaN."""
    if pa.types.is_floating(column.type):
        return column.fill_null(np.nan).to_numpy().astype(np.float64, copy=False)
    return column.fill_null(NO_CLASS).to_numpy().astype(np.int64, copy=False)
