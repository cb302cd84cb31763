import io

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from gnn_assets.graph.tfrecord import TFRecordError, iter_records, write_record

RECORDS = [b"", b"a", b"\x00\xff" * 1000]


def test_beam_reads_what_we_write(tmp_path):
    path = tmp_path / "x.tfrecord"
    with open(path, "wb") as f:
        for r in RECORDS:
            write_record(f, r)
    with beam.Pipeline(runner="FnApiRunner") as p:
        assert_that(p | beam.io.ReadFromTFRecord(str(path), coder=beam.coders.BytesCoder()), equal_to(RECORDS))


def test_iter_records_round_trips_and_detects_corruption():
    buffer = io.BytesIO()
    for r in RECORDS:
        write_record(buffer, r)
    data = buffer.getvalue()
    assert list(iter_records(io.BytesIO(data))) == RECORDS
    corrupt = data[:100] + bytes([data[100] ^ 1]) + data[101:]  # inside the third record
    with pytest.raises(TFRecordError, match="corrupt record at byte 33"):
        list(iter_records(io.BytesIO(corrupt)))
    with pytest.raises(TFRecordError, match="corrupt length at byte 16"):
        list(iter_records(io.BytesIO(data[:17] + bytes([data[17] ^ 1]) + data[18:])))
    with pytest.raises(TFRecordError, match="truncated record at byte 33"):
        list(iter_records(io.BytesIO(data[:-3])))
    with pytest.raises(TFRecordError, match="truncated record header at byte 33"):
        list(iter_records(io.BytesIO(data[:40])))
