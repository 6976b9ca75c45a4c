"""The HTTP protocol the service is served with: uvicorn's httptools (llhttp, in C: a request's
head costs a fraction of what h11's pure-Python parser takes), with a bound on a request's head
and deadlines for its head and body.

- The bound: httptools gathers a head of any size, and gathers it by concatenation (a cost
  growing with its square: 30 MB held the event loop 2.6 s). A head still incomplete past
  `max_head_bytes` is refused with a 400 and its connection closed, unread: nothing unbounded
  happens before the app's own bounds (`app.web.middleware`).
- The deadlines: uvicorn waits for either as long as the connection stays open, so a client
  trickling one a byte at a time (or stalling) would hold its connection for ever, and a few
  thousand such clients every connection the server can hold: here a head must arrive whole
  within `head_seconds` of the connection opening or of the last answer, and its body within
  `body_seconds` of the head, else the connection closes.
- What is not HTTP (a garbage request line, a header without a colon, a TLS hello, a head over
  the bound) is refused as every other refusal is: a 400 `application/problem+json` with a
  stable code, then the connection closes. uvicorn's own answer is plain text."""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.web.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

# The largest request head (request line and headers) gathered; the app refuses less.
MAX_REQUEST_HEAD_BYTES = 64 * 1024


class HeadDeadlineProtocol(HttpToolsProtocol):
    # Set from SCLEROSCHED_REQUEST_HEAD_SECONDS where the server starts (`app.cli`,
    # `app.main.create_served_app`).
    head_seconds: float = 10.0
    body_seconds: float = 30.0
    max_head_bytes: int = MAX_REQUEST_HEAD_BYTES

    _deadline: asyncio.TimerHandle | None = None
    _waiting_after: object = None
    _body_deadline: asyncio.TimerHandle | None = None
    _timed: object = None  # the request whose body is on the clock
    # The head being read: the bytes of it received so far (at least), whether it began, or a
    # message ended, in the data being parsed now.
    _in_head = False
    _head_bytes = 0
    _begun_now = False
    _ended_now = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._begun_now, self._head_bytes = True, True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._ended_now = True
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        self._begun_now = self._ended_now = False
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            # Data that began the head holds nothing else, unless a message ended in it
            # before (pipelining): then the head's share of it is unknown, and not counted.
            if not (self._begun_now and self._ended_now):
                self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(
                    "request-head-too-large",
                    f"The request's head is over the {self.max_head_bytes} bytes accepted.",
                )
                return
        cycle = self.cycle
        if cycle is not None and cycle is not self._timed and cycle.more_body:
            # A new request's head has come: its body is on the clock from now.
            self._timed = cycle
            if self._body_deadline is not None:
                self._body_deadline.cancel()
            self._body_deadline = self.loop.call_later(
                self.body_seconds, self._body_too_slow, cycle
            )

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to what httptools cannot parse (`msg` names the parser's
        complaint, never the request's bytes)."""
        self._refuse(
            "malformed-request",
            "The request is not well-formed HTTP/1.1 (its request line, a header or the "
            "framing of its body); the connection is closed.",
        )

    def _refuse(self, code: str, detail: str) -> None:
        """A 400 problem answer to a request the app never sees, and the connection closed."""
        body = json.dumps(
            {
                "type": PROBLEM_TYPE_BASE + code,
                "title": "Bad Request",
                "status": 400,
                "detail": detail,
                "code": code,
            }
        ).encode()
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(head))
        self.transport.close()

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
