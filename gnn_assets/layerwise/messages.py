"""Messages of engine BEAM on their way from a gather step to the destination pieces' apply.

A gather step's partial aggregates wait in its Outbox, combined per (destination piece, call)
within a byte budget (Beam's combiner lifting, bounded by bytes instead of by keys): past the
budget the largest are sent early. What is sent is written to storage, many pieces in one file
(write_messages), and only a MessageRef per piece travels through the shuffle: the shuffle
carries bytes per piece, not per edge, on any runner (FnApiRunner's shuffle is this process's
memory), and the apply step reads its pieces' messages with ranged reads (read_messages).
Files of a layer are deleted once the layer is complete.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np

from gnn_assets import storage
from gnn_assets.layerwise.blocks import Partial, merge

_OPTIONAL = ("counts", "sources", "degrees")
_DTYPES = {"rows": np.int64, "values": np.float32, "counts": np.int64, "sources": np.int64, "degrees": np.float64}


@dataclass(frozen=True)
class MessageRef:
    """Where one Partial lies: a file, its first byte, its rows and width, which arrays it has."""

    uri: str
    offset: int
    call: str
    kind: str
    rows: int
    width: int
    arrays: tuple[str, ...]  # of _OPTIONAL, in file order after rows and values

    @property
    def nbytes(self) -> int:
        return self.rows * (8 + 4 * self.width + sum(np.dtype(_DTYPES[name]).itemsize for name in self.arrays))


class Outbox:
    """Partial aggregates on their way, combined per (destination, call) while they fit in
    budget_bytes. Gathered edges (kind "gather") do not combine: they leave at once."""

    def __init__(self, budget_bytes: int):
        self._budget = budget_bytes
        self._waiting: dict[tuple, list[Partial]] = {}
        self._bytes: dict[tuple, int] = {}
        self._total = 0

    def add(self, key: tuple, part: Partial) -> list[tuple[tuple, Partial]]:
        """The (destination key, partial) to send now."""
        if part.kind == "gather":
            return [(key, part)]
        slot = (key, part.call)
        self._waiting.setdefault(slot, []).append(part)
        self._bytes[slot] = self._bytes.get(slot, 0) + part.nbytes
        self._total += part.nbytes
        if self._total <= self._budget:
            return []
        for slot in list(self._waiting):
            self._compact(slot)
        sent = []
        for slot in sorted(self._waiting, key=self._bytes.get, reverse=True):
            if self._total <= self._budget // 2:
                break
            sent.append(self._take(slot))
        return sent

    def flush(self) -> list[tuple[tuple, Partial]]:
        return [self._take(slot) for slot in list(self._waiting)]

    def _compact(self, slot) -> None:
        parts = self._waiting[slot]
        if len(parts) > 1:
            merged = merge(parts)
            self._waiting[slot] = [merged]
            self._total += merged.nbytes - self._bytes[slot]
            self._bytes[slot] = merged.nbytes

    def _take(self, slot) -> tuple[tuple, Partial]:
        self._compact(slot)
        (part,) = self._waiting.pop(slot)
        self._total -= self._bytes.pop(slot)
        return slot[0], part


def write_messages(directory: str, sent: list[tuple[tuple, Partial]]) -> list[tuple[tuple, MessageRef]]:
    """The partials as one new file under directory; a reference to each, by destination key."""
    uri = storage.join(directory, f"{uuid.uuid4().hex}.bin")
    refs, offset = [], 0
    with storage.open_write(uri) as stream:
        for key, part in sent:
            arrays = tuple(name for name in _OPTIONAL if getattr(part, name) is not None)
            values = np.ascontiguousarray(part.values, dtype=np.float32).reshape(len(part.rows), -1)
            ref = MessageRef(uri, offset, part.call, part.kind, len(part.rows), values.shape[1], arrays)
            for name, array in (("rows", part.rows), ("values", values), *((n, getattr(part, n)) for n in arrays)):
                data = np.ascontiguousarray(array, dtype=_DTYPES[name]).tobytes()
                stream.write(data)
                offset += len(data)
            refs.append((key, ref))
    return refs


def read_messages(refs: list[MessageRef]) -> dict[str, Partial]:
    """The referenced partials, merged per call; each file opened once."""
    by_call: dict[str, list[Partial]] = {}
    by_uri: dict[str, list[MessageRef]] = {}
    for ref in refs:
        by_uri.setdefault(ref.uri, []).append(ref)
    for uri, file_refs in by_uri.items():
        with storage.open_read(uri) as stream:
            for ref in sorted(file_refs, key=lambda r: r.offset):
                stream.seek(ref.offset)
                data = bytearray(stream.read(ref.nbytes))  # writable: the arrays are the Partial's own
                if len(data) != ref.nbytes:
                    raise OSError(f"{uri}: message file ends at byte {ref.offset + len(data)}, a message runs to {ref.offset + ref.nbytes}")
                found, at = {}, 0
                for name in ("rows", "values", *ref.arrays):
                    count = ref.rows * (ref.width if name == "values" else 1)
                    found[name] = np.frombuffer(data, dtype=_DTYPES[name], count=count, offset=at)
                    at += count * np.dtype(_DTYPES[name]).itemsize
                found["values"] = found["values"].reshape(ref.rows, ref.width)
                by_call.setdefault(ref.call, []).append(Partial(ref.call, ref.kind, **found))
    return {call: merge(parts) for call, parts in by_call.items()}
