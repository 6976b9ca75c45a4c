"""Booking and moving a session: the only ways a session takes its time in the calendar.

Overlaps are refused by the database itself: on PostgreSQL by exclusion constraints, on SQLite
by the write lock every writing request takes before its first read (see `app.db`). No
in-process lock is involved.

Booking is the busiest write, so its statements are built once, here, and run as plain Core
statements: once the locks are held, one query reads everything the checks ask (the
practitioner and their hours at each location with their buffer and notice, their time off
and sessions, the rooms of their locations with their closures and sessions, the patient's
sessions and treatments near the slot), and the session, its first event and its outbox
events (the booking's and its reminders', `app.events.reminders`) are written as plain inserts
(on PostgreSQL, one statement), with no ORM unit of work.

A session takes a room of the location whose hours hold the slot: the one named, or the
first free one (`_room`). The room is chosen by reading, so bookings that could want one room
wait for each other first (`app.locations.service.room_locks`, in the booking's one lock
statement); the database refuses two sessions in one room all the same.
"""

from __future__ import annotations

import enum
import functools
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
    exists,
    insert,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from app.db import hold_lock
from app.errors import NotFound, Versions
from app.evaluations.service import Eligibility, current_eligibility
from app.events.outbox import OUTBOX, announce, event_row
from app.events.reminders import remind, reminder_rows, withdraw_reminders
from app.locations.service import room_locks
from app.models import (
    LONGEST_SESSION,
    CompletionRecord,
    Location,
    Practitioner,
    Room,
    RoomClosure,
    SessionEvent,
    TimeOff,
    TreatmentPlan,
    TreatmentSession,
    UTCDateTime,
    WaitlistEntry,
    WeeklyAvailability,
    utcnow,
)
from app.patients.service import PatientArchived, patient_lock
from app.plans.service import active_plan
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
    EligibilityBlocked,
    HeldForOffer,
    HoldExpired,
    HoldMismatch,
    InactiveRoom,
    IntervalTooShort,
    InThePast,
    PlanFull,
    RoomClosed,
    RoomElsewhere,
    RoomTaken,
    SlotTaken,
    TooShortNotice,
    UnknownPatient,
    UnknownRoom,
)
from app.sessions.freed import OFFERS, ON_THE_LIST, end_waiting, free_slot
from app.sessions.lifecycle import SessionAction, load_locked, require
from app.sessions.schemas import RescheduleBody, SessionCreate
from app.vocabulary import (
    LONGEST_BUFFER_MINUTES,
    EventType,
    OfferStatus,
    SessionStatus,
    SlotFreedBy,
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
        _SESSIONS.c.status.in_((SessionStatus.BOOKED, SessionStatus.ARRIVED)),
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
        _WAITLIST.c.status.in_(ON_THE_LIST),
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
        hold_lock(db, practitioner_lock(practitioner_id), *room_locks(slot.start, slot.end))
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
    _SESSIONS.c.id.in_(bindparam("ids", expanding=True)),
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


def _refused_overlap(exc: IntegrityError) -> SlotTaken | RoomTaken | None:
    # 23P01: an exclusion constraint refused an overlap a concurrent booking just made: in
    # the room (migration 0028), or of the practitioner or the patient.
    if getattr(exc.orig, "sqlstate", None) != "23P01":
        return None
    diagnosis = getattr(exc.orig, "diag", None)
    if getattr(diagnosis, "constraint_name", None) == ROOM_OVERLAP:
        return RoomTaken("Another session was booked in that room at that time meanwhile.")
    return SlotTaken("Another session was booked at that time meanwhile.")


# PostgreSQL's exclusion constraint over each room's time (migration 0028).
ROOM_OVERLAP = "ex_treatment_sessions_room_id_overlap"


def _flush_booking(db: Session) -> None:
    try:
        db.flush()
    except IntegrityError as exc:
        refusal = _refused_overlap(exc)
        if refusal is not None:
            raise refusal from None
        raise


def eligible_for(
    db: Session, patient_id: uuid.UUID, slot: Interval, now: datetime, doing: str
) -> Eligibility:
    """The patient's standing, if it lets a session of `slot` go ahead: an archived patient is
    `PatientArchived` (booking and moving alike), any other obstacle `EligibilityBlocked`."""
    standing = current_eligibility(db=db, patient_id=patient_id, now=now)
    if standing.outcome.value == PatientArchived.code:
        raise PatientArchived(f"Patient {patient_id} is archived.", discloses=patient_id)
    obstacles = standing.obstacles(slot.end)
    if obstacles:
        raise EligibilityBlocked.because(patient_id, standing, obstacles, doing)
    return standing


@dataclass(frozen=True)
class FirstEvent:
    """A booked session's first event, as written: the columns of `SessionEvent`."""

    id: uuid.UUID
    session_id: uuid.UUID
    action: str
    from_status: SessionStatus | None
    to_status: SessionStatus
    old_start_at: datetime | None
    old_end_at: datetime | None
    old_practitioner_id: uuid.UUID | None
    reason: str | None
    at: datetime
    within_notice: bool = False


@dataclass(frozen=True)
class BookedSession:
    """A session just booked, as written: the columns of `TreatmentSession` and its first
    event, what the answer shows. Plain values: an ORM object for a row already stored would
    cost its instrumentation on every booking."""

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    plan_id: uuid.UUID | None
    location_id: uuid.UUID
    room_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    time_zone: str
    status: SessionStatus
    cancel_reason: str | None
    events: tuple[FirstEvent, ...]
    completion: None = None
    hold_expires_at: None = None


@dataclass(frozen=True)
class Hold:
    """A slot held for a patient until `expires_at` (a `pending` row of the calendar)."""

    id: uuid.UUID
    created_at: datetime
    version: int
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    start_at: datetime
    end_at: datetime
    expires_at: datetime
    plan_id: uuid.UUID | None  # the course it is held for, if named
    location_id: uuid.UUID
    room_id: uuid.UUID  # the room it keeps: booked, the session takes it
    # Placed inside the practitioner's minimum notice, by staff allowed to (not stored: what
    # placing it found).
    within_notice: bool = False
    # A standing waitlist offer: booked or released only as the offer (`app.waitlist.offers`).
    offered: bool = False

    @property
    def slot(self) -> Interval:
        return Interval(self.start_at, self.end_at)


_S = _SESSIONS.c
_LIVE_HOLD = select(
    _S.id,
    _S.created_at,
    _S.version,
    _S.patient_id,
    _S.practitioner_id,
    _S.start_at,
    _S.end_at,
    _S.hold_expires_at.label("expires_at"),
    _S.plan_id,
    _S.location_id,
    _S.room_id,
    # A waitlist offer's hold (the offer has its hold's id) while the offer stands.
    exists().where(OFFERS.c.id == _S.id, OFFERS.c.status == OfferStatus.OFFERED).label("offered"),
).where(
    _S.id == bindparam("hold_id", type_=_S.id.type),
    _S.status == SessionStatus.PENDING,
    _S.hold_expires_at > _NOW,
)


def live_hold(db: Session, hold_id: uuid.UUID, now: datetime) -> Hold | None:
    """The hold of that id, unless it has expired (or was booked, or released)."""
    row = db.connection().execute(_LIVE_HOLD, {"hold_id": hold_id, "now": now}).first()
    return Hold(**row._asdict()) if row is not None else None


@dataclass(frozen=True)
class _Wanted:
    """What a booking asks for: the patient, the practitioner, the time and perhaps the
    room, perhaps held."""

    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    slot: Interval
    room_id: uuid.UUID | None
    hold: Hold | None = None


def _held_for_offer(hold_id: uuid.UUID) -> HeldForOffer:
    return HeldForOffer(
        f"Hold {hold_id} is a waitlist offer: accept or decline it as one "
        f"(/api/v1/waitlist/offers/{hold_id}/accept or /decline), so that the patients after "
        "them on the list are offered the slot in turn.",
        offer_id=str(hold_id),
    )


def _wanted(
    db: Session, data: SessionCreate, now: datetime, *, accepting_offer: bool = False
) -> _Wanted:
    if data.hold_id is None:
        # The schema refuses a booking without a hold that names none of these.
        assert data.patient_id is not None
        assert data.practitioner_id is not None
        assert data.start is not None
        end = data.start + timedelta(minutes=data.duration_minutes)
        slot = Interval(data.start, end)
        return _Wanted(data.patient_id, data.practitioner_id, slot, data.room_id)
    hold = live_hold(db, data.hold_id, now)
    if hold is None:
        raise HoldExpired(
            f"No hold with id {data.hold_id} stands: it expired, was booked or was released. "
            "Hold the slot again."
        )
    if hold.offered and not accepting_offer:
        raise _held_for_offer(hold.id)
    sent = data.model_fields_set
    differs = [
        name
        for name, held in (
            ("patient_id", hold.patient_id),
            ("practitioner_id", hold.practitioner_id),
            ("start", hold.start_at),
            ("duration_minutes", (hold.end_at - hold.start_at) // timedelta(minutes=1)),
            # A hold for a course is booked into it (a booking naming none takes the hold's).
            ("plan_id", hold.plan_id if hold.plan_id is not None else data.plan_id),
            ("room_id", hold.room_id),
        )
        if name in sent and getattr(data, name) != held
    ]
    if differs:
        raise HoldMismatch(f"The hold is not for the {', '.join(differs)} sent.", fields=differs)
    return _Wanted(hold.patient_id, hold.practitioner_id, hold.slot, hold.room_id, hold)


def book(
    *,
    db: Session,
    data: SessionCreate,
    now: datetime,
    rules: BookingRules,
    accepting_offer: bool = False,
) -> BookedSession:
    """Put a session in the calendar, or refuse with the reason. Booking a hold (`hold_id`)
    turns the held row into the session, with every check a booking makes, made again; a
    hold that is a waitlist offer only when `accepting_offer` (`app.waitlist.offers`)."""
    wanted = _wanted(db, data, now, accepting_offer=accepting_offer)
    # The patient's care, the practitioner's calendar, then the rooms' hours (the order every
    # change takes them).
    hold_lock(
        db,
        patient_lock(wanted.patient_id),
        practitioner_lock(wanted.practitioner_id),
        *room_locks(wanted.slot.start, wanted.slot.end),
    )
    if wanted.hold is not None:
        # Read again under the locks: a concurrent booking of the same hold went first.
        wanted = _wanted(db, data, now, accepting_offer=accepting_offer)
    patient_id, slot = wanted.patient_id, wanted.slot
    try:
        eligible_for(db, patient_id, slot, now, "booked")
    except NotFound:
        raise UnknownPatient(f"No patient with id {patient_id}.") from None
    held_for = wanted.hold.plan_id if wanted.hold else None
    plan = _bookable_plan(db, data.plan_id or held_for, patient_id)
    hold = wanted.hold
    place = check_slot(
        db=db,
        patient_id=patient_id,
        practitioner_id=wanted.practitioner_id,
        slot=slot,
        now=now,
        rules=rules,
        moving=hold.id if hold else None,
        locked=True,
        room_id=wanted.room_id,
        within_notice=data.within_notice,
        # A hold keeps the notice it was placed with: it is not refused for the minutes the
        # patient took to confirm.
        notice_from=min(now, hold.expires_at - rules.hold_lifetime) if hold else now,
    )
    session_id, created = (hold.id, hold.created_at) if hold else (uuid.uuid4(), utcnow())
    first = FirstEvent(
        id=uuid.uuid4(),
        session_id=session_id,
        action=SessionAction.BOOK.value,
        from_status=SessionStatus.PENDING if hold else None,
        to_status=SessionStatus.BOOKED,
        old_start_at=None,
        old_end_at=None,
        old_practitioner_id=None,
        reason=None,
        at=now,
        within_notice=place.within_notice,
    )
    booked = BookedSession(
        id=session_id,
        created_at=created,
        updated_at=utcnow(),
        version=hold.version + 1 if hold else 1,
        patient_id=patient_id,
        practitioner_id=wanted.practitioner_id,
        plan_id=plan.id if plan else None,
        location_id=place.location_id,
        room_id=place.room_id,
        start_at=slot.start,
        end_at=slot.end,
        time_zone=place.time_zone,
        status=SessionStatus.BOOKED,
        cancel_reason=None,
        events=(first,),
    )
    if hold:
        _book_hold(db, booked, rules.reminder_offsets_hours)
    else:
        _write_booking(db, booked, rules.reminder_offsets_hours)
    place.leave_waitlist(db, booked.id, slot.start, now)
    return booked


_BOOK_HOLD = (
    update(_SESSIONS)
    .where(_S.id == bindparam("hold_id", type_=_S.id.type), _S.status == SessionStatus.PENDING)
    .values(
        status=SessionStatus.BOOKED,
        hold_expires_at=None,
        plan_id=bindparam("the_plan", type_=_S.plan_id.type),
        time_zone=bindparam("the_zone", type_=_S.time_zone.type),
        updated_at=bindparam("the_time", type_=_S.updated_at.type),
        version=bindparam("the_version", type_=_S.version.type),
    )
)


def _book_hold(db: Session, booked: BookedSession, reminders: Sequence[int]) -> None:
    """The held row becomes the session (its slot never free meanwhile), and its first
    event, its outbox event and its reminders are written."""
    connection = db.connection()
    taken = connection.execute(
        _BOOK_HOLD,
        {
            "hold_id": booked.id,
            "the_plan": booked.plan_id,
            "the_zone": booked.time_zone,
            "the_time": booked.updated_at,
            "the_version": booked.version,
        },
    )
    if taken.rowcount != 1:  # released meanwhile (a release does not wait for the locks)
        raise HoldExpired(f"The hold {booked.id} was released meanwhile: hold the slot again.")
    connection.execute(_INSERT_EVENT, {c.key: getattr(booked.events[0], c.key) for c in _EVENTS.c})
    connection.execute(_INSERT_OUTBOX, _announced(booked, reminders))


def place_hold(
    *,
    db: Session,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    slot: Interval,
    now: datetime,
    rules: BookingRules,
    plan_id: uuid.UUID | None = None,
    room_id: uuid.UUID | None = None,
    within_notice: bool = False,
    expires_at: datetime | None = None,
) -> Hold:
    """Keep `slot` for the patient until `expires_at` (default: `now` + the clinic's hold
    lifetime; a waitlist offer's lasts as long as the offer), for the course `plan_id` if
    named, in the room `room_id` (else a free one), if it could be booked now: every check
    booking makes is made (the patient's standing, the plan, the practitioner's hours, time
    off, buffer and notice, the room, overlaps, the interval between treatments), and a held
    slot and its room are taken for everyone else, by the database as a booking is.
    `within_notice`: as for booking (`check_slot`)."""
    hold_lock(
        db,
        patient_lock(patient_id),
        practitioner_lock(practitioner_id),
        *room_locks(slot.start, slot.end),
    )
    try:
        eligible_for(db, patient_id, slot, now, "held")
    except NotFound:
        raise UnknownPatient(f"No patient with id {patient_id}.") from None
    plan = _bookable_plan(db, plan_id, patient_id)
    place = check_slot(
        db=db,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        slot=slot,
        now=now,
        rules=rules,
        locked=True,
        room_id=room_id,
        within_notice=within_notice,
    )
    created = utcnow()
    hold = Hold(
        id=uuid.uuid4(),
        created_at=created,
        version=1,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        start_at=slot.start,
        end_at=slot.end,
        expires_at=expires_at or now + rules.hold_lifetime,
        plan_id=plan.id if plan else None,
        location_id=place.location_id,
        room_id=place.room_id,
        within_notice=place.within_notice,
    )
    row: dict[str, Any] = {c.key: None for c in _SESSIONS.c}
    row.update(
        id=hold.id,
        created_at=created,
        updated_at=created,
        version=1,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        start_at=slot.start,
        end_at=slot.end,
        time_zone=place.time_zone,
        status=SessionStatus.PENDING,
        hold_expires_at=hold.expires_at,
        plan_id=hold.plan_id,
        location_id=place.location_id,
        room_id=place.room_id,
    )
    try:
        db.connection().execute(_INSERT_SESSION, row)
    except IntegrityError as exc:
        refusal = _refused_overlap(exc)
        if refusal is not None:
            raise refusal from None
        raise
    announce(
        db,
        EventType.HOLD_CREATED,
        at=now,
        session_id=hold.id,
        patient_id=patient_id,
    )
    return hold


_RELEASE_HOLD = delete(_SESSIONS).where(
    _S.id == bindparam("hold_id", type_=_S.id.type), _S.status == SessionStatus.PENDING
)


def release_hold(*, db: Session, hold_id: uuid.UUID, now: datetime) -> Hold:
    """Give the held slot back before the hold expires."""
    hold = live_hold(db, hold_id, now)
    if hold is not None and hold.offered:
        raise _held_for_offer(hold.id)
    # Only the request that deletes the row released it: a concurrent release or booking of
    # the same hold that went first leaves nothing to delete.
    if hold is None or db.connection().execute(_RELEASE_HOLD, {"hold_id": hold_id}).rowcount != 1:
        raise NotFound(f"No hold with id {hold_id} stands.")
    return hold


# Plain inserts, every column given: no ORM unit of work for the one write booking makes.
_INSERT_SESSION = insert(_SESSIONS)
_INSERT_EVENT = insert(_EVENTS)
_INSERT_OUTBOX = insert(OUTBOX)
# The outbox's columns a booking gives (its `seq` the database numbers).
_OUTBOX_COLUMNS = [c for c in OUTBOX.c if c.key != "seq"]
# PostgreSQL: all three in one statement (one round trip), the event inserted from the
# session's returned id, so it follows it. Parameters named apart (`session_id`, `event_id`,
# `outbox_id`).
_BOOKED = (
    insert(_SESSIONS)
    .values({c.key: bindparam(f"session_{c.key}", type_=c.type) for c in _SESSIONS.c})
    .returning(_SESSIONS.c.id)
    .cte("booked")
)


@functools.cache
def _insert_booking(announced: int) -> Insert:
    """The booking's statement for `announced` outbox rows (`session.booked`, then the
    reminders still ahead, numbered in that order), their parameters numbered (`outbox0_id`,
    `outbox1_id`, ...). The rows come from a UNION ALL of one-row selects rather than a
    multi-row VALUES, which has no cache key: a statement compiled anew on every booking costs
    milliseconds of CPU."""
    keys = [c.key for c in _OUTBOX_COLUMNS]
    rows = [
        select(*(bindparam(f"outbox{n}_{c.key}", type_=c.type) for c in _OUTBOX_COLUMNS))
        for n in range(announced)
    ]
    outbox = (
        insert(OUTBOX)
        .from_select(keys, rows[0] if announced == 1 else union_all(*rows))
        .cte("announced")
    )
    return (
        insert(_EVENTS)
        .from_select(
            [c.key for c in _EVENTS.c],
            select(
                *(
                    _BOOKED.c.id
                    if c.key == "session_id"
                    else bindparam(f"event_{c.key}", type_=c.type)
                    for c in _EVENTS.c
                )
            ),
        )
        .add_cte(_BOOKED)
        .add_cte(outbox)
    )


def _announced(booked: BookedSession, reminders: Sequence[int]) -> list[dict[str, Any]]:
    """The booking's outbox events: `session.booked`, then its reminders still ahead."""
    now = booked.events[0].at
    return [
        event_row(
            EventType.SESSION_BOOKED,
            at=now,
            session_id=booked.id,
            patient_id=booked.patient_id,
            plan_id=booked.plan_id,
        ),
        *reminder_rows(
            session_id=booked.id,
            patient_id=booked.patient_id,
            plan_id=booked.plan_id,
            start=booked.start_at,
            offsets_hours=reminders,
            now=now,
        ),
    ]


def _write_booking(db: Session, booked: BookedSession, reminders: Sequence[int]) -> None:
    """The session, its first event and its outbox events (with its reminders), every column
    given; an overlap a concurrent booking made meanwhile is a `SlotTaken` (PostgreSQL's
    exclusion constraints)."""
    session_row = {c.key: getattr(booked, c.key) for c in _SESSIONS.c}
    history_row = {c.key: getattr(booked.events[0], c.key) for c in _EVENTS.c}
    outbox_rows = _announced(booked, reminders)
    connection = db.connection()
    try:
        if connection.dialect.name == "postgresql":
            params = {f"session_{k}": v for k, v in session_row.items()}
            params.update((f"event_{k}", v) for k, v in history_row.items() if k != "session_id")
            for n, row in enumerate(outbox_rows):
                params.update((f"outbox{n}_{k}", v) for k, v in row.items())
            connection.execute(_insert_booking(len(outbox_rows)), params)
        else:
            connection.execute(_INSERT_SESSION, session_row)
            connection.execute(_INSERT_EVENT, history_row)
            connection.execute(_INSERT_OUTBOX, outbox_rows)
    except IntegrityError as exc:
        refusal = _refused_overlap(exc)
        if refusal is not None:
            raise refusal from None
        raise


def _bookable_plan(
    db: Session, plan_id: uuid.UUID | None, patient_id: uuid.UUID
) -> TreatmentPlan | None:
    if plan_id is None:
        return None
    plan = active_plan(db=db, plan_id=plan_id, patient_id=patient_id)
    if plan.sessions_live >= plan.planned_sessions:
        raise PlanFull(f"The plan's {plan.planned_sessions} sessions are all booked or done.")
    return plan


def reschedule(
    *,
    db: Session,
    session_id: uuid.UUID,
    change: RescheduleBody,
    now: datetime,
    rules: BookingRules,
    expected_version: Versions | None = None,
) -> TreatmentSession:
    """Move a booked session, with the same checks as booking; the old time and practitioner
    are kept in its history. It keeps its room where that room is free at the new time,
    unless the change names another."""
    session = load_locked(db, session_id)
    require(session, SessionAction.RESCHEDULE, expected_version)
    duration = (
        timedelta(minutes=change.duration_minutes)
        if change.duration_minutes
        else session.end_at - session.start_at
    )
    slot = Interval(change.start, change.start + duration)
    practitioner_id = change.practitioner_id or session.practitioner_id
    eligible_for(db, session.patient_id, slot, now, "booked")
    place = check_slot(
        db=db,
        patient_id=session.patient_id,
        practitioner_id=practitioner_id,
        slot=slot,
        now=now,
        rules=rules,
        moving=session.id,
        room_id=change.room_id,
        prefer=session.room_id,
        within_notice=change.within_notice,
    )
    left = Interval(session.start_at, session.end_at)
    left_with, left_zone = session.practitioner_id, session.time_zone
    left_site = session.location_id
    session.events.append(
        SessionEvent(
            action=SessionAction.RESCHEDULE.value,
            from_status=session.status,
            to_status=session.status,
            old_start_at=session.start_at,
            old_end_at=session.end_at,
            old_practitioner_id=session.practitioner_id,
            reason=change.reason,
            at=now,
            within_notice=place.within_notice,
        )
    )
    session.start_at, session.end_at, session.time_zone = slot.start, slot.end, place.time_zone
    session.location_id, session.room_id = place.location_id, place.room_id
    session.practitioner_id = practitioner_id
    session.updated_at = utcnow()
    _flush_booking(db)
    place.leave_waitlist(db, session.id, slot.start, now)
    if left_with != practitioner_id or not left.overlaps(slot):  # not merely shifted a little
        free_slot(
            db,
            session_id=session.id,
            patient_id=session.patient_id,
            slot=left,
            practitioner_id=left_with,
            location_id=left_site,
            time_zone=left_zone,
            freed_by=SlotFreedBy.RESCHEDULE,
            now=now,
        )
    announce(
        db,
        EventType.SESSION_RESCHEDULED,
        at=now,
        session_id=session.id,
        patient_id=session.patient_id,
        plan_id=session.plan_id,
    )
    # The reminders follow the session: those of the old time not told yet give way.
    withdraw_reminders(db, session_id=session.id)
    remind(
        db,
        session_id=session.id,
        patient_id=session.patient_id,
        plan_id=session.plan_id,
        start=session.start_at,
        offsets_hours=rules.reminder_offsets_hours,
        now=now,
    )
    return session
