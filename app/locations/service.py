"""Locations, their rooms and the rooms' closures; the location a practitioner's hours fall
back on; and the locks that keep one room to one session at a time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import hold_lock
from app.errors import DomainError, NotFound, Versions, require_version
from app.locations.schemas import ClosureCreate, LocationCreate, RoomCreate, RoomUpdate
from app.models import Location, Room, RoomClosure, TreatmentSession, utcnow
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate


class UnknownLocation(DomainError):
    status = 422
    code = "unknown-location"
    title = "No such location"


class ClosureInPast(DomainError):
    status = 422
    code = "closure-in-past"
    title = "The closure is over already"


_LOCATIONS_BY_NAME = Keyset(columns=(Location.name_key, Location.id), parsers=(str, cursor_uuid))
_ROOMS_BY_NAME = Keyset(columns=(Room.name_key, Room.id), parsers=(str, cursor_uuid))
_CLOSURES_BY_START = Keyset(
    columns=(RoomClosure.start_at, RoomClosure.id), parsers=(cursor_datetime, cursor_uuid)
)

# The room a location made for a practitioner's hours is given (`default_location`).
FIRST_ROOM = "Room 1"


def get_location(*, db: Session, location_id: uuid.UUID) -> Location:
    location = db.get(Location, location_id)
    if location is None:
        raise NotFound(f"No location with id {location_id}.")
    return location


def create_location(*, db: Session, data: LocationCreate, default_time_zone: str) -> Location:
    location = Location(
        name=data.name,
        name_key=data.name.casefold(),
        address=data.address,
        time_zone=data.time_zone or default_time_zone,
    )
    db.add(location)
    db.flush()
    return location


def list_locations(
    *, db: Session, limit: int = 50, cursor: str | None = None
) -> tuple[Sequence[Location], str | None]:
    """Locations ordered by name, a page at a time."""
    return paginate(db, select(Location), _LOCATIONS_BY_NAME, limit=limit, cursor=cursor)


def default_location(db: Session, time_zone: str) -> uuid.UUID:
    """Where weekly hours that name no location are: the clinic's first location in
    `time_zone`, made (with one room) when it has none there yet, as migration 0028 made one
    for each zone in use. A new clinic thus books as before, in its one room."""
    hold_lock(db, f"default-location:{time_zone}")  # two first practitioners make one
    found = db.scalar(
        select(Location.id)
        .where(Location.time_zone == time_zone)
        .order_by(Location.created_at, Location.id)
        .limit(1)
    )
    if found is not None:
        return found
    name = f"Main site ({time_zone})"
    location = Location(name=name, name_key=name.casefold(), address=None, time_zone=time_zone)
    db.add(location)
    db.flush()
    db.add(Room(location_id=location.id, name=FIRST_ROOM, name_key=FIRST_ROOM.casefold()))
    db.flush()
    return location.id


def unknown_locations(db: Session, location_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Those of `location_ids` that name no location, in the order given."""
    known = set(db.scalars(select(Location.id).where(Location.id.in_(set(location_ids)))))
    return [i for i in location_ids if i not in known]


def get_room(*, db: Session, location_id: uuid.UUID, room_id: uuid.UUID) -> Room:
    """The room, if it is one of that location's."""
    room = db.get(Room, room_id)
    if room is None or room.location_id != location_id:
        raise NotFound(f"No room with id {room_id} at location {location_id}.")
    return room


def create_room(*, db: Session, location_id: uuid.UUID, data: RoomCreate) -> Room:
    get_location(db=db, location_id=location_id)
    room = Room(
        location_id=location_id,
        name=data.name,
        name_key=data.name.casefold(),
        active=data.active,
    )
    db.add(room)
    db.flush()
    return room


def list_rooms(
    *,
    db: Session,
    location_id: uuid.UUID,
    active: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[Room], str | None]:
    """The location's rooms ordered by name, a page at a time."""
    get_location(db=db, location_id=location_id)
    query = select(Room).where(Room.location_id == location_id)
    if active is not None:
        query = query.where(Room.active.is_(active))
    return paginate(db, query, _ROOMS_BY_NAME, limit=limit, cursor=cursor)


@dataclass(frozen=True)
class RoomChanged:
    room: Room
    # Upcoming sessions in the room that can no longer take place there; they stay booked.
    stranded: Sequence[TreatmentSession]


def update_room(
    *,
    db: Session,
    location_id: uuid.UUID,
    room_id: uuid.UUID,
    changes: RoomUpdate,
    now: datetime,
    expected_version: Versions | None = None,
) -> RoomChanged:
    """Rename the room, or take it out of use: its upcoming sessions are then named (they
    stay booked, flagged for review, `inactive-room`)."""
    if changes.active is not None:
        hold_lock(db, ROOM_CHANGES)  # before the room's row: a booking holds it shared
    room = get_room(db=db, location_id=location_id, room_id=room_id)
    require_version("Room", room.version, expected_version)
    if changes.name is not None:
        room.name, room.name_key = changes.name, changes.name.casefold()
    if changes.active is not None:
        room.active = changes.active
    if changes.model_fields_set:
        room.updated_at = utcnow()
    db.flush()
    stranded = _sessions_in(db, room.id, now) if changes.active is False else []
    return RoomChanged(room, stranded)


@dataclass(frozen=True)
class Closed:
    closure: RoomClosure
    # Upcoming sessions booked in the room during it; they stay booked, for review.
    stranded: Sequence[TreatmentSession]


def add_closure(
    *,
    db: Session,
    location_id: uuid.UUID,
    room_id: uuid.UUID,
    data: ClosureCreate,
    now: datetime,
) -> Closed:
    """Close the room from `data.start` to `data.end`: no session is booked in it then. A
    closure over by `now` closes nothing (`ClosureInPast`); one begun already is kept whole."""
    hold_lock(db, ROOM_CHANGES)  # bookings under way first, none meanwhile
    room = get_room(db=db, location_id=location_id, room_id=room_id)
    if data.end <= now:
        raise ClosureInPast(
            f"The closure ends at {data.end.isoformat()}, not after now "
            f"({now.isoformat()}): a room is closed for a time still to come.",
            field="end",
        )
    closure = RoomClosure(room_id=room.id, start_at=data.start, end_at=data.end, reason=data.reason)
    db.add(closure)
    db.flush()
    return Closed(closure, _sessions_in(db, room.id, now, data.start, data.end))


def list_closures(
    *,
    db: Session,
    location_id: uuid.UUID,
    room_id: uuid.UUID,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[RoomClosure], str | None]:
    """The room's closures overlapping [`window_start`, `window_end`), ordered by start."""
    get_room(db=db, location_id=location_id, room_id=room_id)
    query = select(RoomClosure).where(RoomClosure.room_id == room_id)
    if window_start is not None:
        query = query.where(RoomClosure.end_at > window_start)
    if window_end is not None:
        query = query.where(RoomClosure.start_at < window_end)
    return paginate(db, query, _CLOSURES_BY_START, limit=limit, cursor=cursor)


def remove_closure(
    *, db: Session, location_id: uuid.UUID, room_id: uuid.UUID, closure_id: uuid.UUID
) -> RoomClosure:
    """Open the room again over a closure (planned in error, or the work done early)."""
    get_room(db=db, location_id=location_id, room_id=room_id)
    closure = db.get(RoomClosure, closure_id)
    if closure is None or closure.room_id != room_id:
        raise NotFound(f"No closure with id {closure_id} of room {room_id}.")
    db.delete(closure)
    db.flush()
    return closure


def _sessions_in(
    db: Session,
    room_id: uuid.UUID,
    now: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[TreatmentSession]:
    """The room's sessions still to be treated (those overlapping [start, end), if given)."""
    query = select(TreatmentSession).where(
        TreatmentSession.room_id == room_id, TreatmentSession.awaiting_treatment(now)
    )
    if start is not None and end is not None:
        query = query.where(TreatmentSession.overlapping(start, end))
    return list(db.scalars(query.order_by(TreatmentSession.start_at, TreatmentSession.id)))


_HOUR = timedelta(hours=1)


# Taken alone by a change to a room's use (closing it for a time, taking it out of use), and
# shared, last of its locks, by every booking, move and hold: a booking and a change to the
# use of the room it picks never decide each on what the other has not yet written (the
# booking would take a room closed meanwhile; the closure would leave the session out of the
# ones it names). Changes to rooms are rare: each waits for the bookings under way.
ROOM_CHANGES = "rooms:changes"


def room_locks(start: datetime, end: datetime) -> tuple[str, ...]:
    """The locks a booking of [start, end) takes before it picks a room: one per UTC clock
    hour the time touches (a session lasts an hour at most: two at most). Two times that
    overlap touch a common hour, so bookings that could want one room wait for each other,
    whoever their practitioners: the room the second picks is read once the first is
    written (the exclusion constraint alone would refuse it `room-taken` while another room
    stood free). Taken last, in the order of time, by every booking."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    locks = []
    while hour < end:
        locks.append(f"rooms:{hour:%Y%m%d%H}")
        hour += _HOUR
    return tuple(locks)
