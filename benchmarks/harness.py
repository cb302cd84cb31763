"""What every benchmark shares: the deployment in a work folder, frozen jobs of its task
configs, and children (`python -m benchmarks.bench _<name> ...`) whose peak memory is their own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MAIN_TASK = "bench_task.yaml"  # the sampled 2-layer GraphSAGE task every measurement starts from


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def deployment(workdir: Path, task_file: str = MAIN_TASK):
    from gnn_assets.config.resource_config import load_resource_config
    from gnn_assets.config.task_config import load_task_config

    return load_resource_config(str(workdir / "resources.yaml")), load_task_config(str(workdir / task_file))


def frozen_job(workdir: Path, job: str, task_file: str = MAIN_TASK):
    """(resources, the task's config frozen for job and written)."""
    from gnn_assets.config.task_config import freeze_task_config, write_frozen_config

    resources, template = deployment(workdir, task_file)
    frozen = freeze_task_config(template, resources, job)
    write_frozen_config(frozen)
    return resources, frozen


def run_child(args: list[str], cgroup: "MemoryCap | None" = None) -> tuple[dict, float]:
    """Run `python -m benchmarks.bench <args>` (inside cgroup, if given, from its first
    instruction); returns its JSON output and its peak RSS in MB."""
    process = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", *args],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
        check=False,
        preexec_fn=cgroup.enter if cgroup is not None else None,
    )
    if process.returncode != 0:
        raise RuntimeError(f"benchmark child {args[0]} failed with status {process.returncode}")
    output = json.loads(process.stdout)
    return output, output.pop("peak_rss_mb")


_CGROUP_ROOT = Path("/sys/fs/cgroup/memory")


class MemoryCap:
    """A memory cgroup (v1) of its own for one child: its limit caps the child's memory, page
    cache included (the kernel reclaims cache before it kills), and its peak usage is what the
    child needed, memory-mapped pages included, which peak RSS hides. Needs root and cgroup v1
    (README, Scale-out steps); available() says whether this machine has them."""

    def __init__(self, name: str, limit_mb: int):
        self.path = _CGROUP_ROOT / name
        self.path.mkdir()
        (self.path / "memory.limit_in_bytes").write_text(str(limit_mb << 20))

    @staticmethod
    def available() -> bool:
        """Whether a cgroup can be made, limited and removed here (tried, not guessed: a
        container may show a cgroup v1 tree it cannot write)."""
        import contextlib
        import os

        probe = _CGROUP_ROOT / f"gnn-bench-probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            return False
        try:
            (probe / "memory.limit_in_bytes").write_text(str(1 << 30))
            return (probe / "memory.max_usage_in_bytes").exists()
        except OSError:
            return False
        finally:
            with contextlib.suppress(OSError):
                probe.rmdir()

    def enter(self) -> None:
        """In the child, before it runs python: join the cgroup."""
        import os

        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def peak_mb(self) -> float:
        return int((self.path / "memory.max_usage_in_bytes").read_text()) / 2**20

    def close(self) -> None:
        self.path.rmdir()  # its processes have exited; the kernel moves the charges up


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status: memory is measured on Linux only")


def own_peak_rss_mb() -> float:
    """This process's peak RSS since it started its program. Not getrusage's ru_maxrss: that
    keeps the high-water mark from before exec, i.e. the parent's whole memory at fork time."""
    return _status_mb("VmHWM")


def own_rss_mb() -> float:
    """This process's resident memory now."""
    return _status_mb("VmRSS")


def own_anonymous_rss_mb() -> float:
    """This process's resident anonymous memory now: what it allocated, without the pages of
    files it maps (libraries, memory-mapped arrays), which the kernel can drop and re-read."""
    return _status_mb("RssAnon")


class AnonymousPeak:
    """The largest anonymous RSS seen while the block runs, polled every millisecond (the
    kernel keeps a high-water mark only for the whole RSS)."""

    def __enter__(self) -> "AnonymousPeak":
        import threading

        self.baseline_mb = own_anonymous_rss_mb()
        self.peak_mb = self.baseline_mb
        self._running = True
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        import time

        while self._running:
            self.peak_mb = max(self.peak_mb, own_anonymous_rss_mb())
            time.sleep(0.001)

    def __exit__(self, *exc) -> None:
        self._running = False
        self._thread.join()


def sampled_job(workdir: Path, job: str, count: int, *, cycle: int, task_file: str = MAIN_TASK):
    """A job with `count` samples (see child_sample_repeated) and an untrained model; its frozen
    config and the sampler's seconds."""
    from gnn_assets.inference.task_specs import write_untrained_model

    frozen = frozen_job(workdir, job, task_file)[1]
    write_untrained_model(frozen, seed=0)
    sampled, _ = run_child(["_sample_repeated", str(workdir), job, str(count), str(cycle), task_file])
    return frozen, sampled["seconds"]
