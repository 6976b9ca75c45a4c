"""Completing a session: the treatment record, every rule asked again at the moment the
sclerosant was given (the patient's standing, the sites, the day, the interval, the dose
against a clinician's weight), and the proposal for the course's next visit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from app.consents.service import require_consent
from app.errors import InvalidField, Versions
from app.evaluations.service import CLOCK_SKEW, Eligibility, current_eligibility
from app.models import (
    CompletionRecord,
    Evaluation,
    InjectionLine,
    Patient,
    PatientWeight,
    TreatmentSession,
)
from app.patients.service import PatientArchived
from app.plans.service import settle_completion
from app.policy import BookingRules, DoseLimits, SchedulingRules
from app.scheduling.service import (
    ProposalOutcome,
    next_follow_up,
)
from app.scheduling.slots import far_enough
from app.sessions.dosing import Earlier, Injection, check_doses
from app.sessions.errors import (
    DoseLimitExceeded,
    EligibilityBlocked,
    FacialVeinsExcluded,
    SiteNotEvaluated,
)
from app.sessions.lifecycle import (
    SessionAction,
    TreatmentDay,
    announce_step,
    load_locked,
    record_step,
    require,
    treatment_day,
)
from app.sessions.schemas import CompletionCreate
from app.sessions.slot_checks import check_interval
from app.vocabulary import Flag, FlagCode, Sclerosant, SclerosantForm, Severity, Site


@dataclass(frozen=True)
class Completed:
    session: TreatmentSession
    warnings: tuple[Flag, ...]
    # The patient's upcoming sessions this treatment brought within the interval rule.
    stranded: Sequence[TreatmentSession]
    # The proposal for the course's next visit; None when the course has none left.
    next_follow_up: ProposalOutcome | None


def complete(
    *,
    db: Session,
    session_id: uuid.UUID,
    record: CompletionCreate,
    limits: DoseLimits,
    rules: BookingRules,
    scheduling: SchedulingRules,
    now: datetime,
    expected_version: Versions | None = None,
) -> Completed:
    """Record what was done (arrived -> fulfilled). Nothing is recorded unless every rule
    held when the sclerosant was given (`administered_at`, by default now): the patient's
    standing, by what was on record then (the same question booking asks), the sites, the time
    (on the session's day, after check-in), the interval since the last treatment given, and
    the dose against a clinician's weight. A record written later that is refused by nothing
    but a finding recorded since is kept, with that finding as a warning: the treatment
    happened, and it counts for the next one. The answer has the proposal for the course's next
    visit."""
    session = load_locked(db, session_id)
    target = require(session, SessionAction.COMPLETE, expected_version)
    day = treatment_day(session, rules.check_in_ahead)
    given_at = _administered_at(record, session, day, now)
    # Given now: by everything on record, a finding committed while this request waited for
    # the patient's lock included. Given earlier (stated): by what was on record then, and by
    # every evaluation performed by then, however late it was written up: a finding made before
    # the injection is not dated away, and one made after it is a warning (`found_since`).
    stated = record.administered_at is not None
    known_at = given_at if stated else None
    judged = [
        current_eligibility(db=db, patient_id=session.patient_id, now=given_at, known_at=known_at)
    ]
    if stated:
        judged.append(
            current_eligibility(
                db=db, patient_id=session.patient_id, now=given_at, known_at=given_at, as_found=True
            )
        )
    for standing in judged:
        if standing.outcome.value == PatientArchived.code:
            raise PatientArchived(
                f"Patient {session.patient_id} is archived: not to be treated.",
                discloses=session.patient_id,
            )
        obstacles = standing.obstacles(given_at)
        if obstacles or standing.evaluation is None:
            raise EligibilityBlocked.because(session.patient_id, standing, obstacles, "given")
        _check_sites(record, standing.evaluation.spider_vein_sites, session.patient_id)
    given = record.given()
    # Informed consent: one standing when the sclerosant was given (`app.consents`), and for
    # a foam one that explained a foam's own risks (visual and neurological disturbance).
    foam = any(line.form is SclerosantForm.FOAM for line in given)
    require_consent(db, session.patient_id, given_at, foam=foam)
    standing = judged[0]
    check_interval(
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
    earlier, stated_that_day = _earlier_that_day(db, session, given_at)
    if stated_that_day is not None and (weight is None or stated_that_day < weight):
        # The day's limit is the lightest weight a clinician found that day: a heavier one
        # stated at a second session does not raise what the first one's allowed.
        weight = stated_that_day
        weight_notes = (
            *weight_notes,
            Flag(
                FlagCode.WEIGHT_FROM_EARLIER_RECORD,
                Severity.WARNING,
                f"{stated_that_day:g} kg, stated at another treatment within a day of this "
                "one, set the day's limit.",
            ),
        )
    dose = check_doses(injections=given, weight_kg=weight, earlier=earlier, limits=limits)
    if dose.exceeded:
        # The limit their weight gives, and that day's doses: disclosed.
        raise DoseLimitExceeded.over(dose.exceeded, discloses=session.patient_id)
    found_since = _found_since(record, since, now) if stated else ()
    warnings = (*dose.warnings, *weight_notes, *found_since)
    session.completion = CompletionRecord(
        **record.model_dump(include={"anaesthetic", "compression", "notes", "weight_kg"}),
        treated_sites=[s.value for s in record.sites],
        complications=[c.value for c in record.complications],
        aftercare=[a.value for a in record.aftercare],
        administered_at=given_at,
        warnings=[
            {"code": w.code, "severity": w.severity.value, "message": w.message} for w in warnings
        ],
        recorded_at=now,
        injections=[_line(position, line) for position, line in enumerate(given)],
    )
    record_step(session, SessionAction.COMPLETE, target, now)
    db.flush()
    announce_step(db, session, SessionAction.COMPLETE, now)
    settle_completion(db=db, plan_id=session.plan_id, now=now, session_id=session.id)
    return Completed(
        session,
        warnings,
        stranded=_too_close_now(db, session, given_at, now, rules),
        next_follow_up=next_follow_up(db=db, treated=session, rules=scheduling, now=now),
    )


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
    codes: list[str] = [f.code for f in since.obstacles(now)]
    evaluated = since.evaluation.spider_vein_sites if since.evaluation else []
    if any(site.value not in evaluated for site in record.sites):
        codes.append(SiteNotEvaluated.code)
    if not codes:
        return ()
    return (
        Flag(
            FlagCode.FOUND_SINCE_TREATMENT,
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
      less, or said less at any time since the clinician weighed (or ever, when no clinician
      recorded any weight), that weight sets the limit (said in a warning), unless the
      clinician stated today's. Raising or clearing the record's weight loosens nothing."""
    weighed = [
        s.evaluation for s in standings if s.evaluation and s.evaluation.weight_kg is not None
    ]
    clinical = [e.weight_kg for e in weighed if e.weight_kg is not None]
    since = min((e.performed_at for e in weighed), default=None)
    latest = _latest_clinical_weight(db, patient_id, now)
    if record.weight_kg is not None:
        usual = min(clinical) if clinical else (latest[0] if latest else None)
        known = "a clinician recorded before"
        if usual is None:  # no clinician's weight: the record's, lowest ever, is compared
            usual, known = _lowest_on_record(db, patient_id, None), "the patient's record says"
        if usual is not None and record.weight_kg > usual * _WEIGHT_DRIFT:
            return record.weight_kg, (
                Flag(
                    FlagCode.STATED_WEIGHT_ABOVE_RECORD,
                    Severity.WARNING,
                    f"The {record.weight_kg:g} kg stated here is well above the {usual:g} kg "
                    f"{known}, and set the limit: check it.",
                ),
            )
        return record.weight_kg, ()
    notes: list[Flag] = []
    weight = min(clinical) if clinical else None
    if weight is None and latest is not None:
        weight, when = latest
        since = when
        notes.append(
            Flag(
                FlagCode.WEIGHT_FROM_EARLIER_RECORD,
                Severity.WARNING,
                f"The current evaluation records no weight: the limit used {weight:g} kg, "
                f"recorded by a clinician on {when:%Y-%m-%d}.",
            )
        )
    elif weight is not None and latest is not None and since is not None:
        # A clinician weighed the patient since the evaluation (stated at a treatment, say),
        # and found less: that weight is not lost because the evaluation has one of its own.
        lighter, when = latest
        if when > since and lighter < weight:
            notes.append(
                Flag(
                    FlagCode.WEIGHT_FROM_EARLIER_RECORD,
                    Severity.WARNING,
                    f"A clinician recorded {lighter:g} kg on {when:%Y-%m-%d}, less than the "
                    f"{weight:g} kg of the current evaluation: that weight set the limit.",
                )
            )
            weight = lighter
    on_record = _lowest_on_record(db, patient_id, since)
    if on_record is not None and (weight is None or on_record < weight):
        notes.append(
            Flag(
                FlagCode.LOWER_WEIGHT_ON_RECORD
                if weight is not None
                else FlagCode.WEIGHT_NOT_CLINICAL,
                Severity.WARNING,
                f"The patient's record says {on_record:g} kg"
                + (f", less than the {weight:g} kg a clinician recorded" if weight else "")
                + ": that weight set the limit. State today's weight in the treatment record to "
                "settle it.",
            )
        )
        weight = on_record
    return weight, tuple(notes)


def _lowest_on_record(db: Session, patient_id: uuid.UUID, since: datetime | None) -> float | None:
    """The lowest weight the patient's record says now or has said since `since` (ever, when
    None)."""
    entered = select(PatientWeight.weight_kg).where(PatientWeight.patient_id == patient_id)
    if since is not None:
        entered = entered.where(PatientWeight.recorded_at >= since)
    now = select(Patient.weight_kg).where(Patient.id == patient_id)
    lowest = db.scalar(select(func.min(union_all(entered, now).subquery().c.weight_kg)))
    return float(lowest) if lowest is not None else None


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


def _check_sites(record: CompletionCreate, evaluated: Sequence[str], patient_id: uuid.UUID) -> None:
    if Site.FACE in record.sites:
        raise FacialVeinsExcluded(
            "Facial spider veins are not treated by micro-sclerotherapy (scarring risk)."
        )
    unassessed = [s.value for s in record.sites if s.value not in evaluated]
    if unassessed:
        raise SiteNotEvaluated(
            f"The current evaluation did not assess {', '.join(unassessed)}: evaluate a site "
            "before treating it.",
            sites=unassessed,
            discloses=patient_id,  # what their current evaluation assessed
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


def _line(position: int, given: Injection) -> InjectionLine:
    return InjectionLine(
        position=position,
        site=given.site.value if given.site else None,
        vessel=given.vessel,
        sclerosant=given.sclerosant.value,
        concentration_percent=given.concentration_percent,
        form=given.form,
        foam_ratio=str(given.foam_ratio) if given.foam_ratio else None,
        gas=given.gas,
        volume_ml=given.volume_ml,
        count=given.count,
        dose_mg=given.dose_mg,
    )


def _earlier_that_day(
    db: Session, session: TreatmentSession, given_at: datetime
) -> tuple[Earlier, float | None]:
    """What the patient was already given in their other sessions within a day of `given_at`,
    before or after it (a record may be written later than another of that day): each
    sclerosant's milligrams, and the foam; and the lowest weight a clinician stated in them.
    A session since marked entered in error counts too: it was given all the same.

    A day is the 24 hours either side, not a calendar day: a calendar day ends at a midnight
    that depends on the zone of the session's place, and two treatments either side of it
    would each have had a day's dose (the interval rule keeps them apart by default, but a
    clinic may set it to a day or none)."""
    near = (
        TreatmentSession.patient_id == session.patient_id,
        TreatmentSession.id != session.id,
        CompletionRecord.administered_at > given_at - _DOSE_DAY,
        CompletionRecord.administered_at < given_at + _DOSE_DAY,
    )
    given = db.execute(
        select(
            InjectionLine.sclerosant,
            InjectionLine.form,
            func.sum(InjectionLine.dose_mg),
            func.sum(InjectionLine.volume_ml),
        )
        .join(CompletionRecord, InjectionLine.completion_id == CompletionRecord.id)
        .join(TreatmentSession, CompletionRecord.session_id == TreatmentSession.id)
        .where(*near)
        .group_by(InjectionLine.sclerosant, InjectionLine.form)
    ).all()
    lightest = db.scalar(
        select(func.min(CompletionRecord.weight_kg))
        .join(TreatmentSession, CompletionRecord.session_id == TreatmentSession.id)
        .where(*near)
    )
    mg: dict[Sclerosant, float] = {}
    foam_ml = 0.0
    for sclerosant, form, dose_mg, volume_ml in given:
        mg[Sclerosant(sclerosant)] = mg.get(Sclerosant(sclerosant), 0.0) + float(dose_mg)
        if form is SclerosantForm.FOAM:
            foam_ml += float(volume_ml)
    return Earlier(mg=mg, foam_ml=foam_ml), lightest


_DOSE_DAY = timedelta(hours=24)
