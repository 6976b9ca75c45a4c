"""Booking, the session life cycle and the treatment record.

Booking is the only way a session enters the calendar. Overlaps are refused by the database
itself: on PostgreSQL by exclusion constraints, on SQLite by the write lock every writing
request takes before its first read (see `app.db`). No in-process lock is involved.

Every rule is asked again when the sclerosant is given: check-in opens on the session's day,
and completion needs the patient's standing at that moment (the same question booking asks),
a clinician's weight for the dose limit, and the interval since the last treatment given.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.errors import Conflict, DomainError, InvalidField, NotFound
from app.evaluations.rules import Flag, Severity, Site
from app.evaluations.service import CLOCK_SKEW, Eligibility, current_eligibility
from app.models import (
    AWAITING_TREATMENT,
    LIVE_STATUSES,
    CompletionRecord,
    Evaluation,
    Patient,
    SessionEvent,
    SessionStatus,
    TimeOff,
    TreatmentPlan,
    TreatmentSession,
    utcnow,
)
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate, paginate_kept
from app.patients.service import PatientArchived, get_patient, lock_patient
from app.plans.service import UnknownPlan, active_plan, settle_completion
from app.practitioners.hours import Interval, local_day
from app.practitioners.service import (
    InactivePractitioner,
    OutsideAvailability,
    UnknownPractitioner,
    calendar_conflict,
    get_practitioner,
    lock_practitioner,
)
from app.scheduling.service import treatment_times
from app.scheduling.slots import far_enough
from app.sessions.dosing import DoseLimits, check_dose
from app.sessions.review import review
from app.sessions.schemas import CompletionCreate, RescheduleBody, SessionCreate


class UnknownPatient(DomainError):
    status = 422
    code = "unknown-patient"
    title = "No such patient"


class EligibilityBlocked(Conflict):
    code = "eligibility-blocked"
    title = "The patient may not be booked or treated"

    @classmethod
    def because(
        cls, standing: Eligibility, flags: Sequence[Flag], doing: str
    ) -> EligibilityBlocked:
        return cls(
            f"Micro-sclerotherapy cannot be {doing}: {standing.outcome.value}.",
            outcome=standing.outcome.value,
            flags=[
                {"code": f.code, "severity": f.severity.value, "message": f.message} for f in flags
            ],
        )

    def without_reasons(self) -> EligibilityBlocked:
        """The same refusal without the outcome and flags, for a caller who may not read
        evaluations (an EHR integration)."""
        return EligibilityBlocked(
            "Micro-sclerotherapy cannot go ahead for this patient now; the clinic's staff can "
            "see why."
        )


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


class CheckInNotOpen(Conflict):
    code = "check-in-not-open"
    title = "Check-in is open on the session's day only"


class FacialVeinsExcluded(DomainError):
    status = 422
    code = "facial-veins-excluded"
    title = "The face is not treated"


class SiteNotEvaluated(DomainError):
    status = 422
    code = "site-not-evaluated"
    title = "A site the current evaluation did not assess"


class DoseLimitExceeded(DomainError):
    status = 422
    code = "dose-limit-exceeded"
    title = "Over the sclerosant's dose limit"


BOOKING_ERRORS = (
    UnknownPatient,
    UnknownPractitioner,
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
COMPLETION_ERRORS = (
    InvalidTransition,
    PatientArchived,
    EligibilityBlocked,
    FacialVeinsExcluded,
    SiteNotEvaluated,
    IntervalTooShort,
    DoseLimitExceeded,
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
    # Calendar days, where the session takes place, between two treatments of a patient.
    min_gap_days: int
    # Check-in opens on the session's local day, or this long before its start if earlier.
    check_in_ahead: timedelta = timedelta(0)


def _load(db: Session, session_id: uuid.UUID) -> TreatmentSession:
    found = db.scalar(
        select(TreatmentSession)
        .options(selectinload(TreatmentSession.completion), selectinload(TreatmentSession.events))
        .where(TreatmentSession.id == session_id)
    )
    if found is None:
        raise NotFound(f"No session with id {session_id}.")
    return found


def _load_locked(db: Session, session_id: uuid.UUID) -> TreatmentSession:
    """The session, read once its patient's lock is held: what a concurrent change to the
    patient's care committed meanwhile (a completion, a move) is then seen."""
    patient_id = db.scalar(
        select(TreatmentSession.patient_id).where(TreatmentSession.id == session_id)
    )
    if patient_id is None:
        raise NotFound(f"No session with id {session_id}.")
    lock_patient(db, patient_id)
    return _load(db, session_id)


def get_session_record(*, db: Session, session_id: uuid.UUID) -> TreatmentSession:
    return _load(db, session_id)


def _check_slot(
    *,
    db: Session,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    slot: Interval,
    now: datetime,
    rules: BookingRules,
    moving: uuid.UUID | None = None,
) -> str:
    """Every check booking and rescheduling share; `moving` is the session being moved. The
    answer: the time zone the session takes place in (the practitioner's)."""
    if slot.start <= now:
        raise InThePast("Sessions are booked for a time still to come.")
    lock_practitioner(db, practitioner_id)
    try:
        practitioner = get_practitioner(db=db, practitioner_id=practitioner_id)
    except NotFound:
        raise UnknownPractitioner(
            f"No practitioner with id {practitioner_id}.", field="practitioner_id"
        ) from None
    absences = db.scalars(
        select(TimeOff).where(
            TimeOff.practitioner_id == practitioner_id,
            TimeOff.start_at < slot.end,
            TimeOff.end_at > slot.start,
        )
    ).all()
    conflict = calendar_conflict(practitioner, slot, absences)
    if conflict is not None:
        raise conflict
    others = select(TreatmentSession).where(TreatmentSession.status.in_(LIVE_STATUSES))
    if moving is not None:
        others = others.where(TreatmentSession.id != moving)
    clash = db.scalar(
        others.where(
            (TreatmentSession.practitioner_id == practitioner_id)
            | (TreatmentSession.patient_id == patient_id),
            TreatmentSession.overlapping(slot.start, slot.end),
        ).limit(1)
    )
    if clash is not None:
        whose = "practitioner" if clash.practitioner_id == practitioner_id else "patient"
        raise SlotTaken(f"The {whose} already has a session then.", session_id=str(clash.id))
    _check_interval(
        db,
        patient_id,
        slot.start,
        zone=ZoneInfo(practitioner.time_zone),
        rules=rules,
        include_booked=True,
        excluding=moving,
    )
    return practitioner.time_zone


def _check_interval(
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
        raise EligibilityBlocked.because(standing, obstacles, doing)
    return standing


def book(
    *, db: Session, data: SessionCreate, now: datetime, rules: BookingRules
) -> TreatmentSession:
    """Put a session in the calendar, or refuse with the reason."""
    lock_patient(db, data.patient_id)
    try:
        patient = get_patient(db=db, patient_id=data.patient_id)
    except NotFound:
        raise UnknownPatient(f"No patient with id {data.patient_id}.") from None
    if patient.archived:
        raise PatientArchived(f"Patient {patient.id} is archived.")
    slot = Interval(data.start, data.start + timedelta(minutes=data.duration_minutes))
    _eligible_for(db, patient.id, slot, now, "booked")
    plan = _bookable_plan(db, data.plan_id, patient.id)
    zone = _check_slot(
        db=db,
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
        time_zone=zone,
        status=SessionStatus.BOOKED,
        events=[
            SessionEvent(action="book", from_status=None, to_status=SessionStatus.BOOKED, at=now)
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
) -> TreatmentSession:
    """Move a booked session, with the same checks as booking; the old time and practitioner
    are kept in its history."""
    session = _load_locked(db, session_id)
    _require(session, "reschedule", {SessionStatus.BOOKED})
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
            action="reschedule",
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


def _require(session: TreatmentSession, action: str, allowed: set[SessionStatus]) -> None:
    if session.status not in allowed:
        raise InvalidTransition(
            f"Cannot {action} a session that is {session.status.value}.",
            session_status=session.status.value,
        )


@dataclass(frozen=True)
class TreatmentDay:
    """When a session's patient may be checked in and treated: from `opens` (the start of the
    session's local day, or earlier by the clinic's setting) to the end of that day."""

    opens: datetime
    closes: datetime
    zone: ZoneInfo


def treatment_day(session: TreatmentSession, check_in_ahead: timedelta) -> TreatmentDay:
    """The session's day, where it takes place (its zone when booked, whatever the
    practitioner's profile says since)."""
    zone = ZoneInfo(session.time_zone)
    day = local_day(session.start_at, zone)
    return TreatmentDay(min(day.start, session.start_at - check_in_ahead), day.end, zone)


def step(
    *,
    db: Session,
    session_id: uuid.UUID,
    action: str,
    now: datetime,
    rules: BookingRules,
    reason: str | None = None,
) -> TreatmentSession:
    """check-in, cancel, no-show or entered-in-error."""
    session = _load(db, session_id)
    allowed, target = _STEPS[action]
    _require(session, action, allowed)
    if action == "no-show" and now < session.start_at:
        raise InvalidTransition(
            "A no-show is recorded only after the start time.", session_status=session.status.value
        )
    if action == "check-in":
        day = treatment_day(session, rules.check_in_ahead)
        if not day.opens <= now < day.closes:
            local = session.start_at.astimezone(day.zone)
            raise CheckInNotOpen(
                f"The session is on {local:%A %d %B %Y} ({day.zone.key}): check-in opens at "
                f"{day.opens.astimezone(day.zone):%d %b %H:%M} and closes at the end of that day.",
                opens=day.opens.isoformat(),
                closes=day.closes.isoformat(),
            )
    was_fulfilled = session.status is SessionStatus.FULFILLED
    _move(session, action, target, reason, now)
    if action == "cancel":
        session.cancel_reason = reason
    db.flush()
    if was_fulfilled:  # entered in error: the course has one fulfilled session fewer
        settle_completion(db=db, plan_id=session.plan_id)
    return session


def _move(
    session: TreatmentSession, action: str, target: SessionStatus, reason: str | None, now: datetime
) -> None:
    session.events.append(
        SessionEvent(
            action=action, from_status=session.status, to_status=target, reason=reason, at=now
        )
    )
    session.status = target
    session.updated_at = utcnow()


@dataclass(frozen=True)
class Completed:
    session: TreatmentSession
    warnings: tuple[Flag, ...]
    # The patient's upcoming sessions this treatment brought within the interval rule.
    stranded: Sequence[TreatmentSession] = ()


def complete(
    *,
    db: Session,
    session_id: uuid.UUID,
    record: CompletionCreate,
    limits: DoseLimits,
    rules: BookingRules,
    now: datetime,
) -> Completed:
    """Record what was done (arrived -> fulfilled). Nothing is recorded unless every rule
    held when the sclerosant was given (`administered_at`, by default now): the patient's
    standing, by what was on record then (the same question booking asks), the sites, the time
    (on the session's day, after check-in), the interval since the last treatment given, and
    the dose against a clinician's weight. A record written later that is refused by nothing
    but a finding recorded since is kept, with that finding as a warning: the treatment
    happened, and it counts for the next one."""
    session = _load_locked(db, session_id)
    _require(session, "complete", _STEPS["complete"][0])
    day = treatment_day(session, rules.check_in_ahead)
    given_at = _administered_at(record, session, day, now)
    # Given now: by everything on record, a finding committed while this request waited for
    # the patient's lock included. Given earlier (stated): by what was on record then.
    stated = record.administered_at is not None
    standing = current_eligibility(
        db=db,
        patient_id=session.patient_id,
        now=given_at,
        known_at=given_at if stated else None,
    )
    if standing.outcome.value == PatientArchived.code:
        raise PatientArchived(f"Patient {session.patient_id} is archived: not to be treated.")
    obstacles = standing.obstacles(given_at)
    if obstacles or standing.evaluation is None:
        raise EligibilityBlocked.because(standing, obstacles, "given")
    _check_sites(record, standing.evaluation.spider_vein_sites)
    _check_interval(
        db,
        session.patient_id,
        given_at,
        zone=day.zone,
        rules=rules,
        include_booked=False,
        excluding=session.id,
    )
    # What is on record now, when it differs from what was then: warned of, and the weight.
    since = (
        current_eligibility(db=db, patient_id=session.patient_id, now=now) if stated else standing
    )
    weight, weight_notes = _dose_weight(db, session.patient_id, record, (standing, since), now)
    dose = check_dose(
        sclerosant=record.sclerosant,
        concentration_percent=record.concentration_percent,
        volume_ml=record.volume_ml,
        weight_kg=weight,
        same_day_mg=_same_day_dose(db, session, record.sclerosant.value, given_at, day.zone),
        limits=limits,
    )
    if dose.exceeded:
        raise DoseLimitExceeded(
            f"{dose.exact_mg:.10g} mg of {record.sclerosant.value} (that day: "
            f"{dose.day_total_mg:.10g} mg) is over the limit of {dose.limit_mg:.10g} mg.",
            dose_mg=dose.dose_mg,
            limit_mg=dose.limit_mg,
        )
    found_since = _found_since(record, since, now) if stated else ()
    warnings = (*dose.warnings, *weight_notes, *found_since)
    session.completion = CompletionRecord(
        **record.model_dump(
            exclude={"treated_sites", "complications", "aftercare", "administered_at"}
        ),
        treated_sites=[s.value for s in record.treated_sites],
        complications=[c.value for c in record.complications],
        aftercare=[a.value for a in record.aftercare],
        dose_mg=dose.dose_mg,
        administered_at=given_at,
        warnings=[
            {"code": w.code, "severity": w.severity.value, "message": w.message} for w in warnings
        ],
        recorded_at=now,
    )
    _move(session, "complete", SessionStatus.FULFILLED, None, now)
    db.flush()
    settle_completion(db=db, plan_id=session.plan_id)
    return Completed(session, warnings, _too_close_now(db, session, given_at, now, rules))


def _too_close_now(
    db: Session, treated: TreatmentSession, given_at: datetime, now: datetime, rules: BookingRules
) -> Sequence[TreatmentSession]:
    """The patient's sessions still to come that a treatment given at `given_at` (later than
    booked, say) leaves too close to it: the review flags them; the answer names them."""
    margin = timedelta(days=rules.min_gap_days + 1)
    near = db.scalars(
        select(TreatmentSession)
        .where(
            TreatmentSession.patient_id == treated.patient_id,
            TreatmentSession.id != treated.id,
            TreatmentSession.awaiting_treatment(now),
            TreatmentSession.start_at > given_at - margin,
            TreatmentSession.start_at < given_at + margin,
        )
        .order_by(TreatmentSession.start_at)
    ).all()
    return [
        s
        for s in near
        if not far_enough(
            given_at, s.start_at, min_days=rules.min_gap_days, zone=ZoneInfo(s.time_zone)
        )
    ]


def _found_since(record: CompletionCreate, since: Eligibility, now: datetime) -> tuple[Flag, ...]:
    """What was recorded after the treatment that would forbid it now, as a warning."""
    codes = [f.code for f in since.obstacles(now)]
    evaluated = since.evaluation.spider_vein_sites if since.evaluation else []
    if any(site.value not in evaluated for site in record.treated_sites):
        codes.append(SiteNotEvaluated.code)
    if not codes:
        return ()
    return (
        Flag(
            "found-since-treatment",
            Severity.WARNING,
            f"Since the sclerosant was given, the patient's record changed "
            f"({', '.join(dict.fromkeys(codes))}): this would forbid the same treatment now. "
            "Review the patient before the next session.",
        ),
    )


# A weight stated at completion this much above the one on record is worth a second look.
_WEIGHT_DRIFT = 1.1


def _dose_weight(
    db: Session,
    patient_id: uuid.UUID,
    record: CompletionCreate,
    standings: tuple[Eligibility, Eligibility],
    now: datetime,
) -> tuple[float | None, tuple[Flag, ...]]:
    """The weight for the polidocanol limit, the lowest the records allow:
    - the one the clinician states in the treatment record (today's), else
    - the current evaluation's: the lower of the one current when the sclerosant was given and
      the one current now (a correction recorded since is not dated away), else
    - the latest a clinician recorded before (said in a warning);
    - then the patient's own record (which the front desk edits) never raises it: when it says
      less, or when no clinician recorded any weight, it sets the limit (said in a warning),
      unless the clinician stated today's."""
    recorded = [s.evaluation.weight_kg for s in standings if s.evaluation is not None]
    clinical = [w for w in recorded if w is not None]
    latest = _latest_clinical_weight(db, patient_id, now)
    if record.weight_kg is not None:
        usual = min(clinical) if clinical else (latest[0] if latest else None)
        if usual is not None and record.weight_kg > usual * _WEIGHT_DRIFT:
            return record.weight_kg, (
                Flag(
                    "stated-weight-above-record",
                    Severity.WARNING,
                    f"The {record.weight_kg:g} kg stated here is well above the {usual:g} kg a "
                    "clinician recorded before, and set the limit: check it.",
                ),
            )
        return record.weight_kg, ()
    notes: list[Flag] = []
    weight = min(clinical) if clinical else None
    if weight is None and latest is not None:
        weight, when = latest
        notes.append(
            Flag(
                "weight-from-earlier-record",
                Severity.WARNING,
                f"The current evaluation records no weight: the limit used {weight:g} kg, "
                f"recorded by a clinician on {when:%Y-%m-%d}.",
            )
        )
    on_record = db.scalar(select(Patient.weight_kg).where(Patient.id == patient_id))
    if on_record is not None and (weight is None or on_record < weight):
        notes.append(
            Flag(
                "lower-weight-on-record" if weight is not None else "weight-not-clinical",
                Severity.WARNING,
                f"The patient's record says {on_record:g} kg"
                + (f", less than the {weight:g} kg a clinician recorded" if weight else "")
                + ": that weight set the limit. State today's weight in the treatment record to "
                "settle it.",
            )
        )
        weight = on_record
    return weight, tuple(notes)


def _latest_clinical_weight(
    db: Session, patient_id: uuid.UUID, before: datetime
) -> tuple[float, datetime] | None:
    """The latest weight a clinician recorded by `before`: on an evaluation or a treatment
    record."""
    evaluated = db.execute(
        select(Evaluation.weight_kg, Evaluation.performed_at)
        .where(
            Evaluation.patient_id == patient_id,
            Evaluation.weight_kg.is_not(None),
            Evaluation.created_at <= before,
        )
        .order_by(Evaluation.performed_at.desc())
        .limit(1)
    ).first()
    stated = db.execute(
        select(CompletionRecord.weight_kg, CompletionRecord.administered_at)
        .join(TreatmentSession, CompletionRecord.session_id == TreatmentSession.id)
        .where(
            TreatmentSession.patient_id == patient_id,
            CompletionRecord.weight_kg.is_not(None),
            CompletionRecord.administered_at <= before,
        )
        .order_by(CompletionRecord.administered_at.desc())
        .limit(1)
    ).first()
    found = [(row[0], row[1]) for row in (evaluated, stated) if row and row[0] is not None]
    return max(found, key=lambda pair: pair[1]) if found else None


def _check_sites(record: CompletionCreate, evaluated: Sequence[str]) -> None:
    if Site.FACE in record.treated_sites:
        raise FacialVeinsExcluded(
            "Facial spider veins are not treated by micro-sclerotherapy (scarring risk)."
        )
    unassessed = [s.value for s in record.treated_sites if s.value not in evaluated]
    if unassessed:
        raise SiteNotEvaluated(
            f"The current evaluation did not assess {', '.join(unassessed)}: evaluate a site "
            "before treating it.",
            sites=unassessed,
        )


def _administered_at(
    record: CompletionCreate, session: TreatmentSession, day: TreatmentDay, now: datetime
) -> datetime:
    """When the sclerosant was given: as stated, else now. After the check-in, on the
    session's day, and not in the future (a clock a little fast is taken as now)."""
    # A check-in made before the session's day opened (allowed before this rule) does not
    # open it: the day does.
    earliest = max([day.opens, *(e.at for e in session.events if e.action == "check-in")])
    stated = record.administered_at or now
    if stated > now + CLOCK_SKEW:
        raise InvalidField(("body", "administered_at"), "is in the future")
    given_at = min(stated, now)
    if not earliest <= given_at < day.closes:
        raise InvalidField(
            ("body", "administered_at"),
            f"must fall between the check-in ({earliest.isoformat()}) and the end of the "
            f"session's day ({day.closes.isoformat()}); after that day, state when it was given",
        )
    return given_at


def _same_day_dose(
    db: Session, session: TreatmentSession, sclerosant: str, given_at: datetime, zone: ZoneInfo
) -> float:
    """What the patient was already given of this sclerosant on that day (where the session
    takes place), counted by when it was given, in any session since marked entered in error
    too: it was given all the same."""
    day = local_day(given_at, zone)
    total = db.scalar(
        select(func.coalesce(func.sum(CompletionRecord.dose_mg), 0.0))
        .join(TreatmentSession, CompletionRecord.session_id == TreatmentSession.id)
        .where(
            TreatmentSession.patient_id == session.patient_id,
            TreatmentSession.id != session.id,
            CompletionRecord.sclerosant == sclerosant,
            CompletionRecord.administered_at >= day.start,
            CompletionRecord.administered_at < day.end,
        )
    )
    return float(total or 0.0)


def list_sessions(
    *,
    db: Session,
    now: datetime,
    practitioner_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    statuses: Sequence[SessionStatus] = (),
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    needs_review: bool | None = None,
    min_gap_days: int = 0,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[TreatmentSession], str | None]:
    """Sessions ordered by start, filtered, a page at a time. `needs_review=True`: only the
    booked and checked-in ones that no longer pass the booking checks (False: all others)."""
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
    if needs_review is None:
        return paginate(db, query, _BY_START, limit=limit, cursor=cursor)
    if needs_review:
        query = query.where(TreatmentSession.status.in_(AWAITING_TREATMENT))

    def keep(batch: Sequence[TreatmentSession]) -> list[bool]:
        reasons = review(db=db, sessions=batch, now=now, min_gap_days=min_gap_days)
        return [bool(reasons[session.id]) is needs_review for session in batch]

    return paginate_kept(db, query, _BY_START, keep=keep, limit=limit, cursor=cursor)
