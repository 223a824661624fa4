"""The HTTP protocol the server runs: uvicorn's httptools protocol with a deadline for request headers.

uvicorn closes a keep-alive connection that stays idle between requests, but not one that opens and
then sends its request line and headers slowly, or not at all: 200 such connections (slowloris) would
be held for ever. Here every request must complete its headers within ``HEADER_TIMEOUT`` seconds of
the connection opening or of its first byte; else the connection is closed. Bodies have their own
deadline (``handling.read_body``), and ``--max-connections`` caps how many connections are served at once.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HEADER_TIMEOUT", "GuardedHttpToolsProtocol"]

HEADER_TIMEOUT = 10.0


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout = HEADER_TIMEOUT
    _header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # nothing sent at all counts too

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # each request of a keep-alive connection gets its own deadline

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
