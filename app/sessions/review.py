"""Booked sessions that no longer pass the booking checks: why each needs review.

A session is booked against the rules as they stood then. A later evaluation, archiving the
patient, the practitioner's departure or absence, a change of their hours, its room taken out
of use or closed, a course put on hold, or an earlier session treated later than booked can
leave it unable to go ahead; it is
never cancelled behind the clinic's back, but flagged here, with the reasons, until someone
moves, cancels or settles it. The checks are booking's own (`Eligibility.obstacles`,
`calendar_conflict`, `far_enough`), asked of many sessions at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Row,
    and_,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from app.evaluations.service import standings
from app.models import (
    AWAITING_TREATMENT,
    CompletionRecord,
    Location,
    Practitioner,
    Room,
    RoomClosure,
    TimeOff,
    TreatmentPlan,
    TreatmentSession,
    UTCDateTime,
    WeeklyAvailability,
    one_of,
)
from app.practitioners.hours import Interval
from app.practitioners.service import Calendar, calendar_conflict, sites
from app.scheduling.slots import far_enough
from app.vocabulary import Flag, FlagCode, PlanStatus, SessionStatus, Severity

Reasons = dict[uuid.UUID, tuple[Flag, ...]]


class Booked(Protocol):
    """What the review reads of a session: a `TreatmentSession`, or a row of its columns."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def patient_id(self) -> uuid.UUID: ...
    @property
    def practitioner_id(self) -> uuid.UUID: ...
    @property
    def plan_id(self) -> uuid.UUID | None: ...
    @property
    def location_id(self) -> uuid.UUID: ...
    @property
    def room_id(self) -> uuid.UUID: ...
    @property
    def start_at(self) -> datetime: ...
    @property
    def end_at(self) -> datetime: ...
    @property
    def time_zone(self) -> str: ...
    @property
    def status(self) -> SessionStatus: ...


_SESSIONS = TreatmentSession.__table__
_COMPLETIONS = CompletionRecord.__table__
_PLANS = TreatmentPlan.__table__
_PRACTITIONERS = Practitioner.__table__
_HOURS = WeeklyAvailability.__table__
_LOCATIONS = Location.__table__
_TIME_OFF = TimeOff.__table__
_ROOMS = Room.__table__
_CLOSURES = RoomClosure.__table__

# The review's statement, built once (a day's calendar asks it on every read). Plain rows:
# each practitioner with their hours where they are (a row each), their time off overlapping
# the sessions reviewed, the sessions' rooms with their closures over them (a row each), the
# treatments given to the sessions' patients within the interval rule's reach of them (a row
# each: the patient, the session, when it was given), and the status of each session's course.
_PRACTITIONER, _AWAY, _ROOM, _GIVEN_NEAR, _COURSE = 0, 1, 2, 3, 4
_SINCE, _UNTIL = bindparam("since", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime())
_CALENDARS = union_all(
    select(
        literal_column(str(_PRACTITIONER)).label("kind"),
        _PRACTITIONERS.c.id,
        _PRACTITIONERS.c.active,
        _PRACTITIONERS.c.time_zone,
        _HOURS.c.location_id,
        _LOCATIONS.c.time_zone.label("site_zone"),
        _HOURS.c.weekday,
        _HOURS.c.start_time,
        _HOURS.c.end_time,
        cast(null(), UTCDateTime()).label("start_at"),  # typed: see `app.sessions.slot_checks`
        cast(null(), UTCDateTime()).label("end_at"),
        cast(null(), _SESSIONS.c.id.type).label("session_id"),
        cast(null(), _PLANS.c.status.type).label("plan_status"),
    )
    .select_from(
        _PRACTITIONERS.outerjoin(
            _HOURS.join(_LOCATIONS, _LOCATIONS.c.id == _HOURS.c.location_id),
            _HOURS.c.practitioner_id == _PRACTITIONERS.c.id,
        )
    )
    .where(one_of(_PRACTITIONERS.c.id, "practitioner_ids")),
    select(
        literal_column(str(_AWAY)),
        _TIME_OFF.c.practitioner_id,
        *(null() for _ in range(7)),
        _TIME_OFF.c.start_at,
        _TIME_OFF.c.end_at,
        null(),
        null(),
    ).where(
        one_of(_TIME_OFF.c.practitioner_id, "practitioner_ids"),
        _TIME_OFF.c.start_at < _UNTIL,
        _TIME_OFF.c.end_at > _SINCE,
    ),
    select(
        literal_column(str(_ROOM)),
        _ROOMS.c.id,
        _ROOMS.c.active,
        *(null() for _ in range(6)),
        _CLOSURES.c.start_at,
        _CLOSURES.c.end_at,
        null(),
        null(),
    )
    .select_from(
        _ROOMS.outerjoin(
            _CLOSURES,
            and_(
                _CLOSURES.c.room_id == _ROOMS.c.id,
                _CLOSURES.c.start_at < _UNTIL,
                _CLOSURES.c.end_at > _SINCE,
            ),
        )
    )
    .where(one_of(_ROOMS.c.id, "room_ids")),
    select(
        literal_column(str(_GIVEN_NEAR)),
        _SESSIONS.c.patient_id,
        *(null() for _ in range(7)),
        _COMPLETIONS.c.administered_at,
        null(),
        _SESSIONS.c.id,
        null(),
    )
    .select_from(_SESSIONS.join(_COMPLETIONS, _COMPLETIONS.c.session_id == _SESSIONS.c.id))
    .where(
        one_of(_SESSIONS.c.patient_id, "patient_ids"),
        _COMPLETIONS.c.administered_at > bindparam("given_since", type_=UTCDateTime()),
        _COMPLETIONS.c.administered_at < bindparam("given_until", type_=UTCDateTime()),
    ),
    select(
        literal_column(str(_COURSE)),
        _PLANS.c.id,
        *(null() for _ in range(10)),
        _PLANS.c.status,
    ).where(one_of(_PLANS.c.id, "plan_ids")),
)


def review(*, db: Session, sessions: Sequence[Booked], now: datetime, min_gap_days: int) -> Reasons:
    """Each session's reasons for review (none: it may go ahead as booked). Only booked and
    checked-in sessions are reviewed; a handful of queries whatever their number."""
    awaiting = [v for v in sessions if v.status in AWAITING_TREATMENT]
    reasons: Reasons = {v.id: () for v in sessions}
    if not awaiting:
        return reasons
    patient_ids = list({v.patient_id for v in awaiting})
    patients = standings(db=db, patient_ids=patient_ids, now=now)
    first_start = min(v.start_at for v in awaiting)
    # The treatments given within the interval of any session reviewed come with the rest.
    margin = timedelta(days=min_gap_days + 1)
    calendars = {
        "practitioner_ids": list({v.practitioner_id for v in awaiting}),
        "room_ids": list({v.room_id for v in awaiting}),
        "since": first_start,
        "until": max(v.end_at for v in awaiting),
        "patient_ids": patient_ids,
        "given_since": first_start - margin,
        "given_until": max(v.start_at for v in awaiting) + margin,
        "plan_ids": list({v.plan_id for v in awaiting if v.plan_id is not None}),
    }
    practitioners, absences, rooms, given, plans = _calendars(db, calendars)
    for session in awaiting:
        found = list(patients[session.patient_id].obstacles(session.end_at))
        slot = Interval(session.start_at, session.end_at)
        calendar = practitioners[session.practitioner_id]
        away = absences.get(session.practitioner_id, ())
        conflict = calendar_conflict(calendar, slot, away, session.location_id)
        if conflict is not None:
            found.append(Flag(FlagCode(conflict.code), Severity.BLOCKING, conflict.detail))
        found += _room_reasons(rooms[session.room_id], slot)
        zone = ZoneInfo(session.time_zone)
        too_close = [
            at
            for session_id, at in given.get(session.patient_id, [])
            if session_id != session.id
            and not far_enough(at, session.start_at, min_days=min_gap_days, zone=zone)
        ]
        if too_close:
            found.append(
                Flag(
                    FlagCode.INTERVAL_TOO_SHORT,
                    Severity.BLOCKING,
                    f"A treatment was given {too_close[0].isoformat()}: treatments of one "
                    f"patient are at least {min_gap_days} days apart.",
                )
            )
        status = plans.get(session.plan_id) if session.plan_id else None
        if status is not None and status is not PlanStatus.ACTIVE:
            found.append(
                Flag(
                    FlagCode.PLAN_NOT_ACTIVE,
                    Severity.BLOCKING,
                    f"The course is {status.value}: no session of it goes ahead as booked.",
                )
            )
        reasons[session.id] = tuple(found)
    return reasons


@dataclass(frozen=True)
class _RoomState:
    """A session's room as the review sees it: in use or not, and its closures near."""

    active: bool
    closed: list[Interval] = field(default_factory=list)


# Each patient's treatments given near the sessions reviewed: the session, and when.
Given = dict[uuid.UUID, list[tuple[uuid.UUID, datetime]]]


def _calendars(
    db: Session, calendars: dict[str, object]
) -> tuple[
    dict[uuid.UUID, Calendar],
    dict[uuid.UUID, list[Interval]],
    dict[uuid.UUID, _RoomState],
    Given,
    dict[uuid.UUID, PlanStatus],
]:
    """Each practitioner's calendar (their hours read off once, not again for each of their
    sessions), their time off, each room's state, the treatments given near, and each
    course's status, from `_CALENDARS`."""
    hours: dict[uuid.UUID, list[Row[Any]]] = {}
    absences: dict[uuid.UUID, list[Interval]] = {}
    rooms: dict[uuid.UUID, _RoomState] = {}
    given: Given = {}
    plans: dict[uuid.UUID, PlanStatus] = {}
    for row in db.execute(_CALENDARS, calendars):
        if row.kind == _PRACTITIONER:
            hours.setdefault(row.id, []).append(row)
        elif row.kind == _AWAY:
            absences.setdefault(row.id, []).append(Interval(row.start_at, row.end_at))
        elif row.kind == _ROOM:
            room = rooms.setdefault(row.id, _RoomState(row.active))
            if row.start_at is not None:
                room.closed.append(Interval(row.start_at, row.end_at))
        elif row.kind == _GIVEN_NEAR:
            given.setdefault(row.id, []).append((row.session_id, row.start_at))
        else:
            plans[row.id] = row.plan_status
    practitioners = {
        practitioner_id: Calendar(
            practitioner_id,
            rows[0].active,
            rows[0].time_zone,
            sites(
                (r.location_id, r.site_zone, r.weekday, r.start_time, r.end_time)
                for r in rows
                if r.weekday is not None
            ),
        )
        for practitioner_id, rows in hours.items()
    }
    return practitioners, absences, rooms, given, plans


def _room_reasons(room: _RoomState, slot: Interval) -> list[Flag]:
    """Why the session's room cannot take it as booked: out of use, or closed then."""
    found = []
    if not room.active:
        found.append(Flag(FlagCode.INACTIVE_ROOM, Severity.BLOCKING, "Its room is out of use."))
    if any(closed.overlaps(slot) for closed in room.closed):
        found.append(Flag(FlagCode.ROOM_CLOSED, Severity.BLOCKING, "Its room is closed then."))
    return found
