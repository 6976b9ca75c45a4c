"""Booking and moving a session: the only ways a session takes its time in the calendar.

Overlaps are refused by the database itself: on PostgreSQL by exclusion constraints, on SQLite
by the write lock every writing request takes before its first read (see `app.db`). No
in-process lock is involved.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import hold_lock
from app.errors import NotFound, Versions
from app.evaluations.service import Eligibility, current_eligibility
from app.models import SessionEvent, TreatmentPlan, TreatmentSession, utcnow
from app.patients.service import PatientArchived, patient_lock
from app.plans.service import active_plan
from app.policy import BookingRules
from app.practitioners.hours import Interval
from app.practitioners.service import (
    OutsideAvailability,
    UnknownPractitioner,
    calendar_conflict,
    get_practitioner,
    lock_practitioner,
    practitioner_lock,
)
from app.scheduling.service import (
    patient_sessions,
    practitioner_busy,
    treatment_times,
)
from app.scheduling.slots import far_enough
from app.sessions.errors import (
    EligibilityBlocked,
    IntervalTooShort,
    InThePast,
    PlanFull,
    SlotTaken,
    UnknownPatient,
)
from app.sessions.lifecycle import SessionAction, load_locked, require
from app.sessions.schemas import RescheduleBody, SessionCreate
from app.vocabulary import SessionStatus


def _check_slot(
    *,
    db: Session,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    slot: Interval,
    now: datetime,
    rules: BookingRules,
    moving: uuid.UUID | None = None,
    locked: bool = False,
) -> str:
    """Every check booking and rescheduling share; `moving` is the session being moved,
    `locked`: the practitioner's calendar is locked already. The answer: the time zone the
    session takes place in (the practitioner's)."""
    if slot.start <= now:
        raise InThePast("Sessions are booked for a time still to come.")
    if not locked:
        lock_practitioner(db, practitioner_id)
    try:
        practitioner = get_practitioner(db=db, practitioner_id=practitioner_id)
    except NotFound:
        raise UnknownPractitioner(
            f"No practitioner with id {practitioner_id}.", field="practitioner_id"
        ) from None
    conflict = calendar_conflict(practitioner, slot, absences=())  # active, inside hours
    if conflict is not None:
        raise conflict
    # The same question slot search asks: is the practitioner free (time off, sessions)?
    busy = practitioner_busy(
        db=db, practitioner_ids=[practitioner_id], window=slot, excluding=moving
    )[practitioner_id]
    if any(b.session_id is None for b in busy):
        raise OutsideAvailability("The practitioner is away then (time off).")
    if busy:
        raise SlotTaken(
            "The practitioner already has a session then.", session_id=str(busy[0].session_id)
        )
    own = patient_sessions(db=db, patient_id=patient_id, window=slot, excluding=moving)
    if own:
        raise SlotTaken(
            "The patient already has a session then.", session_id=str(own[0].session_id)
        )
    check_interval(
        db,
        patient_id,
        slot.start,
        zone=ZoneInfo(practitioner.time_zone),
        rules=rules,
        include_booked=True,
        excluding=moving,
    )
    return practitioner.time_zone


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
    near = next(
        (t for t in times if not far_enough(t.at, moment, min_days=rules.min_gap_days, zone=zone)),
        None,
    )
    if near is not None:
        raise IntervalTooShort(
            f"Treatments of one patient are at least {rules.min_gap_days} days apart; "
            f"session {near.session_id} is at {near.at.isoformat()}.",
            session_id=str(near.session_id),
            discloses=patient_id,  # another session of theirs, and when
        )


def _flush_booking(db: Session) -> None:
    try:
        db.flush()
    except IntegrityError as exc:
        # 23P01: an exclusion constraint refused an overlap a concurrent booking just made.
        if getattr(exc.orig, "sqlstate", None) == "23P01":
            raise SlotTaken("Another session was booked at that time meanwhile.") from None
        raise


def _eligible_for(
    db: Session, patient_id: uuid.UUID, slot: Interval, now: datetime, doing: str
) -> Eligibility:
    standing = current_eligibility(db=db, patient_id=patient_id, now=now)
    obstacles = standing.obstacles(slot.end)
    if obstacles:
        raise EligibilityBlocked.because(patient_id, standing, obstacles, doing)
    return standing


def book(
    *, db: Session, data: SessionCreate, now: datetime, rules: BookingRules
) -> TreatmentSession:
    """Put a session in the calendar, or refuse with the reason."""
    # The patient's care, then the practitioner's calendar (the order every change takes them).
    hold_lock(db, patient_lock(data.patient_id), practitioner_lock(data.practitioner_id))
    slot = Interval(data.start, data.start + timedelta(minutes=data.duration_minutes))
    try:
        standing = current_eligibility(db=db, patient_id=data.patient_id, now=now)
    except NotFound:
        raise UnknownPatient(f"No patient with id {data.patient_id}.") from None
    if standing.outcome.value == PatientArchived.code:
        raise PatientArchived(f"Patient {data.patient_id} is archived.", discloses=data.patient_id)
    obstacles = standing.obstacles(slot.end)
    if obstacles:
        raise EligibilityBlocked.because(data.patient_id, standing, obstacles, "booked")
    plan = _bookable_plan(db, data.plan_id, data.patient_id)
    zone = _check_slot(
        db=db,
        patient_id=data.patient_id,
        practitioner_id=data.practitioner_id,
        slot=slot,
        now=now,
        rules=rules,
        locked=True,
    )
    booked = TreatmentSession(
        patient_id=data.patient_id,
        practitioner_id=data.practitioner_id,
        plan_id=plan.id if plan else None,
        start_at=slot.start,
        end_at=slot.end,
        time_zone=zone,
        status=SessionStatus.BOOKED,
        events=[
            SessionEvent(
                action=SessionAction.BOOK.value,
                from_status=None,
                to_status=SessionStatus.BOOKED,
                at=now,
            )
        ],
        completion=None,
    )
    db.add(booked)
    _flush_booking(db)
    return booked


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
    are kept in its history."""
    session = load_locked(db, session_id)
    require(session, SessionAction.RESCHEDULE, expected_version)
    duration = (
        timedelta(minutes=change.duration_minutes)
        if change.duration_minutes
        else session.end_at - session.start_at
    )
    slot = Interval(change.start, change.start + duration)
    practitioner_id = change.practitioner_id or session.practitioner_id
    _eligible_for(db, session.patient_id, slot, now, "booked")
    zone = _check_slot(
        db=db,
        patient_id=session.patient_id,
        practitioner_id=practitioner_id,
        slot=slot,
        now=now,
        rules=rules,
        moving=session.id,
    )
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
        )
    )
    session.start_at, session.end_at, session.time_zone = slot.start, slot.end, zone
    session.practitioner_id = practitioner_id
    session.updated_at = utcnow()
    _flush_booking(db)
    return session
