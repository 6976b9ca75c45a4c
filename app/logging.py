"""Logging without health data: request ids on every record, an access log without query
strings, and tracebacks without exception messages (which may quote stored values)."""

from __future__ import annotations

import logging
import re
import time
import traceback
import uuid
from contextvars import ContextVar
from types import TracebackType

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_request_id: ContextVar[str] = ContextVar("request_id", default="-")
# A client may pass its own id (for tracing across systems) if it is short and plain.
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # A record logged with an explicit `extra={"request_id": ...}` keeps it.
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


access_logger = logging.getLogger("sclerosched.access")

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class PhiSafeFormatter(logging.Formatter):
    """Prints where an exception came from (its type and the stack) but not its message:
    a database error's text, a validation error's input, may hold a patient's name."""

    def formatException(self, ei: _ExcInfo) -> str:  # noqa: N802 - logging's API
        _, error, _ = ei
        if error is None:
            return ""
        lines: list[str] = []
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            lines[:0] = [
                *traceback.format_tb(current.__traceback__),
                f"{type(current).__module__}.{type(current).__qualname__} (message withheld)\n",
            ]
            current = current.__cause__ or current.__context__
        return ("Traceback (most recent call last):\n" + "".join(lines)).rstrip()


class RequestIdMiddleware:
    """Pure ASGI middleware: assigns the request id, adds it to every response, and writes
    the access log line (method, path, status, time: never the query string)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _CLIENT_ID.match(sent) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = _request_id.set(request_id)

        started = time.perf_counter()
        status = 500  # if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_logger.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )
            _request_id.reset(token)
