"""Waiting on a condition instead of for a time: a busy machine is slow, never wrong."""

from __future__ import annotations

import time
from typing import Callable

POLL_SECONDS = 0.05


def wait_until(condition: Callable[[], object], what: str, timeout: float = 120.0):
    """condition()'s first truthy value, polled until it comes; AssertionError naming what was
    awaited when timeout seconds pass first (a bound for a hung run, not a measure of speed)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(POLL_SECONDS)
