"""ETag / If-Match: optimistic concurrency for updates, shared by the routers."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Response

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
