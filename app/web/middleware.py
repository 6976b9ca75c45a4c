"""The ASGI middleware around every request: the request id and the access log, no caching of
API answers, and a problem+json answer for an unexpected failure. Pure ASGI: no per-request
objects beyond what each needs."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import access_logger, bind_request_id, client_request_id, unbind_request_id
from app.web.problems import unexpected_failure


class RequestIdMiddleware:
    """Assigns the request id, adds it to every response, and writes the access log line
    (method, path, status, time: never the query string)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = client_request_id(sent)
        scope.setdefault("state", {})["request_id"] = request_id
        token = bind_request_id(request_id)

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
            unbind_request_id(token)


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every API answer: they carry patient data or credentials,
    which no browser or proxy may keep."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                ]
                headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_no_store)


class UnexpectedErrorMiddleware:
    """Turns an exception no handler knows into a 500 problem, logged once with the request
    id. It sits inside the other middleware (request id, no-store), so the answer gets their
    headers, and it answers instead of re-raising, so the connection stays usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for a problem response: the client sees a cut answer
                raise
            await unexpected_failure(Request(scope), exc)(scope, receive, send)
