"""Request details shared by the routers: ETag / If-Match for optimistic concurrency, one value
per single-valued query parameter, and the paging parameters."""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Any, get_args, get_origin

from fastapi import Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from app.errors import DomainError

# An entity tag as this server writes them (`W/"3"`), or the bare version some clients send.
_ETAG = re.compile(r'^(?:W/)?("?)(\d{1,9})\1$')


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'W/"{version}"'


def sends(*headers: str) -> dict[str, Any]:
    """A route's `openapi_extra`: its success answer carries these headers (`ETag`,
    `Location`); `app.web.openapi` documents them on that answer."""
    return {"x-sends-headers": list(headers)}


class PreconditionRequired(DomainError):
    status = 428
    code = "precondition-required"
    title = "Send If-Match"


async def expected_version(
    request: Request,
    if_match: Annotated[
        str | None,
        Header(
            pattern=r'^(\*|(W/)?"\d{1,9}"|\d{1,9})$',
            description='The `ETag` of the version you read, e.g. `W/"3"`; '
            "the update is refused with 412 if the record has changed since.",
        ),
    ] = None,
) -> int | None:
    if if_match is None and request.app.state.require_if_match:
        raise PreconditionRequired(
            "This server changes a record only for a client that says which version it read: "
            'send the `ETag` you read as `If-Match` (e.g. `W/"3"`).'
        )
    match = _ETAG.match(if_match or "")
    return int(match.group(2)) if match else None  # None: no header, or "*" (any version)


def unchanged_since(tag: str, if_none_match: str | None) -> bool:
    """Whether a conditional GET's `If-None-Match` names the answer's `ETag` (weakly, as
    RFC 9110 says for If-None-Match): the client has it already, 304."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    ours = tag.removeprefix("W/")
    return any(sent.strip().removeprefix("W/") == ours for sent in if_none_match.split(","))


ExpectedVersion = Annotated[int | None, Depends(expected_version)]


async def one_value_per_query_parameter(request: Request) -> None:
    """A query parameter that takes one value, sent several times, is a 422: the service does
    not guess which one the client meant (by default the last would silently win). Async: it
    runs on every request and does no I/O, so it needs no worker thread."""
    if b"&" not in request.scope["query_string"]:
        return  # one parameter at most: none repeated
    keys = [key for key, _ in request.query_params.multi_items()]
    if len(keys) == len(set(keys)):
        return
    repeated = {key for key, times in Counter(keys).items() if times > 1}  # linear: no count()
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


Limit = Annotated[int, Query(ge=1, le=200, description="Page size (1 to 200)")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="`next_cursor` of the previous page; omit for the first",
    ),
]
