"""How fast the commands answer what needs no model: `--help` of every command and a refused
config, each a fresh process, against `python -c pass` (the interpreter's own start-up) measured
beside them, median of ROUNDS runs each:

- cli_seconds_beyond_startup: the slowest command's median seconds minus `python -c pass`'s
  (goal: under a second of work that is not interpreter start-up);
- cli_vs_bare_python: that command's median ÷ `python -c pass`'s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = 5
_CLI = [sys.executable, "-m", "gnn_assets.cli"]
_HELP = ["demo-graph", "enumerate", "apply-changes", "sample", "train", "init-model", "serve"]


def _commands(bad_config: str, resources: str) -> dict[str, list[str]]:
    refusal = ["--resource_config_uri", resources, "--task_config_uri", bad_config, "--job_name", "j"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "gnn-assets --help": [*_CLI, "--help"],
        **{f"gnn-assets {name} --help": [*_CLI, name, "--help"] for name in _HELP},
        "python -m gnn_assets.inference --help": [sys.executable, "-m", "gnn_assets.inference", "--help"],
        "gnn-assets sample (a refused config)": [*_CLI, "sample", *refusal],
        "python -m gnn_assets.inference (a refused config)": [sys.executable, "-m", "gnn_assets.inference", *refusal],
    }


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=Path(__file__).parent.parent)
    return time.perf_counter() - started


def measure(rounds: int = ROUNDS) -> dict:
    with tempfile.TemporaryDirectory(prefix="gnn-bench-cli-") as tmp:
        bad = Path(tmp) / "task.yaml"
        bad.write_text("gnnAssetsConfig:\n  taskName: Not A Name\n")
        commands = _commands(str(bad), str(Path(__file__).parent.parent / "resources" / "local.yaml"))
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):  # interleaved: a slow spell of the machine hits every command alike
            for name, command in commands.items():
                times[name].append(_seconds(command))
    medians = {name: statistics.median(t) for name, t in times.items()}
    bare = medians.pop("python -c pass")
    slowest = max(medians, key=medians.get)
    return {
        "metrics": {"cli_seconds_beyond_startup": medians[slowest] - bare, "cli_vs_bare_python": medians[slowest] / bare},
        "measurements": {"python_c_pass_seconds": bare, "slowest": slowest, "median_seconds": medians},
    }
