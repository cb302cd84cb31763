"""How the project's command-line processes end.

A process that read Parquet with Arrow's thread pool aborted now and then as the interpreter
shut down (`terminate called without an active exception`, exit 134: about 1 run in 40 after a
refused graph source, measured), when C++ static destructors ran beside the pool's threads. A
command has said and written everything by the time it returns its exit code, so the process
ends there: output flushed, logging shut down, then os._exit, which skips those destructors.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable


def exit_process(code: int) -> None:
    """Flush what the command said and end the process with code, without C++ teardown."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    logging.shutdown()
    os._exit(code)


def run_and_exit(main: Callable[[], int]) -> None:
    """A command's main(), then exit_process with its code (argparse's SystemExit included)."""
    try:
        code = main()
    except SystemExit as stop:  # argparse's usage errors and --help
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    exit_process(code)
