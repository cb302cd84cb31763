"""Test servers stop when asked, even when the tests run with SIGINT ignored (`make test &`)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from tests.support import REPO

_SCRIPT = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    # As under `make test &`: SIGINT ignored, and Dagster makes SIGTERM copy SIGINT's disposition.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from tests.support.servers import free_port, start_server, stop_server
    port = free_port()
    server = start_server([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], port, Path(sys.argv[1]))
    stop_server(server, grace=5)
    print(server.returncode)
    """
)


def test_a_server_started_with_signals_ignored_still_stops_on_sigterm(tmp_path):
    """Before: the server inherited 'ignore SIGTERM', terminate() did nothing and it never stopped."""
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "server.log")], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip()) == -signal.SIGTERM  # stopped by SIGTERM itself, not killed after the grace period
