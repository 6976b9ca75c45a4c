"""The HTTP protocol the service is served with: uvicorn's h11, and deadlines for a request's
head and body. uvicorn waits for either as long as the connection stays open, so a client
trickling one a byte at a time (or stalling) would hold its connection for ever, and a few
thousand such clients every connection the server can hold: here a head must arrive whole
within `head_seconds` of the connection opening or of the last answer, and its body within
`body_seconds` of the head, else the connection closes."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


class HeadDeadlineProtocol(H11Protocol):
    # Set from SCLEROSCHED_REQUEST_HEAD_SECONDS where the server starts (`app.cli`,
    # `app.main.create_served_app`).
    head_seconds: float = 10.0
    body_seconds: float = 30.0

    _deadline: asyncio.TimerHandle | None = None
    _waiting_after: object = None
    _body_deadline: asyncio.TimerHandle | None = None
    _timed: object = None  # the request whose body is on the clock

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        cycle = self.cycle
        if cycle is not None and cycle is not self._timed and cycle.more_body:
            # A new request's head has come: its body is on the clock from now.
            self._timed = cycle
            if self._body_deadline is not None:
                self._body_deadline.cancel()
            self._body_deadline = self.loop.call_later(
                self.body_seconds, self._body_too_slow, cycle
            )

    def connection_lost(self, exc: Exception | None) -> None:
        for deadline in (self._deadline, self._body_deadline):
            if deadline is not None:
                deadline.cancel()
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

    def _body_too_slow(self, cycle: object) -> None:
        more = getattr(cycle, "more_body", False)
        if self.cycle is cycle and more and not self.transport.is_closing():
            self.transport.close()
