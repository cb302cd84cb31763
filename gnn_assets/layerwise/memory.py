"""The memory a LOCAL layer-wise job works in: its budget (`layerwise.memoryBudgetMb`, or half of
what is available) and whether its spilled states fit in the page cache beside it.

Available memory is the kernel's MemAvailable, or less where the process's memory cgroup (v1 or
v2) leaves less: a container sees the host's meminfo.
"""

from __future__ import annotations

import os
from pathlib import Path

from gnn_assets.config.task_config import TaskConfig

_DEFAULT_BUDGET_FRACTION = 0.5
_CGROUP = Path("/sys/fs/cgroup")


def _cgroup_room() -> int | None:
    """Bytes the process's memory cgroup lets it use beyond what the cgroup uses now, or None
    where no limit is set or readable."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "memory":  # v1
            folder, limit_file, usage_file = _CGROUP / "memory" / path.lstrip("/"), "memory.limit_in_bytes", "memory.usage_in_bytes"
        elif controllers == "" and (_CGROUP / "cgroup.controllers").exists():  # v2
            folder, limit_file, usage_file = _CGROUP / path.lstrip("/"), "memory.max", "memory.current"
        else:
            continue
        try:
            limit = (folder / limit_file).read_text().strip()
            usage = int((folder / usage_file).read_text())
        except (OSError, ValueError):
            return None
        if limit == "max" or int(limit) >= 1 << 60:  # v1 writes "no limit" as a huge number
            return None
        return max(int(limit) - usage, 0)
    return None


def available_bytes() -> int:
    """Memory this process can still use, page cache included."""
    try:
        with open("/proc/meminfo") as meminfo:
            available = next(int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable:")) * 1024
    except (OSError, StopIteration, ValueError):
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    room = _cgroup_room()
    return available if room is None else min(available, room)


def memory_budget_bytes(config: TaskConfig) -> int:
    """gnnAssetsConfig.layerwise.memoryBudgetMb, or half of the memory available now."""
    if config.layerwise_memory_budget_mb:
        return config.layerwise_memory_budget_mb << 20
    return int(available_bytes() * _DEFAULT_BUDGET_FRACTION)


def states_outgrow_page_cache(states_bytes: int, budget_bytes: int) -> bool:
    """Whether spilled states of states_bytes would not stay in the page cache beside the job's
    budget: then reading them at random costs a disk read per row, and streaming them in order
    (aggregation.py) is faster; while they fit, gathering rows from the cached files is."""
    return states_bytes > available_bytes() - budget_bytes
