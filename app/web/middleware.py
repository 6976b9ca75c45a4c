"""The ASGI middleware around every request, in one pure-ASGI layer: the request id and the
access log, no caching of API answers, and a problem+json answer for an unexpected failure."""

from __future__ import annotations

import time

from fastapi.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import access_logger, bind_request_id, client_request_id, unbind_request_id
from app.web.problems import unexpected_failure

_REQUEST_ID = b"x-request-id"
_CACHE_CONTROL = b"cache-control"
_SET_BY_US = frozenset({_REQUEST_ID, _CACHE_CONTROL})


class ApiMiddleware:
    """- Assigns the request id, adds it to every response, and writes the access log line
      (method, path, status, time: never the query string).
    - `Cache-Control: no-store` on every API answer: they carry patient data or credentials,
      which no browser or proxy may keep.
    - Turns an exception no handler knows into a 500 problem, logged once with the request id,
      with the headers above; it answers instead of re-raising, so the connection stays
      usable.
    - Answers HEAD on every GET route (load balancers probe with it): the GET's status and
      headers, no body.
    - Bounds request bodies: a body over `max_body_bytes` is refused with a 413 problem as soon
      as it is known to be (its declared length, or the bytes streamed so far), never read
      whole. Nothing reads a body before the caller is known (`app.web.routes.ApiRoute`)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent_id = next((v for k, v in scope["headers"] if k == _REQUEST_ID), b"")
        request_id = client_request_id(sent_id.decode("latin-1"))
        scope.setdefault("state", {})["request_id"] = request_id
        token = bind_request_id(request_id)
        ours = [(_REQUEST_ID, request_id.encode("latin-1"))]
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        if scope["path"].startswith("/api/"):
            ours.append((_CACHE_CONTROL, b"no-store"))

        began = time.perf_counter()
        status = 500  # if the app fails before answering
        answering = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, answering
            if message["type"] == "http.response.start":
                status, answering = message["status"], True
                headers = message.get("headers", [])
                message["headers"] = [h for h in headers if h[0].lower() not in _SET_BY_US] + ours
                if status == 405:  # what a GET route allows, HEAD is allowed too
                    message["headers"] = [_with_head(h) for h in message["headers"]]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            try:
                await self.app(scope, self._bounded(scope, receive), send_with_headers)
            except ClientDisconnect:  # the client left mid-request: nobody to answer
                status = _CLIENT_CLOSED
            except Exception as exc:
                if answering:  # too late for a problem response: the client sees a cut answer
                    raise
                await unexpected_failure(Request(scope), exc)(scope, receive, send_with_headers)
        finally:
            access_logger.info(
                "%s %s %d %.1fms",
                "HEAD" if head else scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - began) * 1000,
            )
            unbind_request_id(token)

    def _bounded(self, scope: Scope, receive: Receive) -> Receive:
        length = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        declared = int(length) if length.isdigit() else None
        limit, streamed = self.max_body_bytes, 0

        async def receive_at_most() -> Message:
            nonlocal streamed
            if declared is not None and declared > limit:
                raise _too_large(limit)  # before reading a byte of it
            message = await receive()
            if message["type"] == "http.request":
                streamed += len(message.get("body", b""))
                if streamed > limit:
                    raise _too_large(limit)
            return message

        return receive_at_most


# What the access log says of a request whose client went away before its answer (nginx's
# convention: no status was sent).
_CLIENT_CLOSED = 499


def _too_large(limit: int) -> HTTPException:
    # The rest of the body is never read: the connection closes with the answer.
    return HTTPException(
        413, f"The request body is over the {limit} bytes accepted.", {"Connection": "close"}
    )


def _with_head(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    name, value = header
    if name.lower() != b"allow" or b"GET" not in value or b"HEAD" in value:
        return header
    return name, value.replace(b"GET", b"GET, HEAD", 1)
