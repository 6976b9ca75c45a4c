"""Booking and the session life cycle.

Booking is the only way a session enters the calendar. Overlaps are refused by the database
itself: on PostgreSQL by exclusion constraints, on SQLite by the write lock every writing
request takes before its first read (see `app.db`). No in-process lock is involved.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.errors import Conflict, DomainError, NotFound
from app.evaluations.rules import Flag, Severity, Site
from app.evaluations.service import PatientArchived, current_eligibility
from app.models import (
    LIVE_STATUSES,
    CompletionRecord,
    Evaluation,
    SessionEvent,
    SessionStatus,
    TimeOff,
    TreatmentPlan,
    TreatmentSession,
    utcnow,
)
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.patients.service import get_patient
from app.plans.service import UnknownPlan, active_plan, settle_completion
from app.practitioners.service import get_practitioner
from app.scheduling.service import InactivePractitioner, weekly_hours
from app.scheduling.slots import Interval, days_apart, within_weekly_hours
from app.sessions.dosing import DoseLimits, check_dose
from app.sessions.schemas import CompletionCreate, RescheduleBody, SessionCreate


class UnknownPatient(DomainError):
    status = 422
    code = "unknown-patient"
    title = "No such patient"


class EligibilityBlocked(Conflict):
    code = "eligibility-blocked"
    title = "The patient may not be booked"

    def without_reasons(self) -> EligibilityBlocked:
        """The same refusal without the outcome and flags, for a caller who may not read
        evaluations (an EHR integration)."""
        return EligibilityBlocked(
            "Micro-sclerotherapy cannot be booked for this patient now; the clinic's staff "
            "can see why."
        )


class OutsideAvailability(DomainError):
    status = 422
    code = "outside-availability"
    title = "Outside the practitioner's hours"


class SlotTaken(Conflict):
    code = "slot-taken"
    title = "The time overlaps another session"


class IntervalTooShort(DomainError):
    status = 422
    code = "interval-too-short"
    title = "Too close to another session of the patient"


class InThePast(DomainError):
    status = 422
    code = "in-the-past"
    title = "The time is in the past"


class PlanFull(Conflict):
    code = "plan-full"
    title = "The plan has all its sessions"


class InvalidTransition(Conflict):
    code = "invalid-transition"
    title = "The session cannot go to that status"


class FacialVeinsExcluded(DomainError):
    status = 422
    code = "facial-veins-excluded"
    title = "The face is not treated"


class DoseLimitExceeded(DomainError):
    status = 422
    code = "dose-limit-exceeded"
    title = "Over the sclerosant's dose limit"


BOOKING_ERRORS = (
    UnknownPatient,
    PatientArchived,
    EligibilityBlocked,
    OutsideAvailability,
    SlotTaken,
    IntervalTooShort,
    InThePast,
    UnknownPlan,
    PlanFull,
    InactivePractitioner,
)

# Which life-cycle step may start from which status (FHIR Appointment statuses).
_STEPS: dict[str, tuple[set[SessionStatus], SessionStatus]] = {
    "check-in": ({SessionStatus.BOOKED}, SessionStatus.ARRIVED),
    "complete": ({SessionStatus.ARRIVED}, SessionStatus.FULFILLED),
    "cancel": ({SessionStatus.BOOKED}, SessionStatus.CANCELLED),
    "no-show": ({SessionStatus.BOOKED}, SessionStatus.NOSHOW),
    "entered-in-error": (
        set(SessionStatus) - {SessionStatus.ENTERED_IN_ERROR},
        SessionStatus.ENTERED_IN_ERROR,
    ),
}


_BY_START = Keyset(
    columns=(TreatmentSession.start_at, TreatmentSession.id),
    parsers=(cursor_datetime, cursor_uuid),
)


@dataclass(frozen=True)
class BookingRules:
    min_gap_days: int  # calendar days on the clinic's clock between two sessions of a patient
    clinic_zone: ZoneInfo


def _load(session: Session, session_id: uuid.UUID) -> TreatmentSession:
    found = session.scalar(
        select(TreatmentSession)
        .options(selectinload(TreatmentSession.completion), selectinload(TreatmentSession.events))
        .where(TreatmentSession.id == session_id)
    )
    if found is None:
        raise NotFound(f"No session with id {session_id}.")
    return found


def get_session_record(*, session: Session, session_id: uuid.UUID) -> TreatmentSession:
    return _load(session, session_id)


def _serialize_patient(session: Session, patient_id: uuid.UUID) -> None:
    # One booking at a time per patient, held by the database until commit: the interval
    # rule and a plan's count then see every committed booking. (SQLite: the write lock.)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"patient:{patient_id}"},
        )


def _check_slot(
    *,
    session: Session,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    slot: Interval,
    now: datetime,
    rules: BookingRules,
    moving: uuid.UUID | None = None,
) -> None:
    """Every check booking and rescheduling share; `moving` is the session being moved."""
    if slot.start <= now:
        raise InThePast("Sessions are booked for a time still to come.")
    practitioner = get_practitioner(session=session, practitioner_id=practitioner_id)
    if not practitioner.active:
        raise InactivePractitioner(f"Practitioner {practitioner_id} is not active.")
    zone = ZoneInfo(practitioner.time_zone)
    if not within_weekly_hours(slot, weekly_hours=weekly_hours(practitioner), zone=zone):
        raise OutsideAvailability(
            f"{slot.start.astimezone(zone):%a %d %b %H:%M}-{slot.end.astimezone(zone):%H:%M} "
            f"({practitioner.time_zone}) is outside the practitioner's weekly hours."
        )
    absent = session.scalar(
        select(TimeOff.reason).where(
            TimeOff.practitioner_id == practitioner_id,
            TimeOff.start_at < slot.end,
            TimeOff.end_at > slot.start,
        )
    )
    if absent is not None:
        raise OutsideAvailability("The practitioner is away then (time off).")
    others = select(TreatmentSession).where(TreatmentSession.status.in_(LIVE_STATUSES))
    if moving is not None:
        others = others.where(TreatmentSession.id != moving)
    clash = session.scalar(
        others.where(
            (TreatmentSession.practitioner_id == practitioner_id)
            | (TreatmentSession.patient_id == patient_id),
            TreatmentSession.overlapping(slot.start, slot.end),
        ).limit(1)
    )
    if clash is not None:
        whose = "practitioner" if clash.practitioner_id == practitioner_id else "patient"
        raise SlotTaken(f"The {whose} already has a session then.", session_id=str(clash.id))
    # Calendar days on the clinic's clock: Monday 09:00 to Monday 09:00 two weeks on is 14
    # days, even when a daylight-saving change makes it an hour short.
    margin = timedelta(days=rules.min_gap_days + 1)
    nearby = session.scalars(
        others.where(
            TreatmentSession.patient_id == patient_id,
            TreatmentSession.start_at > slot.start - margin,
            TreatmentSession.start_at < slot.start + margin,
        ).order_by(TreatmentSession.start_at)
    )
    near = next(
        (
            s
            for s in nearby
            if days_apart(s.start_at, slot.start, rules.clinic_zone) < rules.min_gap_days
        ),
        None,
    )
    if near is not None:
        raise IntervalTooShort(
            f"Sessions of one patient are at least {rules.min_gap_days} days apart; "
            f"another starts {near.start_at.isoformat()}.",
            session_id=str(near.id),
        )


def _eligibility_at(session: Session, patient_id: uuid.UUID, slot: Interval, now: datetime) -> None:
    standing = current_eligibility(session=session, patient_id=patient_id, now=now)
    flags: Sequence[Flag] = standing.flags
    if standing.bookable and standing.valid_until is not None and standing.valid_until < slot.end:
        flags = [
            Flag(
                "evaluation-expires-before-session",
                Severity.BLOCKING,
                f"The evaluation is valid until {standing.valid_until.isoformat()}, "
                "before this session: book after a new evaluation.",
            )
        ]
    elif standing.bookable:
        return
    raise EligibilityBlocked(
        f"Micro-sclerotherapy cannot be booked: {standing.outcome.value}.",
        outcome=standing.outcome.value,
        flags=[{"code": f.code, "severity": f.severity.value, "message": f.message} for f in flags],
    )


def _flush_booking(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        # 23P01: an exclusion constraint refused an overlap a concurrent booking just made.
        if getattr(exc.orig, "sqlstate", None) == "23P01":
            raise SlotTaken("Another session was booked at that time meanwhile.") from None
        raise


def book(
    *, session: Session, data: SessionCreate, now: datetime, rules: BookingRules
) -> TreatmentSession:
    """Put a session in the calendar, or refuse with the reason."""
    _serialize_patient(session, data.patient_id)
    try:
        patient = get_patient(session=session, patient_id=data.patient_id)
    except NotFound:
        raise UnknownPatient(f"No patient with id {data.patient_id}.") from None
    if patient.archived:
        raise PatientArchived(f"Patient {patient.id} is archived.")
    slot = Interval(data.start, data.start + timedelta(minutes=data.duration_minutes))
    _eligibility_at(session, patient.id, slot, now)
    plan = _bookable_plan(session, data.plan_id, patient.id)
    _check_slot(
        session=session,
        patient_id=patient.id,
        practitioner_id=data.practitioner_id,
        slot=slot,
        now=now,
        rules=rules,
    )
    booked = TreatmentSession(
        patient_id=patient.id,
        practitioner_id=data.practitioner_id,
        plan_id=plan.id if plan else None,
        start_at=slot.start,
        end_at=slot.end,
        status=SessionStatus.BOOKED,
        events=[SessionEvent(action="book", from_status=None, to_status=SessionStatus.BOOKED)],
        completion=None,
    )
    session.add(booked)
    _flush_booking(session)
    return booked


def _bookable_plan(
    session: Session, plan_id: uuid.UUID | None, patient_id: uuid.UUID
) -> TreatmentPlan | None:
    if plan_id is None:
        return None
    plan = active_plan(session=session, plan_id=plan_id, patient_id=patient_id)
    if plan.sessions_live >= plan.planned_sessions:
        raise PlanFull(f"The plan's {plan.planned_sessions} sessions are all booked or done.")
    return plan


def reschedule(
    *,
    session: Session,
    session_id: uuid.UUID,
    change: RescheduleBody,
    now: datetime,
    rules: BookingRules,
) -> TreatmentSession:
    """Move a booked session, with the same checks as booking; the old time is kept."""
    visit = _load(session, session_id)
    _serialize_patient(session, visit.patient_id)
    _require(visit, "reschedule", {SessionStatus.BOOKED})
    duration = (
        timedelta(minutes=change.duration_minutes)
        if change.duration_minutes
        else visit.end_at - visit.start_at
    )
    slot = Interval(change.start, change.start + duration)
    practitioner_id = change.practitioner_id or visit.practitioner_id
    _eligibility_at(session, visit.patient_id, slot, now)
    _check_slot(
        session=session,
        patient_id=visit.patient_id,
        practitioner_id=practitioner_id,
        slot=slot,
        now=now,
        rules=rules,
        moving=visit.id,
    )
    visit.events.append(
        SessionEvent(
            action="reschedule",
            from_status=visit.status,
            to_status=visit.status,
            old_start_at=visit.start_at,
            old_end_at=visit.end_at,
            reason=change.reason,
        )
    )
    visit.start_at, visit.end_at, visit.practitioner_id = slot.start, slot.end, practitioner_id
    visit.updated_at = utcnow()
    _flush_booking(session)
    return visit


def _require(visit: TreatmentSession, action: str, allowed: set[SessionStatus]) -> None:
    if visit.status not in allowed:
        raise InvalidTransition(
            f"Cannot {action} a session that is {visit.status.value}.",
            session_status=visit.status.value,
        )


def step(
    *,
    session: Session,
    session_id: uuid.UUID,
    action: str,
    now: datetime,
    reason: str | None = None,
) -> TreatmentSession:
    """check-in, cancel, no-show or entered-in-error."""
    visit = _load(session, session_id)
    allowed, target = _STEPS[action]
    _require(visit, action, allowed)
    if action == "no-show" and now < visit.start_at:
        raise InvalidTransition(
            "A no-show is recorded only after the start time.", session_status=visit.status.value
        )
    was_fulfilled = visit.status is SessionStatus.FULFILLED
    _move(visit, action, target, reason)
    if action == "cancel":
        visit.cancel_reason = reason
    session.flush()
    if was_fulfilled:  # entered in error: the course has one fulfilled session fewer
        settle_completion(session=session, plan_id=visit.plan_id)
    return visit


def _move(visit: TreatmentSession, action: str, target: SessionStatus, reason: str | None) -> None:
    visit.events.append(
        SessionEvent(action=action, from_status=visit.status, to_status=target, reason=reason)
    )
    visit.status = target
    visit.updated_at = utcnow()


@dataclass(frozen=True)
class Completed:
    visit: TreatmentSession
    warnings: tuple[Flag, ...]


def complete(
    *,
    session: Session,
    session_id: uuid.UUID,
    record: CompletionCreate,
    limits: DoseLimits,
    clinic_zone: ZoneInfo,
) -> Completed:
    """Record what was done (arrived -> fulfilled), after the facial-site and dose checks."""
    visit = _load(session, session_id)
    _require(visit, "complete", _STEPS["complete"][0])
    if Site.FACE in record.treated_sites:
        raise FacialVeinsExcluded(
            "Facial spider veins are not treated by micro-sclerotherapy (scarring risk)."
        )
    dose = check_dose(
        sclerosant=record.sclerosant,
        concentration_percent=record.concentration_percent,
        volume_ml=record.volume_ml,
        weight_kg=_weight(session, visit.patient_id),
        same_day_mg=_same_day_dose(session, visit, record.sclerosant.value, clinic_zone),
        limits=limits,
    )
    if dose.exceeded:
        raise DoseLimitExceeded(
            f"{dose.dose_mg:g} mg of {record.sclerosant.value} is over the limit of "
            f"{dose.limit_mg:g} mg.",
            dose_mg=dose.dose_mg,
            limit_mg=dose.limit_mg,
        )
    warnings = [
        {"code": w.code, "severity": w.severity.value, "message": w.message} for w in dose.warnings
    ]
    visit.completion = CompletionRecord(
        **record.model_dump(exclude={"treated_sites", "complications", "aftercare"}),
        treated_sites=[s.value for s in record.treated_sites],
        complications=[c.value for c in record.complications],
        aftercare=[a.value for a in record.aftercare],
        dose_mg=dose.dose_mg,
        warnings=warnings,
    )
    _move(visit, "complete", SessionStatus.FULFILLED, None)
    session.flush()
    settle_completion(session=session, plan_id=visit.plan_id)
    return Completed(visit, dose.warnings)


def _weight(session: Session, patient_id: uuid.UUID) -> float | None:
    """The patient's weight, else the latest evaluation's."""
    patient = get_patient(session=session, patient_id=patient_id)
    if patient.weight_kg is not None:
        return patient.weight_kg
    return session.scalar(
        select(Evaluation.weight_kg)
        .where(Evaluation.patient_id == patient_id, Evaluation.weight_kg.is_not(None))
        .order_by(Evaluation.performed_at.desc())
        .limit(1)
    )


def _same_day_dose(
    session: Session, visit: TreatmentSession, sclerosant: str, zone: ZoneInfo
) -> float:
    """What the patient already received of this sclerosant on the session's (clinic) day."""
    day = visit.start_at.astimezone(zone).date()
    day_start = datetime.combine(day, time(), tzinfo=zone)
    total = session.scalar(
        select(func.coalesce(func.sum(CompletionRecord.dose_mg), 0.0))
        .join(TreatmentSession, CompletionRecord.session_id == TreatmentSession.id)
        .where(
            TreatmentSession.patient_id == visit.patient_id,
            TreatmentSession.id != visit.id,
            TreatmentSession.status == SessionStatus.FULFILLED,
            CompletionRecord.sclerosant == sclerosant,
            TreatmentSession.start_at >= day_start,
            TreatmentSession.start_at < day_start + timedelta(days=1),
        )
    )
    return float(total or 0.0)


def list_sessions(
    *,
    session: Session,
    practitioner_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    statuses: Sequence[SessionStatus] = (),
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[TreatmentSession], str | None]:
    """Sessions ordered by start, filtered, a page at a time."""
    query = select(TreatmentSession).options(
        selectinload(TreatmentSession.completion), selectinload(TreatmentSession.events)
    )
    if practitioner_id is not None:
        query = query.where(TreatmentSession.practitioner_id == practitioner_id)
    if patient_id is not None:
        query = query.where(TreatmentSession.patient_id == patient_id)
    if plan_id is not None:
        query = query.where(TreatmentSession.plan_id == plan_id)
    if statuses:
        query = query.where(TreatmentSession.status.in_(statuses))
    if window_start is not None:
        query = query.where(TreatmentSession.ending_after(window_start))
    if window_end is not None:
        query = query.where(TreatmentSession.start_at < window_end)
    return paginate(session, query, _BY_START, limit=limit, cursor=cursor)
