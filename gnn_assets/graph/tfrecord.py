"""TFRecord writing (the framing Beam's ReadFromTFRecord and TensorFlow read).

Each record: uint64 length, masked crc32c of the length, the data, masked crc32c of the data.
The sampler writes shards itself (it is a numpy program, not a Beam job), so it needs the
framing without TensorFlow.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import google_crc32c

_MASK_DELTA = 0xA282EAD8


def _masked_crc(data: bytes) -> bytes:
    crc = google_crc32c.value(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF)


def write_record(stream: BinaryIO, data: bytes) -> None:
    length = struct.pack("<Q", len(data))
    stream.write(length + _masked_crc(length) + data + _masked_crc(data))
