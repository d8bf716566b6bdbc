"""Serving the HTTP API with uvicorn, with deadlines against slow clients.

uvicorn bounds the idle time between requests (`timeout_keep_alive`) but not the time a
client takes to send a request's headers: a client trickling one header byte a second holds
a connection forever (slowloris). `deadline_protocol` gives each request `header_seconds`
from the first byte it may send to the end of its headers; past that the server answers
408 and closes. The body has its own deadline in the API (`http.body_seconds`), where the
request is known and the refusal can be a proper JSON error.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.core.config import Config

TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 36\r\n"
    b"connection: close\r\n\r\nrequest headers not received in time"
)


def deadline_protocol(header_seconds: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol whose requests must send their headers within
    `header_seconds`. httptools (llhttp, C) rather than h11 (pure Python): parsing was a
    tenth of an HTTP process's time under load (issue 15)."""

    class DeadlineHttpToolsProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._disarm()  # the headers are in: the request is running

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # The next request on this connection gets its own deadline — unless it is
            # already running (pipelined: its headers came before this response ended).
            if not self.transport.is_closing() and self.cycle.response_complete:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(header_seconds, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.write(TIMEOUT_RESPONSE)
                self.transport.close()

    return DeadlineHttpToolsProtocol


def uvicorn_options(config: Config) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run/uvicorn.Config that apply the configured limits."""
    http = config.http
    return {
        "host": http.host,
        "port": http.port,
        "http": deadline_protocol(http.header_seconds),
        # uvloop (libuv) rather than asyncio's own loop: less CPU per request (issue 15)
        "loop": "uvloop",
        "timeout_keep_alive": max(1, int(http.keep_alive_seconds)),
        "log_level": "warning",
    }
