"""Practitioners' calendar feeds: issued, rotated and revoked by admins; read by a calendar
app at a secret URL, with no other credential."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from app.access.limits import TooManyRequests, count_request
from app.auditing import Access, Actor, AuditTrail, Resource
from app.calendar_feeds import ics, service
from app.calendar_feeds.schemas import CalendarFeedIssued
from app.errors import NotFound
from app.logging import current_request_id
from app.roles import Permission
from app.web.access import AuditDep, requires
from app.web.clock import Now
from app.web.db import Db
from app.web.params import holds_secret, sends, set_etag
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1/practitioners", tags=["practitioners"], route_class=ApiRoute)
# Open to whoever holds a feed's URL: the token in the path is the credential.
feed_router = APIRouter(prefix="/api/v1", tags=["practitioners"], route_class=ApiRoute)

_FEED_MEDIA_TYPE = "text/calendar"
_EXAMPLE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//sclerosched//Practitioner calendar feed//EN\r\n"
    "CALSCALE:GREGORIAN\r\nNAME:Dr Amélie Laurent\r\nX-WR-CALNAME:Dr Amélie Laurent\r\n"
    "REFRESH-INTERVAL;VALUE=DURATION:PT15M\r\nX-PUBLISHED-TTL;VALUE=DURATION:PT15M\r\n"
    "BEGIN:VEVENT\r\nSUMMARY:Session: C.D.\r\nDTSTART:20270111T083000Z\r\n"
    "DTEND:20270111T091500Z\r\nDTSTAMP:20261202T101500Z\r\n"
    "UID:0d9c5a62-3b8e-4f4a-9c1d-7e2b6a5f4c31@sclerosched\r\nSEQUENCE:1\r\n"
    "CREATED:20261201T090000Z\r\nLAST-MODIFIED:20261202T101500Z\r\nSTATUS:CONFIRMED\r\n"
    "TRANSP:OPAQUE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@router.post(
    "/{practitioner_id}/calendar-feed",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a practitioner's calendar feed",
    dependencies=[requires(Permission.CALENDAR_FEEDS_MANAGE)],
    responses=problem_responses(NotFound),
    response_description="The feed's secret URL and token, shown this once",
    openapi_extra=holds_secret(),
)
def issue_calendar_feed(
    practitioner_id: uuid.UUID, request: Request, db: Db, audit: AuditDep
) -> CalendarFeedIssued:
    """A secret URL a calendar app subscribes to: the practitioner's sessions from 30 days
    back to 180 days ahead (README, *Calendar feeds*). Calling it again rotates the feed: the
    new URL works, the old one is 404 from now on. The token is in this answer only; the
    service keeps a hash, and the answer is never kept for a retry (no `Idempotency-Key`)."""
    issued = service.issue_feed(db=db, practitioner_id=practitioner_id, now=datetime.now(UTC))
    audit.record(
        "issue-calendar-feed",
        Resource.PRACTITIONER,
        practitioner_id,
        patient_id=None,
        detail="replaced the feed before it" if issued.replaced else None,
    )
    url = str(request.url_for("read_calendar_feed", token=issued.token))
    return CalendarFeedIssued(url=url, token=issued.token)


@router.delete(
    "/{practitioner_id}/calendar-feed",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a practitioner's calendar feed",
    dependencies=[requires(Permission.CALENDAR_FEEDS_MANAGE)],
    responses=problem_responses(NotFound),
    response_description="The feed is revoked (or there was none)",
)
def revoke_calendar_feed(practitioner_id: uuid.UUID, db: Db, audit: AuditDep) -> None:
    """The feed's URL is 404 from now on. Revoking a practitioner with no feed is harmless."""
    revoked = service.revoke_feed(db=db, practitioner_id=practitioner_id, now=datetime.now(UTC))
    audit.record(
        "revoke-calendar-feed",
        Resource.PRACTITIONER,
        practitioner_id,
        patient_id=None,
        detail=None if revoked else "no feed was live",
    )


@feed_router.get(
    "/calendar/{token}.ics",
    summary="Read a calendar feed",
    response_class=Response,
    responses={
        200: {
            "description": "The practitioner's sessions as an iCalendar object (RFC 5545)",
            "content": {_FEED_MEDIA_TYPE: {"schema": {"type": "string"}, "example": _EXAMPLE}},
        },
        **problem_responses(NotFound, TooManyRequests),
    },
    openapi_extra=sends("ETag"),
)
def read_calendar_feed(
    token: Annotated[str, Path(description="The feed's secret token, as issued")],
    request: Request,
    db: Db,
    policy: Policy,
    now: Now,
) -> Response:
    """The practitioner's sessions from 30 days back to 180 days ahead, one `VEVENT` each
    (README, *Calendar feeds*): no credential but the URL. A token never issued, replaced or
    revoked is 404 `not-found`. Send the `ETag` back as `If-None-Match`: 304 while nothing
    changed. Every read is in the audit trail, its actor the feed."""
    feed = service.open_feed(db=db, token=token)
    per_minute: int = request.app.state.requests_per_minute
    if per_minute:  # a feed is counted as a credential is
        count_request(db=db, caller_id=feed.feed_id, now=datetime.now(UTC), per_minute=per_minute)
    entries = service.feed_entries(db=db, practitioner_id=feed.practitioner_id, now=now)
    actor = Actor(
        kind="calendar-feed",
        id=feed.feed_id,
        name=f"calendar feed of {feed.practitioner_name}",
        role=None,
        request_id=current_request_id(),
    )
    trail = AuditTrail(db, actor)
    if entries:  # one `list` event naming every session shown and its patient
        trail.record_list(Resource.SESSION, [Access(e.session_id, e.patient_id) for e in entries])
    else:  # nothing shown, still a read: who polls is on record
        trail.record(
            "read-calendar-feed", Resource.PRACTITIONER, feed.practitioner_id, patient_id=None
        )
    body = ics.feed_calendar(
        name=feed.practitioner_name, entries=entries, full_names=policy.calendar_full_names
    )
    response = Response(content=body, media_type=_FEED_MEDIA_TYPE)
    set_etag(response, len(entries))  # the number of events, then a digest of the feed
    return response
