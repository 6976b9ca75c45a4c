"""Logging without health data: request ids on every record, an access log without query
strings, tracebacks without exception messages (which may quote stored values), and every
record one line as it was sent: what a client chose (a path, a username) cannot forge a line
or turn one around."""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from contextvars import ContextVar, Token
from types import TracebackType

REQUEST_ID_HEADER = "X-Request-ID"
# A client's own request id, sent back under this name (the server's own is X-Request-ID).
CLIENT_REQUEST_ID_HEADER = "X-Client-Request-ID"
_request_id: ContextVar[str] = ContextVar("request_id", default="-")
# A client may pass its own id (for tracing across systems) if it is short and plain.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


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


def escaped(text: str) -> str:
    """`text` with every character that is not printable written as its escape (`\\n`,
    `\\x1b`, `\\u202e`): control characters such as CR and LF, format characters such as the
    right-to-left override, line separators. Linear, and free for the usual plain text."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class PhiSafeFormatter(logging.Formatter):
    """Prints where an exception came from (its type and the stack) but not its message:
    a database error's text, a validation error's input, may hold a patient's name.

    The record's line (time, level, logger, request id and message, whoever logged it: this
    service, uvicorn) is escaped (`escaped`): a `%0a` in a path cannot start a line of its
    own. The traceback that may follow keeps its lines: it holds only code."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's API
        return escaped(super().formatMessage(record))

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


# A calendar feed's path is its credential (the token in it, `app.calendar_feeds`): logged
# without it, wherever in a path it stands (a doubled slash, a wrong case, `..` tricks) and
# whatever a client made of it: any run of the token's alphabet as long as a token.
_SECRET_PATH = re.compile(r"^/api/v1/calendar/[^/]*")
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{40,}")


def logged_path(path: str) -> str:
    """The path as the logs may show it: a calendar feed's token (or anything as long that
    could be one) masked."""
    return _TOKEN_LIKE.sub("<token>", _SECRET_PATH.sub("/api/v1/calendar/<token>", path, count=1))


def new_request_id() -> str:
    """The server's own id for a request: never the client's, so that one id names one
    request in the logs and the audit trail."""
    return uuid.uuid4().hex


def client_request_id(sent: str) -> str | None:
    """The client's own request id (tracing across systems), if short and plain; None for
    anything else (it is then dropped, not logged)."""
    return sent if _CLIENT_ID.fullmatch(sent) else None


def bind_request_id(request_id: str) -> Token[str]:
    """Every record logged in this context carries `request_id` (undo with `unbind`)."""
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str]) -> None:
    _request_id.reset(token)
