"""Servers the tests start (emulators, the Dagster webserver): own process group, default signal
handling, a start-up wait that tolerates a loaded machine, and a hard kill when they do not stop.

`make test &` (as CI may run it) starts pytest with SIGINT ignored; Dagster makes SIGTERM copy
SIGINT's disposition, and ignored signals are inherited through exec, so a server started
plainly would ignore terminate() and outlive the tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from tests.support import REPO

START_TIMEOUT = 180.0  # a cold start on a busy 2-core machine took over 10 s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _ready(port: int, url: str | None) -> bool:
    try:
        if url:
            urllib.request.urlopen(url, timeout=2).close()
        else:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def start_server(
    command: list[str],
    port: int,
    log: Path,
    env: dict | None = None,
    *,
    ready_url: str | None = None,
    cwd: str | Path | None = None,
    timeout: float = START_TIMEOUT,
) -> subprocess.Popen:
    """Start a server whose output goes to a log file (a pipe nobody reads would fill up and
    block it) and wait until it accepts connections on port (or answers ready_url)."""
    with open(log, "w") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
    deadline = time.monotonic() + timeout
    while not _ready(port, ready_url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(process)
            raise RuntimeError(f"{command[0]} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    return process


def stop_server(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the server's whole process group; SIGKILL if it is still there after grace."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
    except ProcessLookupError:
        process.wait(timeout=grace)


@contextlib.contextmanager
def dagster_webserver(env: dict, log: Path, project: Path = REPO, module: str = "gnn_assets.definitions") -> Iterator[str]:
    """dagster-webserver on loopback for the code location `module` of the project at `project`
    (by default this one), with the deployment's environment; yields its URL once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(
        [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port), "-m", module],
        port,
        log,
        env=env,
        ready_url=f"{url}/server_info",
        cwd=project,
    )
    try:
        yield url
    finally:
        stop_server(process, grace=30)
