"""HTTP helpers shared by the routers: ETag / If-Match for optimistic concurrency."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Response

from app.errors import DomainError

_ETAG = re.compile(r'^(?:W/)?"(\d{1,9})"$')


class InvalidPrecondition(DomainError):
    status = 400
    code = "invalid-if-match"
    title = "Invalid If-Match header"


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'W/"{version}"'


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            description='The `ETag` of the version you read, e.g. `W/"3"`; '
            "the update is refused with 412 if the record has changed since."
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise InvalidPrecondition('If-Match must be an ETag of this service, e.g. W/"3".')
    return int(match.group(1))


ExpectedVersion = Annotated[int | None, Depends(expected_version)]
