"""Practitioner routes: the clinicians, their weekly hours and their time off."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auditing import Resource
from app.errors import InvalidCursor, NotFound, VersionMismatch
from app.locations.service import UnknownLocation
from app.models import Practitioner
from app.policy import Margins
from app.practitioners import service
from app.practitioners.schemas import (
    PractitionerCreate,
    PractitionerPage,
    PractitionerRead,
    PractitionerUpdate,
    PractitionerUpdated,
    TimeOffCreate,
    TimeOffPage,
    TimeOffRead,
    TimeOffRecorded,
)
from app.roles import Permission
from app.schemas import Instant, with_affected_sessions
from app.web.access import AuditDep, requires
from app.web.clock import Now
from app.web.db import Db, ReadDb
from app.web.params import Cursor, ExpectedVersion, Limit, sends, set_etag
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1/practitioners", tags=["practitioners"], route_class=ApiRoute)


def _read(practitioner: Practitioner, clinic: Margins) -> PractitionerRead:
    """The practitioner as stored, with the buffer and notice that apply to them."""
    read = PractitionerRead.model_validate(practitioner)
    margins = clinic.own(read.buffer_minutes, read.min_notice_minutes)
    return read.model_copy(
        update={
            "effective_buffer_minutes": margins.buffer_minutes,
            "effective_min_notice_minutes": margins.min_notice_minutes,
        }
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add a practitioner",
    dependencies=[requires(Permission.CALENDARS_WRITE)],
    responses=problem_responses(UnknownLocation),
    response_description="The practitioner added",
    openapi_extra=sends("ETag", "Location"),
)
def create_practitioner(
    body: PractitionerCreate,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
) -> PractitionerRead:
    """Add a practitioner with weekly availability at the clinic's locations.

    Availability is wall-clock time on the clock of the interval's location (`location_id`;
    `"09:00"` stays 09:00 across daylight-saving changes); each interval must end after it
    starts, and hours may not meet: at one site on the wall clock, at sites on different
    clocks in real time on any day of the year ahead (a 422 names the day). An interval that
    names no location is at the clinic's first location in the practitioner's `time_zone`
    (made, with one room, if there is none yet); a location that does not exist is a 422
    `unknown-location`. `time_zone` defaults to the clinic's; `buffer_minutes` (kept free
    before and after each of their sessions) and `min_notice_minutes` (no booking starting
    sooner) to the clinic's settings, which `effective_buffer_minutes` and
    `effective_min_notice_minutes` then show.
    """
    practitioner = service.create_practitioner(
        db=db, data=body, default_time_zone=policy.clinic_time_zone
    )
    audit.record("create", Resource.PRACTITIONER, practitioner.id, patient_id=None)
    response.headers["Location"] = f"{router.prefix}/{practitioner.id}"
    set_etag(response, practitioner.version)
    return _read(practitioner, policy.booking.margins)


@router.get(
    "",
    summary="List practitioners",
    dependencies=[requires(Permission.CALENDARS_READ)],
    responses=problem_responses(InvalidCursor),
    response_description="A page of practitioners",
)
def list_practitioners(
    db: ReadDb,
    cursor: Cursor,
    policy: Policy,
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones")] = None,
    limit: Limit = 50,
) -> PractitionerPage:
    """Practitioners ordered by name, a page at a time."""
    items, next_cursor = service.list_practitioners(
        db=db, active=active, limit=limit, cursor=cursor.after
    )
    return PractitionerPage(
        items=[_read(p, policy.booking.margins) for p in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.get(
    "/{practitioner_id}",
    summary="Read a practitioner",
    dependencies=[requires(Permission.CALENDARS_READ)],
    responses=problem_responses(NotFound),
    response_description="The practitioner with their weekly hours",
    openapi_extra=sends("ETag"),
)
def read_practitioner(
    practitioner_id: uuid.UUID, db: ReadDb, policy: Policy, response: Response
) -> PractitionerRead:
    """One practitioner with their weekly availability, buffer and minimum notice."""
    practitioner = service.get_practitioner(db=db, practitioner_id=practitioner_id)
    set_etag(response, practitioner.version)
    return _read(practitioner, policy.booking.margins)


@router.patch(
    "/{practitioner_id}",
    summary="Update a practitioner",
    dependencies=[requires(Permission.CALENDARS_WRITE)],
    responses=problem_responses(NotFound, VersionMismatch, UnknownLocation),
    response_description="The practitioner as changed, with any sessions the change strands",
    openapi_extra=sends("ETag"),
)
def update_practitioner(
    practitioner_id: uuid.UUID,
    body: PractitionerUpdate,
    db: Db,
    audit: AuditDep,
    response: Response,
    if_match: ExpectedVersion,
    now: Now,
    policy: Policy,
) -> PractitionerUpdated:
    """Change the fields sent. `availability`, when sent, replaces the whole weekly schedule
    (an interval that names no location: at the clinic's first location in the
    practitioner's time zone, as changed). A new `time_zone` alone moves no hours: they are
    read on their locations' clocks.

    Send `If-Match` with the `ETag` you read to refuse the change (412) if someone else
    updated the practitioner meanwhile.

    When `active`, `time_zone` or `availability` is sent, `affected_sessions` lists the
    practitioner's upcoming sessions that no longer fit (the practitioner inactive, or the time
    outside their hours at the session's location, or in their time off). They stay booked,
    flagged for review: move them to someone else or cancel them.

    `buffer_minutes` and `min_notice_minutes` sent as null go back to the clinic's settings. A
    change of either applies to bookings from then on: sessions booked already stay.
    """
    updated = service.update_practitioner(
        db=db,
        practitioner_id=practitioner_id,
        changes=body,
        now=now,
        expected_version=if_match,
    )
    practitioner = updated.practitioner
    audit.record("update", Resource.PRACTITIONER, practitioner.id, patient_id=None)
    set_etag(response, practitioner.version)
    read = _read(practitioner, policy.booking.margins)
    return with_affected_sessions(read, PractitionerUpdated, updated.stranded)


@router.post(
    "/{practitioner_id}/time-off",
    status_code=status.HTTP_201_CREATED,
    summary="Record time off",
    dependencies=[requires(Permission.CALENDARS_WRITE)],
    responses=problem_responses(NotFound),
    response_description="The time off recorded, with any sessions it strands",
)
def add_time_off(
    practitioner_id: uuid.UUID, body: TimeOffCreate, db: Db, audit: AuditDep, now: Now
) -> TimeOffRecorded:
    """Record an absence (leave, training, ...). `start` and `end` need an explicit offset;
    no session can be booked with the practitioner in between.

    Sessions already booked with them then are not moved: `affected_sessions` lists them, and
    they stay booked, flagged for review, to be moved or cancelled."""
    absence = service.add_time_off(db=db, practitioner_id=practitioner_id, data=body, now=now)
    audit.record("add-time-off", Resource.PRACTITIONER, practitioner_id, patient_id=None)
    read = TimeOffRead.model_validate(absence.time_off)
    return with_affected_sessions(read, TimeOffRecorded, absence.stranded)


@router.get(
    "/{practitioner_id}/time-off",
    summary="List time off",
    dependencies=[requires(Permission.CALENDARS_READ)],
    responses=problem_responses(NotFound, InvalidCursor),
    response_description="A page of the practitioner's time off",
)
def list_time_off(
    practitioner_id: uuid.UUID,
    db: ReadDb,
    cursor: Cursor,
    from_: Annotated[
        Instant | None, Query(alias="from", description="Only absences ending after this")
    ] = None,
    to: Annotated[Instant | None, Query(description="Only absences starting before this")] = None,
    limit: Limit = 50,
) -> TimeOffPage:
    """The practitioner's absences, ordered by start, optionally within [`from`, `to`)."""
    items, next_cursor = service.list_time_off(
        db=db,
        practitioner_id=practitioner_id,
        window_start=from_,
        window_end=to,
        limit=limit,
        cursor=cursor.after,
    )
    return TimeOffPage(
        items=[TimeOffRead.model_validate(t) for t in items],
        next_cursor=cursor.next_page(next_cursor),
    )
