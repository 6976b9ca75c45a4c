"""Location routes: the clinic's sites, their treatment rooms, and when a room is closed."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auditing import Resource
from app.errors import InvalidCursor, NotFound, VersionMismatch
from app.locations import service
from app.locations.schemas import (
    ClosureCreate,
    ClosurePage,
    ClosureRead,
    ClosureRecorded,
    LocationCreate,
    LocationPage,
    LocationRead,
    RoomCreate,
    RoomPage,
    RoomRead,
    RoomUpdate,
    RoomUpdated,
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

router = APIRouter(prefix="/api/v1/locations", tags=["locations"], route_class=ApiRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add a location",
    dependencies=[requires(Permission.LOCATIONS_MANAGE)],
    responses=problem_responses(),
    response_description="The location added",
    openapi_extra=sends("ETag", "Location"),
)
def create_location(
    body: LocationCreate, db: Db, audit: AuditDep, policy: Policy, response: Response
) -> LocationRead:
    """Add a site of the clinic: its name, address and IANA time zone (default: the
    clinic's). Practitioners' weekly hours there are read on its clock; add its treatment
    rooms with `POST /api/v1/locations/{id}/rooms`."""
    location = service.create_location(db=db, data=body, default_time_zone=policy.clinic_time_zone)
    audit.record("create", Resource.LOCATION, location.id, patient_id=None)
    response.headers["Location"] = f"{router.prefix}/{location.id}"
    set_etag(response, location.version)
    return LocationRead.model_validate(location)


@router.get(
    "",
    summary="List locations",
    dependencies=[requires(Permission.LOCATIONS_READ)],
    responses=problem_responses(InvalidCursor),
    response_description="A page of locations",
)
def list_locations(db: ReadDb, cursor: Cursor, limit: Limit = 50) -> LocationPage:
    """The clinic's sites ordered by name, a page at a time."""
    items, next_cursor = service.list_locations(db=db, limit=limit, cursor=cursor.after)
    return LocationPage(
        items=[LocationRead.model_validate(item) for item in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.get(
    "/{location_id}",
    summary="Read a location",
    dependencies=[requires(Permission.LOCATIONS_READ)],
    responses=problem_responses(NotFound),
    response_description="The location",
    openapi_extra=sends("ETag"),
)
def read_location(location_id: uuid.UUID, db: ReadDb, response: Response) -> LocationRead:
    """One site of the clinic."""
    location = service.get_location(db=db, location_id=location_id)
    set_etag(response, location.version)
    return LocationRead.model_validate(location)


@router.post(
    "/{location_id}/rooms",
    status_code=status.HTTP_201_CREATED,
    summary="Add a room",
    dependencies=[requires(Permission.LOCATIONS_MANAGE)],
    responses=problem_responses(NotFound),
    response_description="The room added",
    openapi_extra=sends("ETag", "Location"),
)
def create_room(
    location_id: uuid.UUID, body: RoomCreate, db: Db, audit: AuditDep, response: Response
) -> RoomRead:
    """Add a treatment room to the location. A room holds one session at a time, whoever
    the practitioner: a booking that names none takes a free active room of the location."""
    room = service.create_room(db=db, location_id=location_id, data=body)
    audit.record("create", Resource.ROOM, room.id, patient_id=None)
    response.headers["Location"] = f"{router.prefix}/{location_id}/rooms/{room.id}"
    set_etag(response, room.version)
    return RoomRead.model_validate(room)


@router.get(
    "/{location_id}/rooms",
    summary="List a location's rooms",
    dependencies=[requires(Permission.LOCATIONS_READ)],
    responses=problem_responses(NotFound, InvalidCursor),
    response_description="A page of the location's rooms",
)
def list_rooms(
    location_id: uuid.UUID,
    db: ReadDb,
    cursor: Cursor,
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones")] = None,
    limit: Limit = 50,
) -> RoomPage:
    """The location's rooms ordered by name, a page at a time."""
    items, next_cursor = service.list_rooms(
        db=db, location_id=location_id, active=active, limit=limit, cursor=cursor.after
    )
    return RoomPage(
        items=[RoomRead.model_validate(item) for item in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.get(
    "/{location_id}/rooms/{room_id}",
    summary="Read a room",
    dependencies=[requires(Permission.LOCATIONS_READ)],
    responses=problem_responses(NotFound),
    response_description="The room",
    openapi_extra=sends("ETag"),
)
def read_room(
    location_id: uuid.UUID, room_id: uuid.UUID, db: ReadDb, response: Response
) -> RoomRead:
    """One room of the location."""
    room = service.get_room(db=db, location_id=location_id, room_id=room_id)
    set_etag(response, room.version)
    return RoomRead.model_validate(room)


@router.patch(
    "/{location_id}/rooms/{room_id}",
    summary="Update a room",
    dependencies=[requires(Permission.LOCATIONS_MANAGE)],
    responses=problem_responses(NotFound, VersionMismatch),
    response_description="The room as changed, with any sessions the change strands",
    openapi_extra=sends("ETag"),
)
def update_room(
    location_id: uuid.UUID,
    room_id: uuid.UUID,
    body: RoomUpdate,
    db: Db,
    audit: AuditDep,
    response: Response,
    if_match: ExpectedVersion,
    now: Now,
) -> RoomUpdated:
    """Rename the room, or take it out of use (`active: false`) or back into it.

    Send `If-Match` with the `ETag` you read to refuse the change (412) if someone else
    changed the room meanwhile. Taken out of use, the room takes no new session;
    `affected_sessions` lists its upcoming sessions, which stay booked, flagged for review
    (`inactive-room`): move them to another room or cancel them."""
    changed = service.update_room(
        db=db,
        location_id=location_id,
        room_id=room_id,
        changes=body,
        now=now,
        expected_version=if_match,
    )
    audit.record("update", Resource.ROOM, room_id, patient_id=None)
    set_etag(response, changed.room.version)
    read = RoomRead.model_validate(changed.room)
    return with_affected_sessions(read, RoomUpdated, changed.stranded)


_CLOSURES = "/{location_id}/rooms/{room_id}/closures"


@router.post(
    _CLOSURES,
    status_code=status.HTTP_201_CREATED,
    summary="Close a room for a time",
    dependencies=[requires(Permission.CALENDARS_WRITE)],
    responses=problem_responses(NotFound, service.ClosureInPast),
    response_description="The closure recorded, with any sessions it strands",
)
def add_closure(
    location_id: uuid.UUID,
    room_id: uuid.UUID,
    body: ClosureCreate,
    db: Db,
    audit: AuditDep,
    now: Now,
) -> ClosureRecorded:
    """Close the room from `start` to `end` (maintenance, say; explicit offsets): no session
    is booked in it then, and slot search and proposals look at other rooms. A closure that
    ends at or before now is 422 `closure-in-past` (one begun already is kept).

    Sessions already booked in it then are not moved: `affected_sessions` lists them, and
    they stay booked, flagged for review (`room-closed`), to be moved or cancelled."""
    closed = service.add_closure(
        db=db, location_id=location_id, room_id=room_id, data=body, now=now
    )
    audit.record("add-closure", Resource.ROOM, room_id, patient_id=None)
    read = ClosureRead.model_validate(closed.closure)
    return with_affected_sessions(read, ClosureRecorded, closed.stranded)


@router.get(
    _CLOSURES,
    summary="List a room's closures",
    dependencies=[requires(Permission.LOCATIONS_READ)],
    responses=problem_responses(NotFound, InvalidCursor),
    response_description="A page of the room's closures",
)
def list_closures(
    location_id: uuid.UUID,
    room_id: uuid.UUID,
    db: ReadDb,
    cursor: Cursor,
    from_: Annotated[
        Instant | None, Query(alias="from", description="Only closures ending after this")
    ] = None,
    to: Annotated[Instant | None, Query(description="Only closures starting before this")] = None,
    limit: Limit = 50,
) -> ClosurePage:
    """The room's closures, ordered by start, optionally within [`from`, `to`)."""
    items, next_cursor = service.list_closures(
        db=db,
        location_id=location_id,
        room_id=room_id,
        window_start=from_,
        window_end=to,
        limit=limit,
        cursor=cursor.after,
    )
    return ClosurePage(
        items=[ClosureRead.model_validate(item) for item in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.delete(
    _CLOSURES + "/{closure_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a room's closure",
    dependencies=[requires(Permission.CALENDARS_WRITE)],
    responses={
        status.HTTP_204_NO_CONTENT: {"description": "Removed: the room is open again then"},
        **problem_responses(NotFound),
    },
)
def remove_closure(
    location_id: uuid.UUID, room_id: uuid.UUID, closure_id: uuid.UUID, db: Db, audit: AuditDep
) -> None:
    """Open the room again over a closure (planned in error, or the work done early)."""
    service.remove_closure(db=db, location_id=location_id, room_id=room_id, closure_id=closure_id)
    audit.record("remove-closure", Resource.ROOM, room_id, patient_id=None)
