"""Progress of a running Beam job in its logs: samples read, rate, share of the input, time left.

Local runners run the whole job inside pipeline.run(), and their metrics arrive only at the
end; so each reading worker writes its own counts (samples, bytes) to a small file of the run,
at most every few seconds, and a thread of the driver adds them up. On Dataflow the driver
reads the job's own metrics (samples_read, bytes_read) while it waits. Either way the share of
the input is bytes read over the bytes of all shards, known before the job starts.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Callable

from gnn_assets import storage

WRITE_EVERY_SECONDS = 2.0


class WorkerProgress:
    """One reading worker's running counts, written to <directory>/<unique name>.json."""

    def __init__(self, directory: str):
        self._uri = storage.join(directory, f"{uuid.uuid4().hex}.json")
        self.samples = self.bytes = 0
        self._written_at = 0.0

    def add(self, samples: int, num_bytes: int) -> None:
        self.samples += samples
        self.bytes += num_bytes
        if time.monotonic() - self._written_at >= WRITE_EVERY_SECONDS:
            self.write()

    def write(self) -> None:
        storage.replace_atomically(self._uri, json.dumps({"samples": self.samples, "bytes": self.bytes}).encode())
        self._written_at = time.monotonic()


def read_progress_files(directory: str) -> tuple[int, int]:
    """(samples, bytes) over every worker's file so far."""
    samples = num_bytes = 0
    for uri in storage.glob(storage.join(directory, "*.json")):
        try:
            counts = json.loads(storage.read_text(uri))
        except (OSError, ValueError):
            continue  # a file being replaced; the next look sees it
        samples += counts["samples"]
        num_bytes += counts["bytes"]
    return samples, num_bytes


def describe(samples: int, done_bytes: int, total_bytes: int, seconds: float) -> str:
    fraction = min(done_bytes / total_bytes, 1.0) if total_bytes else 0.0
    line = f"progress: {samples:,} samples read ({fraction:.0%} of the input), {samples / max(seconds, 1e-9):,.0f} samples/s"
    if 0 < fraction < 1:
        line += f", about {seconds * (1 - fraction) / fraction:,.0f} s left"
    return line


class ProgressReporter:
    """Every `interval` seconds, reports what `counts()` returns (samples, bytes) until stopped."""

    def __init__(self, counts: Callable[[], tuple[int, int]], total_bytes: int, report: Callable[[str], None], interval: float):
        self._counts, self._total, self._report, self._interval = counts, total_bytes, report, interval
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="beam-progress", daemon=True)

    def __enter__(self) -> "ProgressReporter":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def report_now(self) -> None:
        samples, done = self._counts()
        if samples:
            self._report(describe(samples, done, self._total, time.monotonic() - self._started))

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.report_now()
