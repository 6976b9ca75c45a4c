"""The ASGI middleware around every request, in one pure-ASGI layer: the request id and the
access log, no caching of API answers, and a problem+json answer for an unexpected failure."""

from __future__ import annotations

import time

from starlette.requests import Request
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
      usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent_id = next((v for k, v in scope["headers"] if k == _REQUEST_ID), b"")
        request_id = client_request_id(sent_id.decode("latin-1"))
        scope.setdefault("state", {})["request_id"] = request_id
        token = bind_request_id(request_id)
        ours = [(_REQUEST_ID, request_id.encode("latin-1"))]
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
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception as exc:
                if answering:  # too late for a problem response: the client sees a cut answer
                    raise
                await unexpected_failure(Request(scope), exc)(scope, receive, send_with_headers)
        finally:
            access_logger.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - began) * 1000,
            )
            unbind_request_id(token)
