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


def iter_records(stream: BinaryIO, chunk_size: int = 1 << 22) -> Iterator[bytes]:
    """The records of a TFRecord stream, checksums verified, read chunk_size bytes at a time
    (memory stays flat however large the file)."""
    buffer, offset, position = b"", 0, 0  # position: where buffer starts in the stream
    while True:
        available = len(buffer) - offset
        needed = 12
        if available >= 12:
            header = buffer[offset : offset + 8]
            if buffer[offset + 8 : offset + 12] != _masked_crc(header):
                raise TFRecordError(f"corrupt length at byte {position + offset}")
            (length,) = struct.unpack("<Q", header)
            needed = 12 + length + 4
            if available >= needed:
                start, end = offset + 12, offset + 12 + length
                record = buffer[start:end]
                if buffer[end : end + 4] != _masked_crc(record):
                    raise TFRecordError(f"corrupt record at byte {position + offset}")
                yield record
                offset = end + 4
                continue
        more = stream.read(max(chunk_size, needed - available))
        if not more:
            if available:
                what = "record header" if available < 12 else "record"
                raise TFRecordError(f"truncated {what} at byte {position + offset}")
            return
        buffer, position, offset = buffer[offset:] + more, position + offset, 0
