"""Calendars from the database, fed to the pure slot arithmetic and proposal placement."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CompoundSelect,
    Select,
    Uuid,
    bindparam,
    cast,
    false,
    literal,
    null,
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
    Practitioner,
    TimeOff,
    TreatmentPlan,
    TreatmentSession,
    WeeklyAvailability,
)
from app.models.base import UTCDateTime
from app.plans.service import active_plan, get_plan
from app.policy import Margins, SchedulingRules
from app.practitioners.hours import Interval, WeeklyHours
from app.practitioners.service import InactivePractitioner, get_practitioner, weekly_hours
from app.scheduling.diaries import Calendar, Diaries
from app.scheduling.proposals import (
    Course,
    Proposal,
    Unplaced,
    day_start,
    propose_follow_ups,
    same_time_days_later,
)
from app.scheduling.slots import free_slots, kept_free
from app.vocabulary import Flag, PlanStatus, SessionStatus


@dataclass(frozen=True)
class Busy:
    """A time someone is taken: a live session (with its id), or a practitioner's time off."""

    interval: Interval
    session_id: uuid.UUID | None = None  # None: time off


def practitioner_busy(
    *,
    db: Session,
    practitioner_ids: Sequence[uuid.UUID],
    window: Interval,
    now: datetime,
    excluding: uuid.UUID | None = None,
) -> dict[uuid.UUID, list[Busy]]:
    """Time off, live sessions and holds not expired at `now` overlapping `window`, for each
    practitioner: the one answer to "is the practitioner free?", for slot search, proposals
    and booking alike. `excluding`: a session being moved."""
    busy: dict[uuid.UUID, list[Busy]] = {pid: [] for pid in practitioner_ids}
    absences = select(
        TimeOff.practitioner_id,
        TimeOff.start_at,
        TimeOff.end_at,
        cast(null(), Uuid).label("session_id"),
    ).where(
        TimeOff.practitioner_id.in_(practitioner_ids),
        TimeOff.start_at < window.end,
        TimeOff.end_at > window.start,
    )
    bookings = select(
        TreatmentSession.practitioner_id,
        TreatmentSession.start_at,
        TreatmentSession.end_at,
        TreatmentSession.id,
    ).where(
        TreatmentSession.practitioner_id.in_(practitioner_ids),
        TreatmentSession.taking_time(now),
        TreatmentSession.overlapping(window.start, window.end),
    )
    if excluding is not None:
        bookings = bookings.where(TreatmentSession.id != excluding)
    # One round trip: time off (no session id) and sessions together.
    for practitioner_id, start, end, session_id in db.execute(union_all(absences, bookings)):
        busy[practitioner_id].append(Busy(Interval(start, end), session_id))
    return busy


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
        TreatmentSession.status.in_((SessionStatus.BOOKED, SessionStatus.ARRIVED)),
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


def find_free_slots(
    *,
    db: Session,
    practitioner_id: uuid.UUID,
    window: Interval,
    duration: timedelta,
    grid: timedelta,
    now: datetime,
    margins: Margins,
) -> tuple[Practitioner, list[Interval]]:
    """The practitioner's free slots starting in `window`, exactly those booking would take:
    none sooner than their minimum notice, none within their buffer of a session or hold
    (`margins`: the clinic's, for a practitioner who set none)."""
    practitioner = get_practitioner(db=db, practitioner_id=practitioner_id)
    own = practitioner_margins(practitioner, margins)
    window = Interval(max(window.start, now + own.notice), window.end)
    if window.start >= window.end:
        return practitioner, []
    reach = Interval(window.start - own.buffer, window.end + own.buffer)
    busy = practitioner_busy(db=db, practitioner_ids=[practitioner.id], window=reach, now=now)
    away = [b.interval for b in busy[practitioner.id] if b.session_id is None]
    sessions = [b.interval for b in busy[practitioner.id] if b.session_id is not None]
    slots = free_slots(
        weekly_hours=weekly_hours(practitioner),
        zone=ZoneInfo(practitioner.time_zone),
        busy=[*away, *kept_free(sessions, own.buffer)],
        duration=duration,
        window=window,
        grid=grid,
    )
    return practitioner, slots


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
    calendars = _calendars(db, request.practitioner_id, rules.margins)
    # The patient's own sessions and treatments near the course's horizon (not their whole
    # history), read once in one statement; who else is busy, read where placement looks.
    horizon = course.horizon()
    reach = Interval(horizon.start, horizon.end + request.duration)
    margin = timedelta(days=rules.min_gap_days + 1)
    half = (reach.end - reach.start) / 2
    near, days = reach.start + half, timedelta(days=(half + margin).days + 1)
    own: list[Interval] = []
    given_or_booked: list[datetime] = []
    # Plain rows through the session's connection: no ORM entity to load, so none of the
    # ORM's per-statement set-up.
    connection = db.connection()
    for kind, start, end in connection.execute(
        _PATIENT_NEAR,
        {
            "patient_id": request.patient_id,
            "now": now,
            "reach_start": reach.start,
            "reach_end": reach.end,
            "reach_longest": reach.start - LONGEST_SESSION,
            "near_start": near - days,
            "near_end": near + days,
        },
    ):
        if kind == _OWN:
            own.append(Interval(start, end))
        else:
            given_or_booked.append(start)

    def load(window: Interval) -> Iterable[tuple[uuid.UUID, datetime, datetime, bool]]:
        found = {
            "low": window.start,
            "high": window.end,
            "longest": window.start - LONGEST_SESSION,
            "now": now,
        }
        if request.practitioner_id is None:
            return connection.execute(_BUSY, found)
        return connection.execute(_BUSY_OF, {**found, "id": request.practitioner_id})

    diaries = Diaries(
        calendars=calendars,
        own=own,
        duration=request.duration,
        grid=rules.grid,
        until=reach.end,
        load=load,
        now=now,
    )
    proposals, unplaced = propose_follow_ups(
        course=course, free_starting=diaries, existing_starts=given_or_booked
    )
    return ProposalOutcome(False, standing.flags, proposals, unplaced)


# Statements built once: a proposal runs them with new values, not new expressions.
_OWN, _GIVEN, _TO_COME = 0, 1, 2
_PATIENT_NEAR = union_all(
    # The patient's live sessions and holds overlapping the horizon: no slot may overlap one.
    select(literal(_OWN), TreatmentSession.start_at, TreatmentSession.end_at).where(
        TreatmentSession.patient_id == bindparam("patient_id"),
        TreatmentSession.taking_time(bindparam("now", type_=UTCDateTime())),
        TreatmentSession.start_at < bindparam("reach_end"),
        TreatmentSession.end_at > bindparam("reach_start"),
        TreatmentSession.start_at > bindparam("reach_longest"),
    ),
    # Treatments given near it (the interval rule), whatever became of their session since.
    select(literal(_GIVEN), CompletionRecord.administered_at, cast(null(), UTCDateTime()))
    .select_from(TreatmentSession)
    .join(CompletionRecord, CompletionRecord.session_id == TreatmentSession.id)
    .where(
        TreatmentSession.patient_id == bindparam("patient_id"),
        CompletionRecord.administered_at > bindparam("near_start"),
        CompletionRecord.administered_at < bindparam("near_end"),
    ),
    # And those still to come, at their start.
    select(literal(_TO_COME), TreatmentSession.start_at, cast(null(), UTCDateTime())).where(
        TreatmentSession.patient_id == bindparam("patient_id"),
        TreatmentSession.status.in_((SessionStatus.BOOKED, SessionStatus.ARRIVED)),
        TreatmentSession.start_at > bindparam("near_start"),
        TreatmentSession.start_at < bindparam("near_end"),
    ),
)


def _busy_query(one: bool) -> CompoundSelect[uuid.UUID, datetime, datetime, bool]:
    """Time off, live sessions and holds overlapping [low, high), each saying whether it is a
    session (kept free around by a buffer): of one practitioner, or of all (placement ignores
    the rows of those it does not consider: a plain statement is cheaper than a list of ids
    spelled out anew in each)."""
    off = select(TimeOff.practitioner_id, TimeOff.start_at, TimeOff.end_at, false()).where(
        TimeOff.start_at < bindparam("high"), TimeOff.end_at > bindparam("low")
    )
    booked = select(
        TreatmentSession.practitioner_id,
        TreatmentSession.start_at,
        TreatmentSession.end_at,
        true(),
    ).where(
        TreatmentSession.taking_time(bindparam("now", type_=UTCDateTime())),
        TreatmentSession.start_at < bindparam("high"),
        TreatmentSession.end_at > bindparam("low"),
        TreatmentSession.start_at > bindparam("longest"),
    )
    if one:
        off = off.where(TimeOff.practitioner_id == bindparam("id"))
        booked = booked.where(TreatmentSession.practitioner_id == bindparam("id"))
    return union_all(off, booked)


_BUSY_OF, _BUSY = _busy_query(True), _busy_query(False)


def _calendars_query(
    one: bool,
) -> Select[uuid.UUID, str, bool, int | None, int | None, int, time, time]:
    query = select(
        Practitioner.id,
        Practitioner.time_zone,
        Practitioner.active,
        Practitioner.buffer_minutes,
        Practitioner.min_notice_minutes,
        WeeklyAvailability.weekday,
        WeeklyAvailability.start_time,
        WeeklyAvailability.end_time,
    ).outerjoin(WeeklyAvailability, WeeklyAvailability.practitioner_id == Practitioner.id)
    if one:
        return query.where(Practitioner.id == bindparam("id"))
    return query.where(Practitioner.active.is_(True))


_CALENDAR_OF, _CALENDARS = _calendars_query(True), _calendars_query(False)


def _calendars(db: Session, practitioner_id: uuid.UUID | None, clinic: Margins) -> list[Calendar]:
    """The one practitioner asked for (who must be active), else every active one, with their
    hours, buffer and notice (their own, else the `clinic`'s): one statement, plain rows."""
    if practitioner_id is not None:
        rows = db.connection().execute(_CALENDAR_OF, {"id": practitioner_id}).all()
        if not rows:
            raise NotFound(f"No practitioner with id {practitioner_id}.")
        if not rows[0].active:
            raise InactivePractitioner(f"Practitioner {practitioner_id} is not active.")
    else:
        rows = db.connection().execute(_CALENDARS).all()
    hours: dict[tuple[uuid.UUID, str, int | None, int | None], list[WeeklyHours]] = {}
    for pid, zone, _, buffer, notice, weekday, start, end in rows:
        found = hours.setdefault((pid, zone, buffer, notice), [])
        if weekday is not None:
            found.append(WeeklyHours(weekday, start, end))
    calendars = []
    for (pid, zone, buffer, notice), h in hours.items():
        margins = clinic.own(buffer, notice)
        calendars.append(
            Calendar(pid, _zone(zone), tuple(h), margins.buffer_minutes, margins.min_notice_minutes)
        )
    return calendars


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
