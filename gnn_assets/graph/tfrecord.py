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
_LENGTH = struct.Struct("<Q")
_HEADER = struct.Struct("<QI")  # length, masked crc32c of the length
_CRC = struct.Struct("<I")


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def write_record(stream: BinaryIO, data: bytes) -> None:
    length = _LENGTH.pack(len(data))
    stream.write(length + _CRC.pack(_masked_crc(length)) + data + _CRC.pack(_masked_crc(data)))


class TFRecordError(ValueError):
    pass


def _record_length(header: bytes, position: int) -> int | None:
    """The data length a record header announces (None at the end of the stream), checksum verified."""
    if not header:
        return None
    if len(header) < 12:
        raise TFRecordError(f"truncated record header at byte {position}")
    length, length_crc = _HEADER.unpack(header)
    if _masked_crc(header[:8]) != length_crc:
        raise TFRecordError(f"corrupt length at byte {position}")
    return length


def iter_records(stream: BinaryIO) -> Iterator[bytes]:
    """The records of a TFRecord stream, checksums verified, one at a time (memory stays flat
    however large the file). Give it a buffered stream: it reads each record with two calls."""
    read = stream.read
    position = 0
    while (length := _record_length(read(12), position)) is not None:
        record = read(length)
        footer = read(4)
        if len(record) < length or len(footer) < 4:
            raise TFRecordError(f"truncated record at byte {position}")
        if _masked_crc(record) != _CRC.unpack(footer)[0]:
            raise TFRecordError(f"corrupt record at byte {position}")
        yield record
        position += 16 + length


def iter_record_lengths(stream: BinaryIO) -> Iterator[int]:
    """The length of each record, reading only the framing (the data is skipped): how many
    records a shard holds without decoding them. Give it a seekable stream."""
    position = 0
    while (length := _record_length(stream.read(12), position)) is not None:
        stream.seek(length + 4, 1)
        yield length
        position += 16 + length
