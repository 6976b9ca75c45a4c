"""Calendars from the database, fed to the pure slot arithmetic and proposal placement."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    and_,
    bindparam,
    cast,
    false,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.evaluations.service import current_eligibility
from app.models import (
    LIVE_STATUSES,
    LONGEST_SESSION,
    USUAL_COURSE_SESSIONS,
    USUAL_INTERVAL_DAYS,
    CompletionRecord,
    Location,
    Practitioner,
    Room,
    RoomClosure,
    TimeOff,
    TreatmentPlan,
    TreatmentSession,
    WeeklyAvailability,
    among,
)
from app.models.base import UTCDateTime
from app.plans.service import active_plan, get_plan
from app.policy import Margins, SchedulingRules
from app.practitioners.hours import Interval, WeeklyHours
from app.practitioners.service import (
    Calendar,
    InactivePractitioner,
    get_practitioner,
    sites,
)
from app.scheduling.diaries import Calendar as SiteHours
from app.scheduling.diaries import Diaries
from app.scheduling.proposals import (
    Course,
    Proposal,
    Unplaced,
    day_start,
    propose_follow_ups,
    same_time_days_later,
)
from app.scheduling.slots import BusyIndex, free_slots, kept_free
from app.vocabulary import Flag, PlanStatus, SessionStatus


@dataclass(frozen=True)
class TreatmentTime:
    session_id: uuid.UUID
    at: datetime  # when the sclerosant was given, or, still to come, the session's start


def treatment_times(
    *,
    db: Session,
    patient_id: uuid.UUID,
    near: datetime | None = None,
    days: int = 0,
    include_booked: bool = True,
    excluding: uuid.UUID | None = None,
) -> list[TreatmentTime]:
    """The patient's treatments for the interval rule, within `days` of `near` (all when
    `near` is None): each given one at the moment it was given (whatever became of its session
    since: entered in error, it still happened), and, with `include_booked`, each booked or
    checked-in session at its start."""
    given = select(TreatmentSession.id, CompletionRecord.administered_at).join(
        CompletionRecord, CompletionRecord.session_id == TreatmentSession.id
    )
    given = given.where(TreatmentSession.patient_id == patient_id)
    to_come = select(TreatmentSession.id, TreatmentSession.start_at).where(
        TreatmentSession.patient_id == patient_id,
        among(TreatmentSession.status, (SessionStatus.BOOKED, SessionStatus.ARRIVED)),
    )
    if near is not None:
        margin = timedelta(days=days)
        given = given.where(
            CompletionRecord.administered_at > near - margin,
            CompletionRecord.administered_at < near + margin,
        )
        to_come = to_come.where(
            TreatmentSession.start_at > near - margin, TreatmentSession.start_at < near + margin
        )
    rows = db.execute(union_all(given, to_come) if include_booked else given).all()
    return sorted(
        (TreatmentTime(session_id, at) for session_id, at in rows if session_id != excluding),
        key=lambda t: t.at,
    )


@dataclass(frozen=True)
class FreeSlot:
    """A free slot, and the location where a room is free then."""

    slot: Interval
    location_id: uuid.UUID


@dataclass(frozen=True)
class FreeSlots:
    """The practitioner's calendar (their hours at each location), their time off over the
    window, the slots free in it (by start), and their buffer and notice."""

    calendar: Calendar
    away: list[Interval]
    slots: list[FreeSlot]
    margins: Margins  # the buffer and notice that apply to the practitioner


_P, _A, _L = Practitioner.__table__, WeeklyAvailability.__table__, Location.__table__
_S, _R, _C, _T = (
    TreatmentSession.__table__,
    Room.__table__,
    RoomClosure.__table__,
    TimeOff.__table__,
)

# A practitioner with their hours where they are (a row each; none: no hours), plain rows.
_CALENDAR = (
    select(
        _P.c.active,
        _P.c.time_zone,
        _A.c.location_id,
        _L.c.time_zone.label("site_zone"),
        _A.c.weekday,
        _A.c.start_time,
        _A.c.end_time,
        _P.c.buffer_minutes,
        _P.c.min_notice_minutes,
    )
    .select_from(
        _P.outerjoin(_A.join(_L, _L.c.id == _A.c.location_id), _A.c.practitioner_id == _P.c.id)
    )
    .where(_P.c.id == bindparam("id"))
)
# The rooms of the locations where the practitioner has hours.
_THEIR_ROOMS = select(_R.c.id).where(
    _R.c.location_id.in_(select(_A.c.location_id).where(_A.c.practitioner_id == bindparam("id")))
)
_LOW, _HIGH = bindparam("low", type_=UTCDateTime()), bindparam("high", type_=UTCDateTime())
_OFF, _BOOKED, _ROOM, _CLOSED = 0, 1, 2, 3
# Over a window, in one round trip: the practitioner's time off; their sessions and holds
# (still standing at `now`) and those in the rooms of their locations (with the room, and
# whose they are); those rooms (their location, in use or not); the rooms' closures.
_FREE_SLOT_BUSY = union_all(
    select(
        literal_column(str(_OFF)).label("kind"),
        _T.c.practitioner_id.label("id"),
        # Cast: PostgreSQL types each column of a UNION from the parts before the one that
        # first types it (two untyped NULLs make a text column).
        cast(null(), _R.c.id.type).label("room_id"),
        cast(null(), _R.c.active.type).label("active"),
        _T.c.start_at,
        _T.c.end_at,
    ).where(_T.c.practitioner_id == bindparam("id"), _T.c.start_at < _HIGH, _T.c.end_at > _LOW),
    select(
        literal_column(str(_BOOKED)),
        _S.c.practitioner_id,
        _S.c.room_id,
        null(),
        _S.c.start_at,
        _S.c.end_at,
    ).where(
        or_(_S.c.practitioner_id == bindparam("id"), _S.c.room_id.in_(_THEIR_ROOMS)),
        TreatmentSession.taking_time(bindparam("now", type_=UTCDateTime())),
        _S.c.start_at < _HIGH,
        _S.c.end_at > _LOW,
        _S.c.start_at > bindparam("longest", type_=UTCDateTime()),
    ),
    select(
        literal_column(str(_ROOM)), _R.c.location_id, _R.c.id, _R.c.active, null(), null()
    ).where(_R.c.id.in_(_THEIR_ROOMS)),
    select(
        literal_column(str(_CLOSED)), null(), _C.c.room_id, null(), _C.c.start_at, _C.c.end_at
    ).where(_C.c.room_id.in_(_THEIR_ROOMS), _C.c.start_at < _HIGH, _C.c.end_at > _LOW),
)


def practitioner_calendar(
    db: Session, practitioner_id: uuid.UUID, clinic: Margins
) -> tuple[Calendar, Margins]:
    """The practitioner with their hours at each location, and the buffer and notice that
    apply to them (their own, else the `clinic`'s); `NotFound` if none has that id."""
    rows = db.connection().execute(_CALENDAR, {"id": practitioner_id}).all()
    if not rows:
        raise NotFound(f"No practitioner with id {practitioner_id}.")
    hours = sites(
        (r.location_id, r.site_zone, r.weekday, r.start_time, r.end_time)
        for r in rows
        if r.weekday is not None
    )
    first = rows[0]
    margins = clinic.own(first.buffer_minutes, first.min_notice_minutes)
    return Calendar(practitioner_id, first.active, first.time_zone, hours), margins


def find_free_slots(
    *,
    db: Session,
    practitioner_id: uuid.UUID,
    window: Interval,
    duration: timedelta,
    grid: timedelta,
    now: datetime,
    margins: Margins,
) -> FreeSlots:
    """The practitioner's free slots in `window`, exactly those booking would take: inside
    their hours at a location, outside their time off, none within their buffer of a session
    or hold of theirs, none sooner than their minimum notice (`margins`: the clinic's, for a
    practitioner who set none), with a room of that location free then (in use, not closed,
    no session in it). Two statements, plain rows."""
    calendar, own = practitioner_calendar(db, practitioner_id, margins)
    away: list[Interval] = []
    theirs: list[Interval] = []
    rooms: dict[uuid.UUID, list[uuid.UUID]] = {}
    taken: dict[uuid.UUID, list[Interval]] = {}
    window = Interval(max(window.start, now + own.notice), window.end)
    if window.start >= window.end:
        return FreeSlots(calendar, away, [], own)
    reach = Interval(window.start - own.buffer, window.end + own.buffer)
    for kind, who, room_id, active, start, end in db.connection().execute(
        _FREE_SLOT_BUSY,
        {
            "id": practitioner_id,
            "low": reach.start,
            "high": reach.end,
            "longest": reach.start - LONGEST_SESSION,
            "now": now,
        },
    ):
        if kind == _OFF:
            away.append(Interval(start, end))
        elif kind == _ROOM:
            if active:
                rooms.setdefault(who, []).append(room_id)
        else:
            if kind == _BOOKED and who == practitioner_id:
                theirs.append(Interval(start, end))
            taken.setdefault(room_id, []).append(Interval(start, end))
    busy = BusyIndex([*away, *kept_free(theirs, own.buffer)])
    found: dict[datetime, FreeSlot] = {}
    for site in calendar.sites if calendar.active else ():
        in_use = [BusyIndex(taken.get(room, ())) for room in rooms.get(site.location_id, ())]
        for slot in free_slots(
            weekly_hours=site.hours,
            zone=site.zone,
            busy=busy,
            duration=duration,
            window=window,
            grid=grid,
        ):
            if slot.start not in found and any(not r.overlaps(slot) for r in in_use):
                found[slot.start] = FreeSlot(slot, site.location_id)
    slots = sorted(found.values(), key=lambda f: f.slot.start)
    return FreeSlots(calendar, away, slots, own)


def practitioner_margins(practitioner: Practitioner, clinic: Margins) -> Margins:
    """The buffer and notice that apply to `practitioner`: their own, else the clinic's."""
    return clinic.own(practitioner.buffer_minutes, practitioner.min_notice_minutes)


@dataclass(frozen=True)
class ProposalRequest:
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID | None
    plan_id: uuid.UUID | None
    sessions: int | None
    interval_days: int | None
    earliest: date
    duration: timedelta
    # Not before this moment either (a FHIR `$find` window may start mid-day).
    not_before: datetime | None = None


@dataclass(frozen=True)
class ProposalOutcome:
    blocked: bool
    flags: tuple[Flag, ...]
    proposals: list[Proposal]
    unplaced: list[Unplaced]


def propose(
    *, db: Session, request: ProposalRequest, rules: SchedulingRules, now: datetime
) -> ProposalOutcome:
    """Proposed visits for the patient's course, or the flags that block booking."""
    standing = current_eligibility(db=db, patient_id=request.patient_id, now=now)
    if not standing.bookable:
        return ProposalOutcome(True, standing.flags, [], [])
    zone = rules.clinic_zone
    plan = (
        active_plan(db=db, plan_id=request.plan_id, patient_id=request.patient_id)
        if request.plan_id
        else None
    )
    interval_days = request.interval_days or (plan.interval_days if plan else USUAL_INTERVAL_DAYS)
    # A plan's proposals never outnumber the visits it has left to book.
    remaining = plan.planned_sessions - plan.sessions_live if plan else USUAL_COURSE_SESSIONS
    count = min(request.sessions or remaining, remaining) if plan else request.sessions or remaining
    earliest = max(day_start(request.earliest, zone), now, request.not_before or now)
    first_target = None
    if plan is not None and plan.sessions_live:
        last = max(s.start_at for s in plan.sessions if s.status in LIVE_STATUSES)
        first_target = max(same_time_days_later(last, interval_days, zone), earliest)
    course = Course(
        count=max(count, 0),
        first_sequence=(plan.sessions_live if plan else 0) + 1,
        earliest=earliest,
        interval_days=interval_days,
        tolerance_days=rules.tolerance_days,
        min_gap_days=rules.min_gap_days,
        zone=zone,
        first_target=first_target,
        valid_until=standing.valid_until,
    )
    # The patient's own sessions and treatments near the course's horizon (not their whole
    # history) come with the practitioners' hours and the rooms, in one statement; who else
    # is busy is read where placement looks.
    horizon = course.horizon()
    reach = Interval(horizon.start, horizon.end + request.duration)
    margin = timedelta(days=rules.min_gap_days + 1)
    half = (reach.end - reach.start) / 2
    near, days = reach.start + half, timedelta(days=(half + margin).days + 1)
    calendars, rooms, own, given_or_booked = _calendars_and_patient(
        db,
        request.practitioner_id,
        rules.margins,
        {
            "patient_id": request.patient_id,
            "now": now,
            "reach_start": reach.start,
            "reach_end": reach.end,
            "reach_longest": reach.start - LONGEST_SESSION,
            "near_start": near - days,
            "near_end": near + days,
        },
    )
    connection = db.connection()

    def load(
        windows: Sequence[Interval],
    ) -> Iterable[tuple[uuid.UUID | None, uuid.UUID | None, datetime, datetime, bool]]:
        found: dict[str, Any] = {"now": now}
        for i, window in enumerate(windows):
            found[f"low_{i}"], found[f"high_{i}"] = window.start, window.end
            found[f"longest_{i}"] = window.start - LONGEST_SESSION
        if request.practitioner_id is None:
            return connection.execute(_busy_query(False, len(windows)), found)
        found["id"] = request.practitioner_id
        return connection.execute(_busy_query(True, len(windows)), found)

    diaries = Diaries(
        calendars=calendars,
        own=own,
        duration=request.duration,
        grid=rules.grid,
        until=reach.end,
        load=load,
        rooms=rooms,
        now=now,
    )
    proposals, unplaced = propose_follow_ups(
        course=course, free_starting=diaries, existing_starts=given_or_booked
    )
    return ProposalOutcome(False, standing.flags, proposals, unplaced)


@lru_cache(maxsize=64)
def _busy_query(
    one: bool, windows: int
) -> CompoundSelect[uuid.UUID | None, uuid.UUID | None, datetime, datetime, bool]:
    """Time off, live sessions and holds (with their rooms) and rooms' closures overlapping
    one of `windows` windows ([low_i, high_i)), each saying whether it is a session or hold (a
    practitioner's buffer is kept free around those only): of one practitioner and the rooms
    of their locations, or of all (placement ignores the rows of those it does not consider: a
    plain statement is cheaper than a list of ids spelled out anew in each). Built once for
    each number of windows."""
    lows = [bindparam(f"low_{i}", type_=UTCDateTime()) for i in range(windows)]
    highs = [bindparam(f"high_{i}", type_=UTCDateTime()) for i in range(windows)]
    longest = [bindparam(f"longest_{i}", type_=UTCDateTime()) for i in range(windows)]

    def overlapping(start: Any, end: Any, *, bounded: bool = False) -> ColumnElement[bool]:
        # A session lasts at most `LONGEST_SESSION`: its start bounds the index's range too.
        return or_(
            *(
                and_(start < high, end > low, *([start > first] if bounded else []))
                for low, high, first in zip(lows, highs, longest, strict=True)
            )
        )

    off = select(
        TimeOff.practitioner_id,
        cast(null(), Room.id.type).label("room_id"),
        TimeOff.start_at,
        TimeOff.end_at,
        false(),
    ).where(overlapping(TimeOff.start_at, TimeOff.end_at))
    booked = select(
        TreatmentSession.practitioner_id,
        TreatmentSession.room_id,
        TreatmentSession.start_at,
        TreatmentSession.end_at,
        true(),
    ).where(
        TreatmentSession.taking_time(bindparam("now", type_=UTCDateTime())),
        overlapping(TreatmentSession.start_at, TreatmentSession.end_at, bounded=True),
    )
    closed = select(
        null(), RoomClosure.room_id, RoomClosure.start_at, RoomClosure.end_at, false()
    ).where(overlapping(RoomClosure.start_at, RoomClosure.end_at))
    if one:
        off = off.where(TimeOff.practitioner_id == bindparam("id"))
        booked = booked.where(
            or_(
                TreatmentSession.practitioner_id == bindparam("id"),
                TreatmentSession.room_id.in_(_THEIR_ROOMS),
            )
        )
        closed = closed.where(RoomClosure.room_id.in_(_THEIR_ROOMS))
    return union_all(off, booked, closed)


# What a proposal reads before it looks at the diaries, in one statement built once (a row
# each, told apart by `kind`): the practitioners' hours, the rooms in use, and the patient's own
# sessions near the course's horizon.
_HOURS_ROW, _ROOM_ROW, _OWN, _GIVEN, _TO_COME = range(5)
_NO_MOMENT = cast(null(), UTCDateTime())  # typed: see `app.sessions.slot_checks`


def _calendars_query(one: bool) -> CompoundSelect[Any]:
    """Practitioners' hours where they are (a row each: the practitioner, the location and
    its zone, their buffer and notice); every room in use (a row each: the room and its
    location); and the patient's live sessions and holds overlapping the horizon (no slot may
    overlap one), the treatments given near it (the interval rule), whatever became of their
    session since, and those still to come, at their start (a row each: `start_at`,
    `end_at`)."""
    hours = select(
        literal_column(str(_HOURS_ROW)).label("kind"),
        _P.c.id,
        _P.c.active,
        _A.c.location_id,
        _L.c.time_zone,
        _A.c.weekday,
        _A.c.start_time,
        _A.c.end_time,
        _P.c.buffer_minutes,
        _P.c.min_notice_minutes,
        _NO_MOMENT.label("start_at"),
        _NO_MOMENT.label("end_at"),
    ).select_from(
        _P.outerjoin(_A.join(_L, _L.c.id == _A.c.location_id), _A.c.practitioner_id == _P.c.id)
    )
    hours = hours.where(_P.c.id == bindparam("id")) if one else hours.where(_P.c.active.is_(True))
    rooms = select(
        literal_column(str(_ROOM_ROW)),
        _R.c.id,
        _R.c.active,
        _R.c.location_id,
        *(null() for _ in range(8)),
    ).where(_R.c.active.is_(True))
    nothing: list[ColumnElement[Any]] = [null() for _ in range(9)]
    own = select(
        literal_column(str(_OWN)), *nothing, TreatmentSession.start_at, TreatmentSession.end_at
    ).where(
        TreatmentSession.patient_id == bindparam("patient_id"),
        TreatmentSession.taking_time(bindparam("now", type_=UTCDateTime())),
        TreatmentSession.start_at < bindparam("reach_end"),
        TreatmentSession.end_at > bindparam("reach_start"),
        TreatmentSession.start_at > bindparam("reach_longest"),
    )
    given = (
        select(literal_column(str(_GIVEN)), *nothing, CompletionRecord.administered_at, null())
        .select_from(TreatmentSession)
        .join(CompletionRecord, CompletionRecord.session_id == TreatmentSession.id)
        .where(
            TreatmentSession.patient_id == bindparam("patient_id"),
            CompletionRecord.administered_at > bindparam("near_start"),
            CompletionRecord.administered_at < bindparam("near_end"),
        )
    )
    to_come = select(
        literal_column(str(_TO_COME)), *nothing, TreatmentSession.start_at, null()
    ).where(
        TreatmentSession.patient_id == bindparam("patient_id"),
        among(TreatmentSession.status, (SessionStatus.BOOKED, SessionStatus.ARRIVED)),
        TreatmentSession.start_at > bindparam("near_start"),
        TreatmentSession.start_at < bindparam("near_end"),
    )
    return union_all(hours, rooms, own, given, to_come)


_CALENDAR_OF, _CALENDARS = _calendars_query(True), _calendars_query(False)


def _calendars_and_patient(
    db: Session, practitioner_id: uuid.UUID | None, clinic: Margins, near: dict[str, Any]
) -> tuple[list[SiteHours], dict[uuid.UUID, list[uuid.UUID]], list[Interval], list[datetime]]:
    """The one practitioner asked for (who must be active), else every active one, with
    their hours at each location, buffer and notice (their own, else the `clinic`'s); the
    rooms in use at each location; and the patient's sessions and treatments `near` the
    course's horizon: their live sessions and holds there, and the moments treatments were
    given or are to come. One statement, plain rows (no ORM entity to load)."""
    connection = db.connection()
    if practitioner_id is not None:
        rows = connection.execute(_CALENDAR_OF, {"id": practitioner_id, **near}).all()
        theirs = [row for row in rows if row.kind == _HOURS_ROW]
        if not theirs:
            raise NotFound(f"No practitioner with id {practitioner_id}.")
        if not theirs[0].active:
            raise InactivePractitioner(f"Practitioner {practitioner_id} is not active.")
    else:
        rows = connection.execute(_CALENDARS, near).all()
    # Keyed by the ids' integers: a UUID's own hash is Python code, run for every row.
    hours: dict[tuple[int, int, str], list[tuple[int, time, time]]] = {}
    whose: dict[tuple[int, int, str], tuple[uuid.UUID, uuid.UUID, int | None, int | None]] = {}
    rooms: dict[uuid.UUID, list[uuid.UUID]] = {}
    own: list[Interval] = []
    given_or_booked: list[datetime] = []
    for kind, pid, _, location_id, zone, weekday, start, end, buffer, notice, at, until in rows:
        if kind == _ROOM_ROW:
            rooms.setdefault(location_id, []).append(pid)
        elif kind == _OWN:
            own.append(Interval(at, until))
        elif kind in (_GIVEN, _TO_COME):
            given_or_booked.append(at)
        elif weekday is not None:  # an hours row (none for a practitioner without hours)
            key = (pid.int, location_id.int, zone)
            site = hours.get(key)
            if site is None:
                site = hours[key] = []
                whose[key] = (pid, location_id, buffer, notice)
            site.append((weekday, start, end))
    calendars = []
    for key, h in hours.items():
        pid, location_id, buffer, notice = whose[key]
        margins = _margins(clinic, buffer, notice)
        calendars.append(
            SiteHours(
                pid,
                _zone(key[2]),
                _weekly_hours(tuple(h)),
                location_id,
                margins.buffer_minutes,
                margins.min_notice_minutes,
            )
        )
    return calendars, rooms, own, given_or_booked


@lru_cache(maxsize=1024)
def _weekly_hours(rows: tuple[tuple[int, time, time], ...]) -> tuple[WeeklyHours, ...]:
    """A calendar's weekly hours from its rows (built once for each set of hours: a clinic's
    practitioners keep theirs for months)."""
    return tuple(WeeklyHours(weekday, start, end) for weekday, start, end in rows)


@lru_cache(maxsize=256)
def _margins(clinic: Margins, buffer: int | None, notice: int | None) -> Margins:
    return clinic.own(buffer, notice)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def next_follow_up(
    *, db: Session, treated: TreatmentSession, rules: SchedulingRules, now: datetime
) -> ProposalOutcome | None:
    """After `treated` (a session of a course): the proposal for the course's next visit, or
    None when none is left."""
    if treated.plan_id is None:
        return None
    plan = get_plan(db=db, plan_id=treated.plan_id)
    return next_visit_proposal(db=db, plan=plan, after=treated, rules=rules, now=now)


# A visit's usual length, when the course has no session yet to take it from.
_USUAL_VISIT = timedelta(minutes=45)


def next_visit_proposal(
    *,
    db: Session,
    plan: TreatmentPlan,
    after: TreatmentSession | None,
    rules: SchedulingRules,
    now: datetime,
) -> ProposalOutcome | None:
    """The proposal for the next visit of `plan` (with its sessions), after its session
    `after` (its practitioner and length; none yet: any active practitioner, a usual
    visit's length), or None when the course has none left: not active, or every planned
    session booked or done."""
    if plan.status is not PlanStatus.ACTIVE or plan.sessions_live >= plan.planned_sessions:
        return None
    practitioner_id = None
    if after is not None:
        # Advice only: if the practitioner has left meanwhile, any active one will do.
        practitioner = get_practitioner(db=db, practitioner_id=after.practitioner_id)
        practitioner_id = practitioner.id if practitioner.active else None
    return propose(
        db=db,
        request=ProposalRequest(
            patient_id=plan.patient_id,
            practitioner_id=practitioner_id,
            plan_id=plan.id,
            sessions=1,
            interval_days=None,
            earliest=now.astimezone(rules.clinic_zone).date(),
            duration=after.end_at - after.start_at if after is not None else _USUAL_VISIT,
        ),
        rules=rules,
        now=now,
    )
