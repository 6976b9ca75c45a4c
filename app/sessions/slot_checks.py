"""The checks a session must pass to take its time, in one statement once the locks are held.

Booking, moving a session and placing a hold ask `check_slot`: the practitioner active and
inside their hours at one of their locations, not away, free (with their buffer kept) and
booked with enough notice; the patient free; a room of that location free (the one named, or
the first free one: `_room`); and the interval between the patient's treatments kept
(`check_interval`, which completing a session asks too). Everything these checks read comes
from `_IN_THE_WAY`, one query of plain rows, checked in Python in the order the refusals have
always come in. No SQL expression is built per request.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Row,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from app.db import hold_lock
from app.locations.service import ROOM_CHANGES, room_locks
from app.models import (
    LONGEST_SESSION,
    CompletionRecord,
    Location,
    Practitioner,
    Room,
    RoomClosure,
    SessionEvent,
    TimeOff,
    TreatmentSession,
    UTCDateTime,
    WaitlistEntry,
    WeeklyAvailability,
    among,
    one_of,
)
from app.policy import BookingRules, Margins
from app.practitioners.hours import Interval
from app.practitioners.service import (
    Calendar,
    OutsideAvailability,
    Site,
    UnknownPractitioner,
    calendar_conflict,
    practitioner_lock,
    sites,
)
from app.scheduling.service import TreatmentTime, treatment_times
from app.scheduling.slots import at_minute, far_enough, minute_ceil
from app.sessions.errors import (
    BufferConflict,
    InactiveRoom,
    IntervalTooShort,
    InThePast,
    RoomClosed,
    RoomElsewhere,
    RoomTaken,
    SlotTaken,
    TooShortNotice,
    UnknownRoom,
)
from app.sessions.freed import ON_THE_LIST, end_waiting
from app.vocabulary import (
    LONGEST_BUFFER_MINUTES,
    SessionStatus,
)


def _table(model: type[Any]) -> Table:
    return model.metadata.tables[model.__tablename__]  # type: ignore[no-any-return]


_PRACTITIONERS = _table(Practitioner)
_HOURS = _table(WeeklyAvailability)
_TIME_OFF = _table(TimeOff)
_SESSIONS = _table(TreatmentSession)
_EVENTS = _table(SessionEvent)
_GIVEN = _table(CompletionRecord)
_LOCATIONS = _table(Location)
_ROOMS = _table(Room)
_CLOSURES = _table(RoomClosure)
_WAITLIST = _table(WaitlistEntry)


class _Found(enum.IntEnum):
    """What a row of `_IN_THE_WAY` is."""

    HOURS = 0  # the practitioner, with one of their weekly hours (or none: no hours at all)
    TIME_OFF = 1  # the practitioner's time off overlapping the slot
    # A live session of the practitioner overlapping the slot, or within the longest buffer
    # of it (which of them are too near, their own buffer says: read in the same statement).
    PRACTITIONER_SESSION = 2
    PATIENT_SESSION = 3  # a live session of the patient overlapping the slot
    GIVEN = 4  # a treatment given near the slot (`start_at`: when the sclerosant was given)
    TO_COME = 5  # a session booked or checked in near the slot (`start_at`: its start)
    EXPIRED_HOLD = 6  # a hold overlapping the slot, expired: deleted before the slot is taken
    ROOM = 7  # a room of the practitioner's locations, or the one named (`start_at`: made)
    ROOM_CLOSED = 8  # a closure of one of those rooms overlapping the slot
    ROOM_TAKEN = 9  # a live session or hold in one of those rooms overlapping the slot
    WAITING = 10  # the patient's waitlist entry whose window may hold the slot's day


# The parameters of `_IN_THE_WAY`. `moving`: the session being moved (the nil UUID when
# booking), left out of every answer; `start_floor`: the slot's start less the longest a
# session lasts, so overlapping sessions are found by a range scan of the start index
# (`TreatmentSession.ending_after`); `near_from`/`near_to`: the window of the interval rule;
# `reach_start`/`reach_end`: the slot widened by the longest buffer a practitioner may keep,
# `reach_floor` its start less the longest session.
_PRACTITIONER = bindparam("practitioner_id", type_=_SESSIONS.c.practitioner_id.type)
_PATIENT = bindparam("patient_id", type_=_SESSIONS.c.patient_id.type)
_MOVING = bindparam("moving", type_=_SESSIONS.c.id.type)
_START = bindparam("start", type_=UTCDateTime())
_END = bindparam("end", type_=UTCDateTime())
_START_FLOOR = bindparam("start_floor", type_=UTCDateTime())
_NEAR_FROM = bindparam("near_from", type_=UTCDateTime())
_NEAR_TO = bindparam("near_to", type_=UTCDateTime())
_NOW = bindparam("now", type_=UTCDateTime())
_ROOM = bindparam("room_id", type_=_ROOMS.c.id.type)  # the room named (the nil UUID: none)
_REACH_START = bindparam("reach_start", type_=UTCDateTime())
_REACH_END = bindparam("reach_end", type_=UTCDateTime())
_REACH_FLOOR = bindparam("reach_floor", type_=UTCDateTime())
# The days, either side of the slot's UTC day, its local day may be (`_Found.WAITING`).
_DAY_FROM = bindparam("day_from", type_=Date())
_DAY_TO = bindparam("day_to", type_=Date())
_NOT_MOVING = uuid.UUID(int=0)
_NO_ROOM = _NOT_MOVING
_LONGEST_BUFFER = timedelta(minutes=LONGEST_BUFFER_MINUTES)


def _found(
    kind: _Found,
    session_id: ColumnElement[Any],
    at: ColumnElement[Any],
    end: ColumnElement[Any],
    *,
    room: ColumnElement[Any] | None = None,
) -> list[ColumnElement[Any]]:
    """The columns of a row that is not the practitioner's: no hours; a room's, if any."""
    return [
        literal_column(str(kind.value)).label("kind"),
        session_id.label("id"),
        at.label("start_at"),
        end.label("end_at"),
        *(null() for _ in range(7)),
        room if room is not None else null(),
        *(null() for _ in range(2)),
    ]


def _overlapping(who: ColumnElement[Any], taking: ColumnElement[bool]) -> ColumnElement[bool]:
    s = _SESSIONS.c
    return and_(
        who,
        taking,
        s.start_at < _END,
        s.end_at > _START,
        s.start_at > _START_FLOOR,
        s.id != _MOVING,
    )


def _live_overlapping(who: ColumnElement[Any]) -> ColumnElement[bool]:
    """Sessions of `who` and their holds not yet expired, overlapping the slot."""
    return _overlapping(who, TreatmentSession.taking_time(_NOW))


# The rooms a booking may take, or must know of: those of the practitioner's locations, and
# the one named.
_CANDIDATE_ROOMS = select(_ROOMS.c.id).where(
    or_(
        _ROOMS.c.location_id.in_(
            select(_HOURS.c.location_id).where(_HOURS.c.practitioner_id == _PRACTITIONER)
        ),
        _ROOMS.c.id == _ROOM,
    )
)

# The practitioner's sessions and holds not yet expired overlapping the slot widened by the
# longest buffer: an index range scan as `_overlapping`'s, a little longer.
_PRACTITIONER_NEAR = and_(
    _SESSIONS.c.practitioner_id == _PRACTITIONER,
    TreatmentSession.taking_time(_NOW),
    _SESSIONS.c.start_at < _REACH_END,
    _SESSIONS.c.end_at > _REACH_START,
    _SESSIONS.c.start_at > _REACH_FLOOR,
    _SESSIONS.c.id != _MOVING,
)

# Holds past their expiry, of the practitioner or of the patient, or in one of those rooms,
# overlapping the slot.
_EXPIRED_HOLDS = _overlapping(
    or_(
        _SESSIONS.c.practitioner_id == _PRACTITIONER,
        _SESSIONS.c.patient_id == _PATIENT,
        _SESSIONS.c.room_id.in_(_CANDIDATE_ROOMS),
    ),
    and_(_SESSIONS.c.status == SessionStatus.PENDING, _SESSIONS.c.hold_expires_at <= _NOW),
)


# Everything booking (or moving) a session checks, once the locks are held, in one round
# trip, as plain rows: the practitioner with their hours and the zones of their locations,
# their buffer and notice (`get_practitioner`), who is busy over the slot or near it
# (`practitioner_busy` asks it of the practitioner; here of the patient too), the rooms that
# could take it, and the treatments near it (`treatment_times`). The first part types the
# columns of the others.
_IN_THE_WAY = union_all(
    select(
        literal_column(str(_Found.HOURS.value)).label("kind"),
        _PRACTITIONERS.c.id,
        # Cast: PostgreSQL types each column of a UNION from the parts before the one that
        # first types it (two untyped NULLs make a text column).
        cast(null(), UTCDateTime()).label("start_at"),
        cast(null(), UTCDateTime()).label("end_at"),
        _HOURS.c.weekday,
        _HOURS.c.start_time,
        _HOURS.c.end_time,
        _PRACTITIONERS.c.active,
        _PRACTITIONERS.c.time_zone,
        _LOCATIONS.c.time_zone.label("site_zone"),
        _HOURS.c.location_id,
        cast(null(), _ROOMS.c.id.type).label("room_id"),
        _PRACTITIONERS.c.buffer_minutes,
        _PRACTITIONERS.c.min_notice_minutes,
    )
    .select_from(
        _PRACTITIONERS.outerjoin(
            _HOURS.join(_LOCATIONS, _LOCATIONS.c.id == _HOURS.c.location_id),
            _HOURS.c.practitioner_id == _PRACTITIONERS.c.id,
        )
    )
    .where(_PRACTITIONERS.c.id == _PRACTITIONER),
    select(
        literal_column(str(_Found.ROOM.value)),
        _ROOMS.c.id,
        _ROOMS.c.created_at,
        null(),
        null(),
        null(),
        null(),
        _ROOMS.c.active,
        null(),
        null(),
        _ROOMS.c.location_id,
        _ROOMS.c.id,
        null(),
        null(),
    ).where(_ROOMS.c.id.in_(_CANDIDATE_ROOMS)),
    select(
        *_found(
            _Found.ROOM_CLOSED,
            _CLOSURES.c.id,
            _CLOSURES.c.start_at,
            _CLOSURES.c.end_at,
            room=_CLOSURES.c.room_id,
        )
    ).where(
        _CLOSURES.c.room_id.in_(_CANDIDATE_ROOMS),
        _CLOSURES.c.start_at < _END,
        _CLOSURES.c.end_at > _START,
    ),
    select(
        *_found(
            _Found.ROOM_TAKEN,
            _SESSIONS.c.id,
            _SESSIONS.c.start_at,
            _SESSIONS.c.end_at,
            room=_SESSIONS.c.room_id,
        )
    ).where(_live_overlapping(_SESSIONS.c.room_id.in_(_CANDIDATE_ROOMS))),
    select(
        *_found(
            _Found.TIME_OFF,
            type_coerce(null(), _SESSIONS.c.id.type),
            _TIME_OFF.c.start_at,
            _TIME_OFF.c.end_at,
        )
    ).where(
        _TIME_OFF.c.practitioner_id == _PRACTITIONER,
        _TIME_OFF.c.start_at < _END,
        _TIME_OFF.c.end_at > _START,
    ),
    select(
        *_found(
            _Found.PRACTITIONER_SESSION, _SESSIONS.c.id, _SESSIONS.c.start_at, _SESSIONS.c.end_at
        )
    ).where(_PRACTITIONER_NEAR),
    select(
        *_found(_Found.PATIENT_SESSION, _SESSIONS.c.id, _SESSIONS.c.start_at, _SESSIONS.c.end_at)
    ).where(_live_overlapping(_SESSIONS.c.patient_id == _PATIENT)),
    select(
        *_found(_Found.EXPIRED_HOLD, _SESSIONS.c.id, _SESSIONS.c.start_at, _SESSIONS.c.end_at)
    ).where(_EXPIRED_HOLDS),
    # Given, whatever became of its session since (entered in error, it still happened).
    select(*_found(_Found.GIVEN, _SESSIONS.c.id, _GIVEN.c.administered_at, null()))
    .select_from(_SESSIONS.join(_GIVEN, _GIVEN.c.session_id == _SESSIONS.c.id))
    .where(
        _SESSIONS.c.patient_id == _PATIENT,
        _GIVEN.c.administered_at > _NEAR_FROM,
        _GIVEN.c.administered_at < _NEAR_TO,
        _SESSIONS.c.id != _MOVING,
    ),
    select(*_found(_Found.TO_COME, _SESSIONS.c.id, _SESSIONS.c.start_at, null())).where(
        _SESSIONS.c.patient_id == _PATIENT,
        among(_SESSIONS.c.status, (SessionStatus.BOOKED, SessionStatus.ARRIVED)),
        _SESSIONS.c.start_at > _NEAR_FROM,
        _SESSIONS.c.start_at < _NEAR_TO,
        _SESSIONS.c.id != _MOVING,
    ),
    # On the waitlist with a window about the slot's day: booked there, they leave the list
    # (`app.sessions.freed.end_waiting`, only when there is one: no statement otherwise).
    select(
        *_found(
            _Found.WAITING,
            _WAITLIST.c.id,
            type_coerce(null(), UTCDateTime()),
            type_coerce(null(), UTCDateTime()),
        )
    ).where(
        _WAITLIST.c.patient_id == _PATIENT,
        among(_WAITLIST.c.status, ON_THE_LIST),
        _WAITLIST.c.earliest_date <= _DAY_TO,
        _WAITLIST.c.latest_date >= _DAY_FROM,
    ),
)


@dataclass(frozen=True)
class Place:
    """Where a session checked by `check_slot` takes place: the location whose hours hold it
    (its zone: the session's day is that zone's) and the room it takes; whether it starts
    inside the practitioner's minimum notice (let through, as asked by staff allowed to:
    `check_slot`'s `within_notice`); and the patient's waitlist entries about its day."""

    time_zone: str
    location_id: uuid.UUID
    room_id: uuid.UUID
    within_notice: bool = False
    waiting: tuple[uuid.UUID, ...] = ()

    def leave_waitlist(
        self, db: Session, patient_session: uuid.UUID, start: datetime, now: datetime
    ) -> None:
        """The patient is booked (`patient_session`) at `start`: an entry whose window holds
        its day, where it takes place, ends."""
        if self.waiting:
            day = start.astimezone(ZoneInfo(self.time_zone)).date()
            end_waiting(db, entry_ids=self.waiting, session_id=patient_session, day=day, now=now)


def check_slot(
    *,
    db: Session,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    slot: Interval,
    now: datetime,
    rules: BookingRules,
    moving: uuid.UUID | None = None,
    locked: bool = False,
    room_id: uuid.UUID | None = None,
    prefer: uuid.UUID | None = None,
    within_notice: bool = False,
    notice_from: datetime | None = None,
) -> Place:
    """Every check booking and rescheduling share, in this order; `moving` is the session
    being moved, `locked`: the practitioner's calendar and the rooms' hours are locked
    already. `room_id`: the room asked for; else the first free room of the location,
    `prefer` first if it is free (a session moved keeps its room where it can).
    `within_notice`: a start inside the practitioner's minimum notice is let through (staff
    allowed to asked for it; nothing else is); `notice_from`: when the notice counts from
    (`now`, or when a hold being booked was placed). The answer: where the session takes
    place."""
    if slot.start <= now:
        raise InThePast("Sessions are booked for a time still to come.")
    if not locked:
        hold_lock(
            db,
            practitioner_lock(practitioner_id),
            *room_locks(slot.start, slot.end),
            shared=(ROOM_CHANGES,),
        )
    margin = timedelta(days=rules.min_gap_days + 1)
    rows = db.connection().execute(
        _IN_THE_WAY,
        {
            "practitioner_id": practitioner_id,
            "patient_id": patient_id,
            "moving": moving or _NOT_MOVING,
            "room_id": room_id or _NO_ROOM,
            "start": slot.start,
            "end": slot.end,
            "start_floor": slot.start - LONGEST_SESSION,
            "near_from": slot.start - margin,
            "near_to": slot.start + margin,
            "now": now,
            "reach_start": slot.start - _LONGEST_BUFFER,
            "reach_end": slot.end + _LONGEST_BUFFER,
            "reach_floor": slot.start - _LONGEST_BUFFER - LONGEST_SESSION,
            "day_from": (slot.start - timedelta(days=1)).date(),
            "day_to": (slot.start + timedelta(days=1)).date(),
        },
    )
    found: dict[_Found, list[Row[Any]]] = {kind: [] for kind in _Found}
    for row in rows:
        found[_Found(row.kind)].append(row)
    calendar = _calendar(found[_Found.HOURS], practitioner_id)
    conflict = calendar_conflict(calendar, slot, absences=())  # active, inside hours
    if conflict is not None:
        raise conflict
    site = calendar.site_of(slot)
    assert site is not None  # inside their hours: at one of their locations
    practitioner = found[_Found.HOURS][0]
    margins = rules.margins.own(practitioner.buffer_minutes, practitioner.min_notice_minutes)
    inside_notice = _inside_notice(
        slot, notice_from or now, margins, site.zone.key, allowed=within_notice
    )
    # The same questions slot search asks: is the practitioner free (time off, sessions)?
    if found[_Found.TIME_OFF]:
        raise OutsideAvailability("The practitioner is away then (time off).")
    theirs = sorted(found[_Found.PRACTITIONER_SESSION], key=lambda row: row.start_at)
    for whose, taken in (
        ("practitioner", [r for r in theirs if r.start_at < slot.end and r.end_at > slot.start]),
        ("patient", sorted(found[_Found.PATIENT_SESSION], key=lambda row: row.start_at)),
    ):
        if taken:
            raise SlotTaken(f"The {whose} already has a session then.", session_id=str(taken[0].id))
    _refuse_inside_buffer(slot, theirs, margins, site.zone.key)
    room = _room(found, site, room_id, prefer)
    if found[_Found.EXPIRED_HOLD]:
        _release_expired(db, [row.id for row in found[_Found.EXPIRED_HOLD]], now)
    given_or_booked = [
        TreatmentTime(row.id, row.start_at)
        for row in (*found[_Found.GIVEN], *found[_Found.TO_COME])
    ]
    _refuse_too_near(
        patient_id,
        slot.start,
        sorted(given_or_booked, key=lambda t: t.at),
        zone=site.zone,
        rules=rules,
    )
    waiting = tuple(row.id for row in found[_Found.WAITING])
    return Place(site.zone.key, site.location_id, room, inside_notice, waiting)


def _room(
    found: dict[_Found, list[Row[Any]]],
    site: Site,
    wanted: uuid.UUID | None,
    prefer: uuid.UUID | None,
) -> uuid.UUID:
    """The room the session takes at `site`: `wanted`, if it can; else the free active room
    there that was made first (`prefer` before any other)."""
    rooms = {row.room_id: row for row in found[_Found.ROOM]}
    closed = {row.room_id for row in found[_Found.ROOM_CLOSED]}
    taken = {row.room_id: row for row in found[_Found.ROOM_TAKEN]}
    if wanted is not None:
        room = rooms.get(wanted)
        if room is None:
            raise UnknownRoom(f"No room with id {wanted}.", field="room_id")
        if room.location_id != site.location_id:
            raise RoomElsewhere(
                f"Room {wanted} is not at location {site.location_id}, where the practitioner "
                "sees patients then."
            )
        if not room.active:
            raise InactiveRoom(f"Room {wanted} is not in use.")
        if wanted in closed:
            raise RoomClosed(f"Room {wanted} is closed then.")
        if wanted in taken:
            raise RoomTaken(
                f"Room {wanted} has another session then.", session_id=str(taken[wanted].id)
            )
        return wanted
    free = sorted(
        (
            row
            for row in rooms.values()
            if row.location_id == site.location_id
            and row.active
            and row.room_id not in closed
            and row.room_id not in taken
        ),
        key=lambda row: (row.room_id != prefer, row.start_at, row.room_id),
    )
    if not free:
        raise RoomTaken(
            f"No room of location {site.location_id} is free then (each is taken, closed or "
            "out of use)."
        )
    return free[0].room_id  # type: ignore[no-any-return]


def _inside_notice(
    slot: Interval, since: datetime, margins: Margins, time_zone: str, *, allowed: bool
) -> bool:
    """Whether `slot` starts inside the practitioner's minimum notice counted from `since`:
    `TooShortNotice`, naming the earliest start (to the minute) it allows, unless `allowed`."""
    earliest = since + margins.notice
    if slot.start >= earliest:
        return False
    if allowed:
        return True
    first = at_minute(minute_ceil(earliest))
    raise TooShortNotice(
        f"Sessions with this practitioner are booked at least {margins.min_notice_minutes} "
        f"minutes ahead: the earliest start now is "
        f"{first.astimezone(ZoneInfo(time_zone)):%Y-%m-%d %H:%M} ({time_zone}). Staff allowed "
        "to book inside the notice may send `within_notice: true`.",
        earliest_start=first.isoformat(),
        min_notice_minutes=margins.min_notice_minutes,
    )


def _refuse_inside_buffer(
    slot: Interval, theirs: Sequence[Row[Any]], margins: Margins, time_zone: str
) -> None:
    """`BufferConflict` if one of the practitioner's sessions (`theirs`, by start, none
    overlapping the slot) is nearer the slot than their buffer, before or after it."""
    kept = margins.buffer
    near = next(
        (r for r in theirs if r.start_at < slot.end + kept and r.end_at > slot.start - kept),
        None,
    )
    if near is not None:
        zone = ZoneInfo(time_zone)
        raise BufferConflict(
            f"The practitioner keeps {margins.buffer_minutes} minutes free before and after "
            f"each session: their session of {near.start_at.astimezone(zone):%Y-%m-%d %H:%M}-"
            f"{near.end_at.astimezone(zone):%H:%M} ({time_zone}) is nearer than that.",
            session_id=str(near.id),
            buffer_minutes=margins.buffer_minutes,
        )


_RELEASE = delete(_SESSIONS).where(
    one_of(_SESSIONS.c.id, "ids"),
    _SESSIONS.c.status == SessionStatus.PENDING,
    _SESSIONS.c.hold_expires_at <= _NOW,
)


def _release_expired(db: Session, hold_ids: list[uuid.UUID], now: datetime) -> None:
    """Expired holds leave the calendar when something takes their slot: no job need run
    (PostgreSQL's exclusion constraints would still count them). A hold is no clinical record
    and has no history: it is deleted."""
    db.connection().execute(_RELEASE, {"ids": hold_ids, "now": now})


def _calendar(rows: Sequence[Row[Any]], practitioner_id: uuid.UUID) -> Calendar:
    """The practitioner from their rows of `_IN_THE_WAY` (one per weekly hours)."""
    if not rows:
        raise UnknownPractitioner(
            f"No practitioner with id {practitioner_id}.", field="practitioner_id"
        )
    hours = sites(
        (row.location_id, row.site_zone, row.weekday, row.start_time, row.end_time)
        for row in rows
        if row.weekday is not None
    )
    return Calendar(practitioner_id, rows[0].active, rows[0].time_zone, hours)


def check_interval(
    db: Session,
    patient_id: uuid.UUID,
    moment: datetime,
    *,
    zone: ZoneInfo,
    rules: BookingRules,
    include_booked: bool,
    excluding: uuid.UUID | None,
) -> None:
    """The interval rule: `moment` far enough from every treatment the patient was given
    (counted by when the sclerosant was given, a session marked entered in error included),
    and, when booking, from every session still to come."""
    times = treatment_times(
        db=db,
        patient_id=patient_id,
        near=moment,
        days=rules.min_gap_days + 1,
        include_booked=include_booked,
        excluding=excluding,
    )
    _refuse_too_near(patient_id, moment, times, zone=zone, rules=rules)


def _refuse_too_near(
    patient_id: uuid.UUID,
    moment: datetime,
    times: Sequence[TreatmentTime],
    *,
    zone: ZoneInfo,
    rules: BookingRules,
) -> None:
    """`times` in order: the first too near `moment` is the one named."""
    near = next(
        (t for t in times if not far_enough(t.at, moment, min_days=rules.min_gap_days, zone=zone)),
        None,
    )
    if near is not None:
        raise IntervalTooShort(
            f"Treatments of one patient are at least {rules.min_gap_days} days apart; "
            f"session {near.session_id} is on {near.at.astimezone(zone).date().isoformat()}.",
            session_id=str(near.session_id),
            discloses=patient_id,  # another session of theirs, and when
        )
