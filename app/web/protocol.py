"""The HTTP protocol the service is served with: uvicorn's h11, and a deadline for a request's
head. uvicorn waits for a head as long as bytes keep coming, so a client trickling one a byte
at a time would hold its connection for ever, and a few thousand such clients every
connection the server can hold: here a head must arrive whole within `head_seconds` of the
connection opening or of the last answer, else the connection closes."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


class HeadDeadlineProtocol(H11Protocol):
    # Set from SCLEROSCHED_REQUEST_HEAD_SECONDS where the server starts (`app.cli`,
    # `app.main.create_served_app`).
    head_seconds: float = 10.0

    _deadline: asyncio.TimerHandle | None = None
    _waiting_after: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        """From now, the next request's head has `head_seconds` to arrive."""
        if self._deadline is not None:
            self._deadline.cancel()
        self._waiting_after = self.cycle  # a new head makes a new cycle
        self._deadline = self.loop.call_later(self.head_seconds, self._too_slow)

    def _too_slow(self) -> None:
        if self.cycle is self._waiting_after and not self.transport.is_closing():
            self.transport.close()
