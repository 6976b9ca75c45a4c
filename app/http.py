"""HTTP details shared by the routers: ETag / If-Match for optimistic concurrency, and the
no-store rule for API answers."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ETAG = re.compile(r'^(?:W/)?"(\d{1,9})"$')


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'W/"{version}"'


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            pattern=r'^(\*|(W/)?"\d{1,9}")$',
            description='The `ETag` of the version you read, e.g. `W/"3"`; '
            "the update is refused with 412 if the record has changed since.",
        ),
    ] = None,
) -> int | None:
    match = _ETAG.match(if_match or "")
    return int(match.group(1)) if match else None  # None: no header, or "*" (any version)


ExpectedVersion = Annotated[int | None, Depends(expected_version)]


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
