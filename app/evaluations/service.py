"""Recording evaluations, clearing their relative flags, and the patient's eligibility.

`current_eligibility` is the one question booking, completion and proposals ask: may this
patient be treated now? (`standings` asks it for many patients at once.)

The current evaluation is the newest by `performed_at` (of two at the same moment, the later
recorded). An evaluation may not be dated in the future: a clock up to `CLOCK_SKEW` fast is
accepted and its time stored as the moment of recording, so it never outranks one recorded
after it. An evaluation dated earlier but recorded after the current one (a backdated record)
is never ignored: unless its outcome is `eligible`, the patient stays unbookable until a
clinician records a newer evaluation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.errors import Conflict, InvalidField, NotFound, Versions, require_version
from app.evaluations.rules import (
    Assessment,
    EvaluationFacts,
    assess,
    outcome_after_clearance,
    valid_until,
)
from app.evaluations.schemas import ClearanceCreate, EvaluationCreate
from app.events.outbox import announce
from app.models import Clearance, Evaluation, Patient, Practitioner, TreatmentSession, one_of
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.patients.service import PatientArchived, get_patient, lock_patient
from app.practitioners.service import InactivePractitioner, UnknownPractitioner
from app.vocabulary import (
    EVALUATION_EXPIRED,
    EVALUATION_MISSING,
    PATIENT_ARCHIVED,
    EligibilityOutcome,
    EventType,
    Flag,
    FlagCode,
    Outcome,
    RiskFactor,
    Severity,
)


class NotClearable(Conflict):
    code = "not-clearable"
    title = "Nothing here a clearance can lift"


class AlreadyCleared(Conflict):
    code = "already-cleared"
    title = "The evaluation is already cleared"


# A clock a few minutes fast on the client's side is not an evaluation "in the future".
CLOCK_SKEW = timedelta(minutes=5)


# The current evaluation as an `Eligibility` holds it: a row of the columns the rules and the
# callers read (what it found, when, until when, the sites and weight a treatment is checked
# against, its clearance), not the full record.
EvaluationRow = Row[*tuple[Any, ...]]


@dataclass(frozen=True)
class CurrentClearance:
    """The current evaluation's clearance, as the patient's standing shows it."""

    id: uuid.UUID
    practitioner_id: uuid.UUID
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class Eligibility:
    """A patient's standing for booking at a given moment."""

    bookable: bool
    outcome: EligibilityOutcome
    flags: tuple[Flag, ...]
    evaluation: EvaluationRow | None = field(default=None)

    @property
    def evaluation_id(self) -> uuid.UUID | None:
        return self.evaluation.id if self.evaluation else None

    @property
    def valid_until(self) -> datetime | None:
        return self.evaluation.valid_until if self.evaluation else None

    @property
    def clearance(self) -> CurrentClearance | None:
        """The current evaluation's clearance, whenever it was recorded."""
        current = self.evaluation
        if current is None or current.clearance_id is None:
            return None
        return CurrentClearance(
            current.clearance_id, current.cleared_by, current.clearance_reason, current.cleared_at
        )

    def obstacles(self, until: datetime) -> tuple[Flag, ...]:
        """What keeps the patient from a session lasting until `until`; none: it may go ahead
        (booked, moved, kept on the calendar or, at `until` = now, treated)."""
        if not self.bookable:
            return self.flags
        if self.valid_until is not None and self.valid_until < until:
            return (
                Flag(
                    FlagCode.EVALUATION_EXPIRES_BEFORE_SESSION,
                    Severity.BLOCKING,
                    f"The evaluation is valid until {self.valid_until.isoformat()}, before this "
                    "session ends: book it after a new evaluation.",
                ),
            )
        return ()


# Newest first: by when it was performed, then (same moment) the later recorded. The first
# one is the current one, the one eligibility goes by.
_NEWEST_FIRST = Keyset(
    columns=(Evaluation.performed_at, Evaluation.created_at, Evaluation.id),
    parsers=(cursor_datetime, cursor_datetime, cursor_uuid),
    descending=True,
)


def _facts(data: EvaluationCreate) -> EvaluationFacts:
    return EvaluationFacts(
        sites=frozenset(data.spider_vein_sites),
        ceap=data.ceap_class,
        varicose_veins=data.varicose_veins,
        varicose_treatment_recorded=data.varicose_treatment is not None,
        risk_factors={RiskFactor(k): v for k, v in data.risk_factors.model_dump().items()},
        benefits_and_risks_explained=data.benefits_and_risks_explained,
    )


def _stored_assessment(evaluation: Evaluation | EvaluationRow) -> Assessment:
    flags = tuple(
        Flag(FlagCode(f["code"]), Severity(f["severity"]), f["message"]) for f in evaluation.flags
    )
    return Assessment(flags=flags, outcome=Outcome(evaluation.outcome))


def evaluation_outcome(evaluation: Evaluation) -> Outcome:
    """The outcome that stands: the rules' verdict, lifted to eligible by a clearance."""
    return outcome_after_clearance(
        _stored_assessment(evaluation), cleared=evaluation.clearance is not None
    )


def _ensure_practitioner(db: Session, practitioner_id: uuid.UUID) -> Practitioner:
    practitioner = db.get(Practitioner, practitioner_id)
    if practitioner is None:
        raise UnknownPractitioner(
            f"No practitioner with id {practitioner_id}.", field="practitioner_id"
        )
    return practitioner


@dataclass(frozen=True)
class Recorded:
    evaluation: Evaluation
    # The patient's upcoming sessions that may no longer go ahead as booked, after it.
    stranded: Sequence[TreatmentSession]


def record_evaluation(
    *,
    db: Session,
    patient_id: uuid.UUID,
    data: EvaluationCreate,
    practitioner_id: uuid.UUID,
    validity_months: int,
    now: datetime,
) -> Recorded:
    """Store an evaluation, signed by `practitioner_id` (`signatures.signature` says whose
    name that may be), with the flags and outcome the rules give it, and name the patient's
    upcoming sessions it leaves in doubt (the patient no longer bookable, or the evaluation
    valid for less long than they need)."""
    if data.performed_at > now + CLOCK_SKEW:
        raise InvalidField(
            ("body", "performed_at"),
            "is in the future: record an evaluation once it is performed",
        )
    performed_at = min(data.performed_at, now)  # never ahead of its own recording
    lock_patient(db, patient_id)
    patient = get_patient(db=db, patient_id=patient_id)
    if patient.archived:
        raise PatientArchived(f"Patient {patient_id} is archived: restore them first.")
    # Compared with the latest calendar date anywhere on Earth at that instant.
    if (performed_at + timedelta(hours=14)).date() < patient.birth_date:
        raise InvalidField(("body", "performed_at"), "is before the patient's birth date")
    if not _ensure_practitioner(db, practitioner_id).active:
        raise InactivePractitioner(
            f"Practitioner {practitioner_id} is not active: an evaluation is recorded by a "
            "practising clinician."
        )
    assessment = assess(_facts(data))
    before = current_eligibility(db=db, patient_id=patient.id, now=now)
    treatment = data.varicose_treatment
    evaluation = Evaluation(
        patient_id=patient.id,
        practitioner_id=practitioner_id,
        performed_at=performed_at,
        spider_vein_sites=[site.value for site in data.spider_vein_sites],
        ceap_class=str(data.ceap_class),
        varicose_veins=data.varicose_veins.value,
        varicose_treatment_kind=treatment.kind.value if treatment else None,
        varicose_treatment_completed_on=treatment.completed_on if treatment else None,
        risk_factors=data.risk_factors.model_dump(),
        benefits_and_risks_explained=data.benefits_and_risks_explained,
        patient_expectations=data.patient_expectations,
        notes=data.notes,
        weight_kg=data.weight_kg,
        outcome=assessment.outcome.value,
        flags=[
            {"code": f.code, "severity": f.severity.value, "message": f.message}
            for f in assessment.flags
        ],
        valid_until=valid_until(performed_at, months=validity_months),
        created_at=now,
        clearance=None,
    )
    db.add(evaluation)
    db.flush()
    announce(
        db,
        EventType.EVALUATION_RECORDED,
        at=now,
        patient_id=patient.id,
        evaluation_id=evaluation.id,
    )
    after = current_eligibility(db=db, patient_id=patient.id, now=now)
    _announce_if_changed(db, before, after, patient.id, now)
    return Recorded(evaluation, _stranded(db, patient.id, after, now))


def _announce_if_changed(
    db: Session, before: Eligibility, after: Eligibility, patient_id: uuid.UUID, now: datetime
) -> None:
    """`eligibility.changed` when the patient's outcome or whether they may be booked moved."""
    if (before.outcome, before.bookable) != (after.outcome, after.bookable):
        announce(
            db,
            EventType.ELIGIBILITY_CHANGED,
            at=now,
            patient_id=patient_id,
            evaluation_id=after.evaluation_id,
        )


def _stranded(
    db: Session, patient_id: uuid.UUID, standing: Eligibility, now: datetime
) -> Sequence[TreatmentSession]:
    """The patient's upcoming sessions their standing no longer allows as booked."""
    query = select(TreatmentSession).where(
        TreatmentSession.patient_id == patient_id, TreatmentSession.awaiting_treatment(now)
    )
    if standing.bookable and standing.valid_until is not None:
        query = query.where(TreatmentSession.end_at > standing.valid_until)
    return db.scalars(query.order_by(TreatmentSession.start_at)).all()


def get_evaluation(*, db: Session, evaluation_id: uuid.UUID) -> Evaluation:
    evaluation = db.scalar(
        select(Evaluation)
        .options(selectinload(Evaluation.clearance))
        .where(Evaluation.id == evaluation_id)
    )
    if evaluation is None:
        raise NotFound(f"No evaluation with id {evaluation_id}.")
    return evaluation


def list_evaluations(
    *, db: Session, patient_id: uuid.UUID, limit: int = 50, cursor: str | None = None
) -> tuple[Sequence[Evaluation], str | None]:
    """The patient's evaluations, newest first (the first one is the current one)."""
    get_patient(db=db, patient_id=patient_id)
    query = (
        select(Evaluation)
        .options(selectinload(Evaluation.clearance))
        .where(Evaluation.patient_id == patient_id)
    )
    return paginate(db, query, _NEWEST_FIRST, limit=limit, cursor=cursor)


def clear_evaluation(
    *,
    db: Session,
    evaluation_id: uuid.UUID,
    data: ClearanceCreate,
    practitioner_id: uuid.UUID,
    now: datetime,
    expected_version: Versions | None = None,
) -> Evaluation:
    """Record a clinician's clearance, signed by `practitioner_id` (`signatures.signature`
    says whose name that may be), of the relative flags of the patient's current evaluation
    (relative contraindications, a venous work-up): a superseded or expired one no longer
    decides anything."""
    evaluation = get_evaluation(db=db, evaluation_id=evaluation_id)
    lock_patient(db, evaluation.patient_id)
    require_version("Evaluation", evaluation.version, expected_version)
    if not _ensure_practitioner(db, practitioner_id).active:
        raise InactivePractitioner(
            f"Practitioner {practitioner_id} is not active: a clearance is a decision "
            "of a practising clinician."
        )
    if evaluation.clearance is not None:
        raise AlreadyCleared(f"Evaluation {evaluation_id} was cleared already.")
    if get_patient(db=db, patient_id=evaluation.patient_id).archived:
        raise PatientArchived(f"Patient {evaluation.patient_id} is archived.")
    current = _current_evaluation(db, evaluation.patient_id)
    if current is not None and current.id != evaluation.id:
        raise NotClearable(
            f"Evaluation {evaluation_id} is superseded by a newer one: clear the current one.",
            current_evaluation_id=str(current.id),
        )
    if evaluation.valid_until <= now:
        raise NotClearable(
            f"Evaluation {evaluation_id} expired on {evaluation.valid_until.isoformat()}: "
            "a new evaluation is needed."
        )
    assessment = _stored_assessment(evaluation)
    before = current_eligibility(db=db, patient_id=evaluation.patient_id, now=now)
    if not assessment.clearable:
        standing = [f.code for f in assessment.flags if f.severity is not Severity.WARNING]
        raise NotClearable(
            f"Outcome is {assessment.outcome.value}: a clearance lifts relative flags only "
            "(relative contraindications, a venous work-up), and only when nothing absolute or "
            "blocking stands.",
            outcome=assessment.outcome.value,
            flags=standing,
        )
    evaluation.clearance = Clearance(
        practitioner_id=practitioner_id, reason=data.reason, created_at=now
    )
    try:
        db.flush()
    except IntegrityError:  # a concurrent clearance of the same evaluation won
        raise AlreadyCleared(f"Evaluation {evaluation_id} was cleared already.") from None
    after = current_eligibility(db=db, patient_id=evaluation.patient_id, now=now)
    _announce_if_changed(db, before, after, evaluation.patient_id, now)
    return evaluation


def _current_evaluation(db: Session, patient_id: uuid.UUID) -> Evaluation | None:
    """The newest evaluation, in the order the patient's list shows them."""
    newest = [column.desc() for column in _NEWEST_FIRST.columns]
    return db.scalar(
        select(Evaluation)
        .options(selectinload(Evaluation.clearance))
        .where(Evaluation.patient_id == patient_id)
        .order_by(*newest)
        .limit(1)
    )


def current_eligibility(
    *,
    db: Session,
    patient_id: uuid.UUID,
    now: datetime,
    known_at: datetime | None = None,
    as_found: bool = False,
) -> Eligibility:
    """May micro-sclerotherapy be booked (or given) for the patient at `now`? Booking,
    completion and proposals ask only this. `known_at`: judge by what had been recorded by
    then (a treatment recorded after it was given is judged by what its clinician could know);
    `as_found`: by the evaluations performed by then, however late they were written up.
    An unknown patient is a `NotFound`."""
    statement = _OF_ONE[_recorded_by(known_at, as_found)]
    rows = db.execute(statement, {"patient_id": patient_id, "known_at": known_at})
    standing = _judged(rows, now, known_at).get(patient_id)
    if standing is None:
        raise NotFound(f"No patient with id {patient_id}.")
    return standing


def standings(
    *,
    db: Session,
    patient_ids: Sequence[uuid.UUID],
    now: datetime,
    known_at: datetime | None = None,
    as_found: bool = False,
) -> dict[uuid.UUID, Eligibility]:
    """Each known patient's standing at `now` (unknown ids are left out), by what had been
    recorded by `known_at` (default: everything), or with `as_found` by the evaluations
    performed by then: one query however many patients. A clearance counts only if it was
    recorded by `known_at`; an archived patient is archived whatever the time (neither booked
    nor treated, nor a treatment recorded for them)."""
    if not patient_ids:
        return {}
    statement = _OF_MANY[_recorded_by(known_at, as_found)]
    rows = db.execute(statement, {"patient_ids": list(patient_ids), "known_at": known_at})
    return _judged(rows, now, known_at)


_PATIENTS = Patient.__table__
_EVALUATIONS = Evaluation.__table__
_CLEARANCES = Clearance.__table__


@dataclass(frozen=True)
class StandingFlag:
    """A flag of a patient's standing as an alert shows it: since when it stands (None: not
    known) and the clinician whose evaluation found it (None: the service raised it)."""

    flag: Flag
    since: datetime | None
    found_by: uuid.UUID | None


@dataclass(frozen=True)
class StandingFlags:
    """The flags of a patient's standing, and when that standing last changed (an
    evaluation or clearance recorded, the patient archived, the evaluation expired)."""

    patient_id: uuid.UUID
    flags: tuple[StandingFlag, ...]
    changed_at: datetime


# Where a standing's flags come from: the patient's record, who performed the current
# evaluation, and when the patient's latest evaluation was recorded.
_PROVENANCE = select(
    _PATIENTS.c.created_at,
    _PATIENTS.c.archived_at,
    select(_EVALUATIONS.c.practitioner_id)
    .where(_EVALUATIONS.c.id == bindparam("evaluation_id"))
    .scalar_subquery()
    .label("found_by"),
    select(func.max(_EVALUATIONS.c.created_at))
    .where(_EVALUATIONS.c.patient_id == _PATIENTS.c.id)
    .scalar_subquery()
    .label("last_recorded"),
).where(_PATIENTS.c.id == bindparam("patient_id"))


def standing_flags(*, db: Session, patient_id: uuid.UUID, now: datetime) -> StandingFlags | None:
    """The flags of the patient's standing at `now` (`current_eligibility`'s, the same
    rules), each with since when it stands and who found it; None for an unknown patient."""
    standing = standings(db=db, patient_ids=[patient_id], now=now).get(patient_id)
    if standing is None:
        return None
    current = standing.evaluation
    known = db.execute(
        _PROVENANCE,
        {"patient_id": patient_id, "evaluation_id": current.id if current else None},
    ).one()
    found = {f["code"] for f in current.flags} if current is not None else set()
    shown = []
    for flag in standing.flags:
        since, found_by = None, None
        if flag.code is FlagCode.PATIENT_ARCHIVED:
            since = known.archived_at
        elif flag.code is FlagCode.EVALUATION_MISSING:
            since = known.created_at
        elif current is not None and flag.code is FlagCode.EVALUATION_EXPIRED:
            since = current.valid_until
        elif current is not None and flag.code in found:
            since, found_by = current.performed_at, known.found_by
        shown.append(StandingFlag(flag, since, found_by))
    moments = [known.created_at, known.archived_at, known.last_recorded]
    if current is not None:
        moments += [current.cleared_at, current.valid_until if current.valid_until <= now else None]
    changed_at = max(m for m in moments if m is not None)
    return StandingFlags(patient_id, tuple(shown), changed_at)


# Which evaluations count: every one (None), those recorded by `known_at` (False), or with
# `as_found` those performed by then (True).
RecordedBy = bool | None


def _recorded_by(known_at: datetime | None, as_found: bool) -> RecordedBy:
    return None if known_at is None else as_found


def _standings_of(patients: ColumnElement[bool], recorded_by: RecordedBy) -> Select[Any]:
    """Each patient, with their evaluations that count newest first (the columns the rules
    and the callers read) and each one's clearance."""
    counted = _EVALUATIONS.c.patient_id == _PATIENTS.c.id
    if recorded_by is not None:
        when = _EVALUATIONS.c.performed_at if recorded_by else _EVALUATIONS.c.created_at
        counted = and_(counted, when <= bindparam("known_at", type_=when.type))
    return (
        select(
            _PATIENTS.c.id.label("patient_id"),
            _PATIENTS.c.archived,
            _EVALUATIONS.c.id,
            _EVALUATIONS.c.outcome,
            _EVALUATIONS.c.flags,
            _EVALUATIONS.c.performed_at,
            _EVALUATIONS.c.created_at,
            _EVALUATIONS.c.valid_until,
            _EVALUATIONS.c.spider_vein_sites,
            _EVALUATIONS.c.weight_kg,
            _CLEARANCES.c.id.label("clearance_id"),
            _CLEARANCES.c.practitioner_id.label("cleared_by"),
            _CLEARANCES.c.reason.label("clearance_reason"),
            _CLEARANCES.c.created_at.label("cleared_at"),
        )
        .select_from(
            _PATIENTS.outerjoin(_EVALUATIONS, counted).outerjoin(
                _CLEARANCES, _CLEARANCES.c.evaluation_id == _EVALUATIONS.c.id
            )
        )
        .where(patients)
        .order_by(
            _PATIENTS.c.id,
            _EVALUATIONS.c.performed_at.desc(),
            _EVALUATIONS.c.created_at.desc(),
            _EVALUATIONS.c.id.desc(),
        )
    )


# The statements, built once: for one patient (booking, completion, proposals, ...) and for
# many at once (a calendar's review).
_OF_ONE = {
    by: _standings_of(_PATIENTS.c.id == bindparam("patient_id"), by) for by in (None, False, True)
}
_OF_MANY = {
    by: _standings_of(one_of(_PATIENTS.c.id, "patient_ids"), by) for by in (None, False, True)
}


def _judged(
    rows: Iterable[EvaluationRow], now: datetime, known_at: datetime | None
) -> dict[uuid.UUID, Eligibility]:
    archived: dict[uuid.UUID, bool] = {}
    evaluations: dict[uuid.UUID, list[EvaluationRow]] = {}
    for row in rows:
        archived[row.patient_id] = row.archived
        found = evaluations.setdefault(row.patient_id, [])
        if row.id is not None:
            found.append(row)
    return {
        patient_id: _standing(is_archived, evaluations[patient_id], now, known_at)
        for patient_id, is_archived in archived.items()
    }


def _standing(
    archived: bool,
    newest_first: Sequence[EvaluationRow],
    now: datetime,
    known_at: datetime | None,
) -> Eligibility:
    """The rules: the patient's standing by their evaluations that count, newest first."""
    if archived:
        return Eligibility(False, EligibilityOutcome.PATIENT_ARCHIVED, (PATIENT_ARCHIVED,))
    if not newest_first:
        return Eligibility(False, EligibilityOutcome.EVALUATION_MISSING, (EVALUATION_MISSING,))
    current, older = newest_first[0], newest_first[1:]
    # Dated earlier but recorded after the current one: what it found is not ignored.
    backdated = [
        e
        for e in older
        if e.created_at > current.created_at and Outcome(e.outcome) is not Outcome.ELIGIBLE
    ]
    stored: Assessment = _stored_assessment(current)
    later_flags: tuple[Flag, ...] = tuple(flag for e in backdated for flag in _recorded_later(e))
    if current.valid_until <= now:
        flags = _distinct((EVALUATION_EXPIRED, *stored.flags, *later_flags))
        return Eligibility(False, EligibilityOutcome.EVALUATION_EXPIRED, flags, current)
    cleared_at = current.cleared_at
    cleared = cleared_at is not None and (known_at is None or cleared_at <= known_at)
    outcomes = [
        outcome_after_clearance(stored, cleared=cleared),
        *(Outcome(e.outcome) for e in backdated),
    ]
    outcome = min(outcomes, key=list(Outcome).index)  # the strongest: Outcome lists it first
    bookable = outcome is Outcome.ELIGIBLE and not backdated
    flags = _distinct((*stored.flags, *later_flags))
    return Eligibility(bookable, EligibilityOutcome(outcome.value), flags, current)


def _recorded_later(evaluation: EvaluationRow) -> tuple[Flag, ...]:
    """Why an evaluation recorded after the current one still stands in the way."""
    found = _stored_assessment(evaluation).flags
    explanation = Flag(
        FlagCode.EVALUATION_RECORDED_LATER,
        Severity.BLOCKING,
        f"An evaluation dated {evaluation.performed_at:%Y-%m-%d} was recorded after the "
        f"current one and found: {evaluation.outcome}. It is not ignored: a clinician records "
        "a new evaluation before treatment goes on.",
    )
    return (explanation, *(f for f in found if f.severity is not Severity.WARNING))


def _distinct(flags: Sequence[Flag]) -> tuple[Flag, ...]:
    return tuple(dict.fromkeys(flags))
