"""Booked sessions that no longer pass the booking checks: why each needs review.

A session is booked against the rules as they stood then. A later evaluation, archiving the
patient, the practitioner's departure or absence, a change of their hours, a course put on
hold, or an earlier session treated later than booked can leave it unable to go ahead; it is
never cancelled behind the clinic's back, but flagged here, with the reasons, until someone
moves, cancels or settles it. The checks are booking's own (`Eligibility.obstacles`,
`calendar_conflict`, `far_enough`), asked of many sessions at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session, joinedload

from app.evaluations.service import standings
from app.models import (
    AWAITING_TREATMENT,
    CompletionRecord,
    Practitioner,
    TimeOff,
    TreatmentPlan,
    TreatmentSession,
)
from app.practitioners.hours import Interval
from app.practitioners.service import Calendar, calendar_conflict, weekly_hours
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

# The review's statements, built once (a day's calendar asks them on every read).
# Each practitioner with their hours and (joined alongside, one row each) their time off
# overlapping the sessions reviewed.
_CALENDARS = (
    select(Practitioner, TimeOff)
    .outerjoin(
        TimeOff,
        and_(
            TimeOff.practitioner_id == Practitioner.id,
            TimeOff.start_at < bindparam("until"),
            TimeOff.end_at > bindparam("since"),
        ),
    )
    .options(joinedload(Practitioner.availability))
    .where(Practitioner.id.in_(bindparam("practitioner_ids", expanding=True)))
)
_PLAN_STATUSES = select(_PLANS.c.id, _PLANS.c.status).where(
    _PLANS.c.id.in_(bindparam("plan_ids", expanding=True))
)
_GIVEN = (
    select(_SESSIONS.c.patient_id, _SESSIONS.c.id, _COMPLETIONS.c.administered_at)
    .select_from(_SESSIONS.join(_COMPLETIONS, _COMPLETIONS.c.session_id == _SESSIONS.c.id))
    .where(
        _SESSIONS.c.patient_id.in_(bindparam("patient_ids", expanding=True)),
        _COMPLETIONS.c.administered_at > bindparam("since"),
        _COMPLETIONS.c.administered_at < bindparam("until"),
    )
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
    last_start = max(v.start_at for v in awaiting)
    calendars = {
        "practitioner_ids": list({v.practitioner_id for v in awaiting}),
        "since": first_start,
        "until": max(v.end_at for v in awaiting),
    }
    # Each practitioner's hours read off once, not again for each of their sessions.
    practitioners: dict[uuid.UUID, Calendar] = {}
    absences: dict[uuid.UUID, list[TimeOff]] = {}
    for practitioner, absence in db.execute(_CALENDARS, calendars).unique():
        if practitioner.id not in practitioners:
            practitioners[practitioner.id] = _calendar(practitioner)
        away = absences.setdefault(practitioner.id, [])
        if absence is not None:
            away.append(absence)
    plan_ids = list({v.plan_id for v in awaiting if v.plan_id is not None})
    plans: dict[uuid.UUID, PlanStatus] = (
        {row.id: row.status for row in db.execute(_PLAN_STATUSES, {"plan_ids": plan_ids})}
        if plan_ids
        else {}
    )
    given = _given_near(db, patient_ids, first_start, last_start, min_gap_days)
    for session in awaiting:
        found = list(patients[session.patient_id].obstacles(session.end_at))
        slot = Interval(session.start_at, session.end_at)
        calendar = practitioners[session.practitioner_id]
        conflict = calendar_conflict(calendar, slot, absences[session.practitioner_id])
        if conflict is not None:
            found.append(Flag(FlagCode(conflict.code), Severity.BLOCKING, conflict.detail))
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


def _calendar(practitioner: Practitioner) -> Calendar:
    return Calendar(
        id=practitioner.id,
        active=practitioner.active,
        time_zone=practitioner.time_zone,
        hours=tuple(weekly_hours(practitioner)),
    )


def _given_near(
    db: Session,
    patient_ids: list[uuid.UUID],
    first_start: datetime,
    last_start: datetime,
    min_gap_days: int,
) -> dict[uuid.UUID, list[tuple[uuid.UUID, datetime]]]:
    """The treatments given to these patients within the interval of any session starting
    from `first_start` to `last_start`."""
    margin = timedelta(days=min_gap_days + 1)
    near = {"patient_ids": patient_ids, "since": first_start - margin, "until": last_start + margin}
    given: dict[uuid.UUID, list[tuple[uuid.UUID, datetime]]] = {}
    for patient_id, session_id, at in db.execute(_GIVEN, near):
        given.setdefault(patient_id, []).append((session_id, at))
    return given
