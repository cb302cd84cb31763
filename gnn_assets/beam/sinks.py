"""Where Beam jobs write Parquet: every job of the project writes its output through this sink."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io import filebasedsink, parquetio


class PlainParquetSink(parquetio._ParquetSink):
    """Beam's batched Parquet sink with dictionary encoding off, statistics for id columns only.

    Arrow's default tries a dictionary for every column; for embeddings (distinct floats) that
    pass costs five times the write itself and makes files half again as large. Beam exposes
    no option for it, hence this subclass of its (pinned) sink.
    """

    def __init__(self, file_path_prefix: str, schema: pa.Schema, statistics: tuple[str, ...] = ("node_id",)):
        self._statistics = list(statistics)
        super().__init__(
            file_path_prefix,
            schema,
            codec="none",
            use_deprecated_int96_timestamps=False,
            use_compliant_nested_type=False,
            file_name_suffix=".parquet",
            num_shards=0,
            shard_name_template=None,
            mime_type="application/x-parquet",
            triggering_frequency=None,
        )

    def open(self, temp_path):
        self._file_handle = filebasedsink.FileBasedSink.open(self, temp_path)
        # Statistics only for ids (row groups can be skipped by id); min/max of embedding
        # floats serve no query and cost a tenth of the write.
        return pq.ParquetWriter(
            self._file_handle, self._schema, compression=self._codec, use_dictionary=False, write_statistics=self._statistics
        )
