"""Searchset Bundles: the resources a search matched, a page at a time, with the links that
page through the rest (the REST API's sealed cursors) and a total when it costs nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.fhir.datatypes import instant


@dataclass(frozen=True)
class Page:
    """One page of a search's matches, as the resources they map to, and the cursor of the
    page after it (None: the last)."""

    resources: Sequence[dict[str, Any]]
    next_cursor: str | None
    # Whether this page is the whole result (the first page, and no next): the total is then
    # known without counting anything.
    first: bool


def searchset(
    page: Page, *, base_url: str, self_url: str, next_url: str | None, now: datetime
) -> dict[str, Any]:
    """The Bundle for a page of matches. `base_url`: the interface's absolute base (each
    entry's `fullUrl` is the resource's absolute URL under it)."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant(now)},
        "type": "searchset",
    }
    if page.first and page.next_cursor is None:
        bundle["total"] = len(page.resources)
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    bundle["link"] = links
    bundle["entry"] = [
        {
            "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
            "resource": resource,
            "search": {"mode": "match"},
        }
        for resource in page.resources
    ]
    return bundle
