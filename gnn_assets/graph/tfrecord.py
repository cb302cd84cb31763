"""TFRecord framing, as Beam's ReadFromTFRecord and TensorFlow read and write it.

Each record: uint64 length, masked crc32c of the length, the data, masked crc32c of the data.
The sampler writes shards itself (it is a numpy program, not a Beam job), so it needs the
framing without TensorFlow.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Iterator

import google_crc32c

_MASK_DELTA = 0xA282EAD8


def _masked_crc(data: bytes) -> bytes:
    crc = google_crc32c.value(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF)


def write_record(stream: BinaryIO, data: bytes) -> None:
    length = struct.pack("<Q", len(data))
    stream.write(length + _masked_crc(length) + data + _masked_crc(data))


class TFRecordError(ValueError):
    pass


def iter_records(data: bytes) -> Iterator[bytes]:
    """The records of a whole TFRecord file, checksums verified."""
    offset = 0
    while offset < len(data):
        if offset + 12 > len(data):
            raise TFRecordError(f"truncated record header at byte {offset}")
        header = data[offset : offset + 8]
        if data[offset + 8 : offset + 12] != _masked_crc(header):
            raise TFRecordError(f"corrupt length at byte {offset}")
        (length,) = struct.unpack("<Q", header)
        start, end = offset + 12, offset + 12 + length
        if end + 4 > len(data):
            raise TFRecordError(f"truncated record at byte {offset}")
        record = data[start:end]
        if data[end : end + 4] != _masked_crc(record):
            raise TFRecordError(f"corrupt record at byte {offset}")
        yield record
        offset = end + 4
