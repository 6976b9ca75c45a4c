"""Request details shared by the routers: ETag / If-Match for optimistic concurrency, one value
per single-valued query parameter, and the paging parameters."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from fastapi import Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from app.errors import DomainError, Versions
from app.pagination import CursorSeal

# An entity tag as this server writes them: the record's version and a digest of the answer
# that showed it (`W/"3-1f2e3d4c5b6a7988"`); in `If-Match`, also the version alone (`W/"3"`,
# `3`), as some clients send it; a list (or several header lines) names several.
_TAG = r'(?:W/)?"[0-9]{1,9}(?:-[0-9a-f]{16})?"|[0-9]{1,9}'
IF_MATCH = rf"^\s*(?:\*|(?:{_TAG})(?:\s*,\s*(?:{_TAG}))*)\s*$"
_IF_MATCH = re.compile(IF_MATCH)


def set_etag(response: Response, version: int) -> None:
    """The answer's `ETag`: the record's version, to which `app.web.routes` adds a digest of
    the answer once it is written (`content_tag`)."""
    response.headers["ETag"] = f'W/"{version}"'


def content_tag(tag: str, body: bytes) -> str:
    """`W/"3"` for an answer showing version 3 → `W/"3-<digest of the answer>"`. What an answer
    shows can change while the record's version does not (a session that needs review since
    the patient's latest evaluation, a plan's sessions, what a role may see): the tag follows
    what was shown, so a 304 never tells a client that an outdated copy is current."""
    version = tag.removeprefix('W/"').removesuffix('"')
    return f'W/"{version}-{hashlib.blake2b(body, digest_size=8).hexdigest()}"'


def sends(*headers: str) -> dict[str, Any]:
    """A route's `openapi_extra`: its success answer carries these headers (`ETag`,
    `Location`); `app.web.openapi` documents them on that answer."""
    return {"x-sends-headers": list(headers)}


# A route's `openapi_extra` mark: its answer holds a secret shown once (a new API key), so it
# is never kept for a retry (`app.web.routes`) and the route takes no `Idempotency-Key`.
HOLDS_SECRET = "x-answer-holds-secret"  # noqa: S105 (a name, not a secret)


def holds_secret() -> dict[str, Any]:
    return {HOLDS_SECRET: True}


class PreconditionRequired(DomainError):
    status = 428
    code = "precondition-required"
    title = "Send If-Match"


async def expected_version(
    request: Request,
    if_match: Annotated[
        str | None,
        Header(
            pattern=IF_MATCH,
            max_length=1000,
            description='The `ETag` you read, e.g. `W/"3-1f2e3d4c5b6a7988"` (or its version '
            'alone, `W/"3"`; a list names several, any of which will do): the change is refused '
            "with 412 if the record is no longer at that version.",
        ),
    ] = None,
) -> Versions | None:
    """The versions `If-Match` names; None: no header, or `*` (any version)."""
    lines = request.headers.getlist("if-match")
    if not lines or [line.strip() for line in lines] == ["*"]:
        # `*` (any version) says nothing about what the client read: not enough where a
        # version is required.
        if request.app.state.require_if_match:
            raise PreconditionRequired(
                "This server changes a record only for a client that says which version it "
                'read: send the `ETag` you read as `If-Match` (e.g. `W/"3-1f2e3d4c5b6a7988"`), '
                "not `*`."
            )
        return None
    sent = ", ".join(lines)  # several lines are one list (RFC 9110, section 5.3)
    if not _IF_MATCH.match(sent):  # the first line was checked; the others are now
        raise RequestValidationError(
            [
                {
                    "type": "string_pattern_mismatch",
                    "loc": ("header", "if-match"),
                    "msg": "an ETag this server wrote, its version, a list of them, or *",
                    "input": sent,
                }
            ]
        )
    tags = [tag.strip() for tag in sent.split(",")]
    if tags == ["*"]:
        return None
    # W/"3-1f2e…", "3", 3: the digits before any digest.
    return frozenset(int(tag.removeprefix("W/").strip('"').partition("-")[0]) for tag in tags)


def unchanged_since(tag: str, if_none_match: list[str]) -> bool:
    """Whether a conditional GET's `If-None-Match` (its lines) names the answer's `ETag`
    (weakly, as RFC 9110 says for If-None-Match): the client has it already, 304."""
    sent = [each.strip() for line in if_none_match for each in line.split(",")]
    if sent == ["*"]:
        return True
    ours = tag.removeprefix("W/")
    return any(each.removeprefix("W/") == ours for each in sent)


ExpectedVersion = Annotated[Versions | None, Depends(expected_version)]


def one_value_per_query_parameter(request: Request) -> None:
    """A query parameter that takes one value, sent several times, is a 422: the service does
    not guess which one the client meant (by default the last would silently win). Called by
    every API route (`app.web.routes.ApiRoute`) just before it solves the route's
    dependencies, where an app-wide dependency ran: the same order, without a dependency solved
    for nothing on every request (the routes that are not `ApiRoute`s take no query
    parameter)."""
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


@dataclass(frozen=True)
class PageCursor:
    """The `cursor` a list was sent, opened: where its page starts (None: the first page), and
    the next page's cursor sealed for the same list (`app.pagination.CursorSeal`)."""

    after: str | None
    seal: CursorSeal
    list_name: str

    def next_page(self, cursor: str | None) -> str | None:
        """The `next_cursor` a client gets for the cursor a service gave (None: last page)."""
        return None if cursor is None else self.seal.seal(cursor, list_name=self.list_name)


async def page_cursor(
    request: Request,
    cursor: Annotated[
        str | None,
        Query(
            max_length=2048,
            pattern=r"^[A-Za-z0-9_-]*$",
            description="`next_cursor` of the previous page of this list; omit (or send empty) "
            "for the first. Opaque: one changed, or taken from another list, is a 422 "
            "`invalid-cursor`",
        ),
    ] = None,
) -> PageCursor:
    seal: CursorSeal = request.app.state.cursor_seal
    list_name: str = request.scope["route"].path  # a cursor is good for the list it came from
    after = seal.open(cursor, list_name=list_name) if cursor else None
    return PageCursor(after, seal, list_name)


Cursor = Annotated[PageCursor, Depends(page_cursor)]
