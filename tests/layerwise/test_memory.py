"""The memory a LOCAL layer-wise job sees: the machine's, or its memory cgroup's where that
leaves less (a container sees the host's meminfo), and when its states outgrow the page cache."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks.harness import MemoryCap
from gnn_assets.layerwise.memory import available_bytes, states_outgrow_page_cache


def test_states_outgrow_the_page_cache_past_what_is_available_beside_the_budget():
    room = available_bytes()
    assert room > 0
    assert states_outgrow_page_cache(2 * room, 0)
    assert not states_outgrow_page_cache(1 << 20, 0)
    assert states_outgrow_page_cache(1 << 20, room)  # the budget takes it all


@pytest.mark.skipif(not MemoryCap.available(), reason="needs a writable memory cgroup (root, cgroup v1)")
def test_a_memory_cgroup_leaves_less_than_the_machine():
    """Before, a job in a cgroup capped far below the machine took half of the machine's
    MemAvailable as its default budget."""
    cap = MemoryCap(f"gnn-test-memory-{os.getpid()}", 600)
    try:
        seen = subprocess.run(
            [sys.executable, "-c", "from gnn_assets.layerwise.memory import available_bytes; print(available_bytes())"],
            capture_output=True, text=True, check=True, preexec_fn=cap.enter,
        )
    finally:
        cap.close()
    assert 0 < int(seen.stdout) <= 600 << 20
