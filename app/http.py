"""HTTP details shared by the routers: ETag / If-Match for optimistic concurrency, one value
per single-valued query parameter, and the no-store rule for API answers."""

from __future__ import annotations

import re
from typing import Annotated, get_args, get_origin

from fastapi import Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
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


async def one_value_per_query_parameter(request: Request) -> None:
    """A query parameter that takes one value, sent several times, is a 422: the service does
    not guess which one the client meant (by default the last would silently win). Async: it
    runs on every request and does no I/O, so it needs no worker thread."""
    keys = [key for key, _ in request.query_params.multi_items()]
    if len(keys) == len(set(keys)):
        return
    repeated = {key for key in keys if keys.count(key) > 1}
    refused = sorted(repeated & _single_valued(request.scope.get("route")))
    if refused:
        raise RequestValidationError(
            [
                {
                    "type": "repeated_value",
                    "loc": ("query", key),
                    "msg": "takes one value: send it once",
                    "input": request.query_params.getlist(key),
                }
                for key in refused
            ]
        )


def _single_valued(route: object) -> frozenset[str]:
    """The query parameters a route (with its dependencies) declares, but for lists."""
    key = (getattr(route, "path", ""), tuple(sorted(getattr(route, "methods", None) or ())))
    if key not in _SINGLE_VALUED:
        found: set[str] = set()
        stack = [getattr(route, "dependant", None)]
        while stack:
            dependant = stack.pop()
            if dependant is not None:
                found |= {
                    q.alias for q in dependant.query_params if not _is_list(q.field_info.annotation)
                }
                stack.extend(dependant.dependencies)
        _SINGLE_VALUED[key] = frozenset(found)
    return _SINGLE_VALUED[key]


# Per route (path and methods), worked out on its first request with a repeated parameter.
_SINGLE_VALUED: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}


def _is_list(annotation: object) -> bool:
    if get_origin(annotation) in {list, tuple, set, frozenset}:
        return True
    return any(_is_list(argument) for argument in get_args(annotation))


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
