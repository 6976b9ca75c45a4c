"""Logging without health data: request ids on every record, an access log without query
strings, and tracebacks without exception messages (which may quote stored values)."""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from contextvars import ContextVar, Token
from types import TracebackType

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


def client_request_id(sent: str) -> str:
    """The request id: the client's own, if short and plain (tracing across systems), else a
    new one."""
    return sent if _CLIENT_ID.match(sent) else uuid.uuid4().hex


def bind_request_id(request_id: str) -> Token[str]:
    """Every record logged in this context carries `request_id` (undo with `unbind`)."""
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str]) -> None:
    _request_id.reset(token)
