"""Uvicorn's HTTP protocol with a deadline for reading a request.

Uvicorn closes idle keep-alive connections but waits for ever on a client that sends its
headers or body a byte at a time: twenty such sockets hold twenty connections open. Here every
request must arrive whole (headers and body) within a deadline counted from its first byte (or
from the connection, for a client that sends nothing); a late one is cut off.
"""

from __future__ import annotations

import asyncio
import logging
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

READ_SECONDS_ENV = "GNN_SERVE_REQUEST_READ_SECONDS"
_log = logging.getLogger("gnn_assets.serving")


class DeadlineHttpProtocol(HttpToolsProtocol):
    """The deadline comes from the environment serve() sets (uvicorn builds the protocol itself)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.read_seconds = float(os.environ.get(READ_SECONDS_ENV, "10"))
        self._read_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        if self._read_deadline is None:
            self._read_deadline = self.loop.call_later(self.read_seconds, self._cut_off)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _cut_off(self) -> None:
        self._read_deadline = None
        if not self.transport.is_closing():
            _log.warning("closing a connection from %s: no whole request within %g s", self.client, self.read_seconds)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._arm()  # a new request's first bytes (the deadline of one in progress keeps running)
        super().data_received(data)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
