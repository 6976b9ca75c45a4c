"""Calendars from the database, fed to the pure slot arithmetic and proposal placement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Uuid, cast, null, select, union_all
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.evaluations.service import current_eligibility
from app.models import (
    LIVE_STATUSES,
    USUAL_COURSE_SESSIONS,
    USUAL_INTERVAL_DAYS,
    CompletionRecord,
    Practitioner,
    TimeOff,
    TreatmentSession,
    WeeklyAvailability,
)
from app.plans.service import active_plan, get_plan
from app.policy import SchedulingRules
from app.practitioners.hours import Interval, WeeklyHours
from app.practitioners.service import InactivePractitioner, get_practitioner, weekly_hours
from app.scheduling.proposals import (
    Candidate,
    Course,
    Proposal,
    Unplaced,
    day_start,
    propose_follow_ups,
    same_time_days_later,
)
from app.scheduling.slots import BusyIndex, free_slots
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
    excluding: uuid.UUID | None = None,
) -> dict[uuid.UUID, list[Busy]]:
    """Time off and live sessions overlapping `window`, for each practitioner: the one answer
    to "is the practitioner free?", for slot search, proposals and booking alike.
    `excluding`: a session being moved."""
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
        TreatmentSession.status.in_(LIVE_STATUSES),
        TreatmentSession.overlapping(window.start, window.end),
    )
    if excluding is not None:
        bookings = bookings.where(TreatmentSession.id != excluding)
    # One round trip: time off (no session id) and sessions together.
    for practitioner_id, start, end, session_id in db.execute(union_all(absences, bookings)):
        busy[practitioner_id].append(Busy(Interval(start, end), session_id))
    return busy


def patient_sessions(
    *,
    db: Session,
    patient_id: uuid.UUID,
    window: Interval | None = None,
    excluding: uuid.UUID | None = None,
) -> list[Busy]:
    """The patient's live sessions (booked, arrived, fulfilled), those overlapping `window`
    if given; `excluding`: a session being moved."""
    query = select(TreatmentSession.start_at, TreatmentSession.end_at, TreatmentSession.id).where(
        TreatmentSession.patient_id == patient_id,
        TreatmentSession.status.in_(LIVE_STATUSES),
    )
    if window is not None:
        query = query.where(TreatmentSession.overlapping(window.start, window.end))
    if excluding is not None:
        query = query.where(TreatmentSession.id != excluding)
    return [Busy(Interval(start, end), session_id) for start, end, session_id in db.execute(query)]


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
) -> tuple[Practitioner, list[Interval]]:
    practitioner = get_practitioner(db=db, practitioner_id=practitioner_id)
    busy = practitioner_busy(db=db, practitioner_ids=[practitioner.id], window=window)
    slots = free_slots(
        weekly_hours=weekly_hours(practitioner),
        zone=ZoneInfo(practitioner.time_zone),
        busy=[b.interval for b in busy[practitioner.id]],
        duration=duration,
        window=window,
        grid=grid,
    )
    return practitioner, slots


@dataclass(frozen=True)
class ProposalRequest:
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID | None
    plan_id: uuid.UUID | None
    sessions: int | None
    interval_days: int | None
    earliest: date
    duration: timedelta


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
    earliest = max(day_start(request.earliest, zone), now)
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
    calendars = _calendars(db, request.practitioner_id)
    # The patient's own sessions and treatments near the course's horizon (not their whole
    # history), read once; who else is busy, read for the windows placement asks about.
    horizon = course.horizon()
    reach = Interval(horizon.start, horizon.end + request.duration)
    margin = timedelta(days=rules.min_gap_days + 1)
    own = [b.interval for b in patient_sessions(db=db, patient_id=request.patient_id, window=reach)]
    busy = _BusyCache(db, [c.id for c in calendars], own)

    def free_starting(window: Interval) -> list[Candidate]:
        """Slots of the practitioners starting in `window` that the patient is free for."""
        wanted = Interval(window.start, min(window.end + request.duration, reach.end))
        indexes = busy.over(wanted)
        return [
            Candidate(slot, calendar.id, calendar.zone)
            for calendar in calendars
            for slot in free_slots(
                weekly_hours=calendar.hours,
                zone=calendar.zone,
                busy=indexes[calendar.id],
                duration=request.duration,
                window=wanted,
                grid=rules.grid,
            )
            if slot.start < window.end
        ]

    half = (reach.end - reach.start) / 2
    given_or_booked = treatment_times(
        db=db,
        patient_id=request.patient_id,
        near=reach.start + half,
        days=(half + margin).days + 1,
    )
    proposals, unplaced = propose_follow_ups(
        course=course,
        free_starting=free_starting,
        existing_starts=[t.at for t in given_or_booked],
    )
    return ProposalOutcome(False, standing.flags, proposals, unplaced)


class _BusyCache:
    """Who is busy when, read a stretch at a time as placement asks (a proposal usually needs a
    few days of the diaries, not the months its horizon spans), with a margin of a day either
    side: each window asked about is answered from one stretch read, indexed once."""

    _MARGIN = timedelta(days=1)

    def __init__(
        self, db: Session, practitioner_ids: Sequence[uuid.UUID], own: Sequence[Interval]
    ) -> None:
        self._db = db
        self._ids = list(practitioner_ids)
        self._own = list(own)
        self._stretches: list[tuple[Interval, dict[uuid.UUID, BusyIndex]]] = []

    def over(self, window: Interval) -> dict[uuid.UUID, BusyIndex]:
        for stretch, indexes in self._stretches:
            if stretch.start <= window.start and window.end <= stretch.end:
                return indexes
        stretch = Interval(window.start - self._MARGIN, window.end + self._MARGIN)
        found = practitioner_busy(db=self._db, practitioner_ids=self._ids, window=stretch)
        indexes = {
            pid: BusyIndex([*(b.interval for b in taken), *self._own])
            for pid, taken in found.items()
        }
        self._stretches.append((stretch, indexes))
        return indexes


@dataclass(frozen=True)
class _Calendar:
    """A practitioner as placement sees them: their zone and weekly hours."""

    id: uuid.UUID
    zone: ZoneInfo
    hours: tuple[WeeklyHours, ...]


def _calendars(db: Session, practitioner_id: uuid.UUID | None) -> list[_Calendar]:
    """The one practitioner asked for (who must be active), else every active one, with their
    hours: one statement, plain rows."""
    query = select(
        Practitioner.id,
        Practitioner.time_zone,
        Practitioner.active,
        WeeklyAvailability.weekday,
        WeeklyAvailability.start_time,
        WeeklyAvailability.end_time,
    ).outerjoin(WeeklyAvailability, WeeklyAvailability.practitioner_id == Practitioner.id)
    if practitioner_id is not None:
        query = query.where(Practitioner.id == practitioner_id)
    else:
        query = query.where(Practitioner.active.is_(True))
    rows = db.execute(query).all()
    if practitioner_id is not None:
        if not rows:
            raise NotFound(f"No practitioner with id {practitioner_id}.")
        if not rows[0].active:
            raise InactivePractitioner(f"Practitioner {practitioner_id} is not active.")
    hours: dict[tuple[uuid.UUID, str], list[WeeklyHours]] = {}
    for row in rows:
        found = hours.setdefault((row.id, row.time_zone), [])
        if row.weekday is not None:
            found.append(WeeklyHours(row.weekday, row.start_time, row.end_time))
    return [_Calendar(pid, ZoneInfo(zone), tuple(h)) for (pid, zone), h in hours.items()]


def next_follow_up(
    *, db: Session, treated: TreatmentSession, rules: SchedulingRules, now: datetime
) -> ProposalOutcome | None:
    """After `treated` (a session of a course): the proposal for the course's next visit, or
    None when none is left."""
    if treated.plan_id is None:
        return None
    plan = get_plan(db=db, plan_id=treated.plan_id)
    if plan.status is not PlanStatus.ACTIVE or plan.sessions_live >= plan.planned_sessions:
        return None
    # Advice only: if the practitioner has left meanwhile, any active one will do.
    practitioner = get_practitioner(db=db, practitioner_id=treated.practitioner_id)
    return propose(
        db=db,
        request=ProposalRequest(
            patient_id=treated.patient_id,
            practitioner_id=practitioner.id if practitioner.active else None,
            plan_id=plan.id,
            sessions=1,
            interval_days=None,
            earliest=now.astimezone(rules.clinic_zone).date(),
            duration=treated.end_at - treated.start_at,
        ),
        rules=rules,
        now=now,
    )
