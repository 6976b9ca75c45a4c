"""Recording evaluations, clearing relative contraindications, and the patient's eligibility.

`current_eligibility` is the one question booking asks: may this patient be booked now?
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.errors import Conflict, DomainError, NotFound
from app.evaluations.rules import (
    Assessment,
    EvaluationFacts,
    Flag,
    Outcome,
    RiskFactor,
    Severity,
    assess,
    outcome_after_clearance,
    valid_until,
)
from app.evaluations.schemas import ClearanceCreate, EligibilityOutcome, EvaluationCreate
from app.models import Clearance, Evaluation, Practitioner
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.patients.service import get_patient


class PatientArchived(Conflict):
    code = "patient-archived"
    title = "The patient is archived"


class UnknownPractitioner(DomainError):
    status = 422
    code = "unknown-practitioner"
    title = "No such practitioner"


class NotClearable(Conflict):
    code = "not-clearable"
    title = "Nothing here a clearance can lift"


class AlreadyCleared(Conflict):
    code = "already-cleared"
    title = "The evaluation is already cleared"


EVALUATION_MISSING = Flag(
    "evaluation-missing",
    Severity.BLOCKING,
    "No evaluation on record: a clinician evaluates the patient before any booking.",
)
EVALUATION_EXPIRED = Flag(
    "evaluation-expired",
    Severity.BLOCKING,
    "The latest evaluation is past its validity: a new evaluation is needed before booking.",
)
ARCHIVED = Flag("patient-archived", Severity.BLOCKING, "The patient is archived.")


@dataclass(frozen=True)
class Eligibility:
    """A patient's standing for booking at a given moment."""

    bookable: bool
    outcome: EligibilityOutcome
    flags: tuple[Flag, ...]
    evaluation: Evaluation | None = field(default=None)

    @property
    def evaluation_id(self) -> uuid.UUID | None:
        return self.evaluation.id if self.evaluation else None

    @property
    def valid_until(self) -> datetime | None:
        return self.evaluation.valid_until if self.evaluation else None

    @property
    def clearance(self) -> Clearance | None:
        return self.evaluation.clearance if self.evaluation else None


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
        ceap_class=data.ceap_class,
        varicose_veins=data.varicose_veins,
        varicose_treatment_recorded=data.varicose_treatment is not None,
        risk_factors={RiskFactor(k): v for k, v in data.risk_factors.model_dump().items()},
        benefits_and_risks_explained=data.benefits_and_risks_explained,
    )


def _stored_assessment(evaluation: Evaluation) -> Assessment:
    flags = tuple(Flag(f["code"], Severity(f["severity"]), f["message"]) for f in evaluation.flags)
    return Assessment(flags=flags, outcome=Outcome(evaluation.outcome))


def evaluation_outcome(evaluation: Evaluation) -> Outcome:
    """The outcome that stands: the rules' verdict, lifted to eligible by a clearance."""
    return outcome_after_clearance(
        _stored_assessment(evaluation), cleared=evaluation.clearance is not None
    )


def _ensure_practitioner(session: Session, practitioner_id: uuid.UUID) -> None:
    if session.get(Practitioner, practitioner_id) is None:
        raise UnknownPractitioner(
            f"No practitioner with id {practitioner_id}.", field="practitioner_id"
        )


def record_evaluation(
    *, session: Session, patient_id: uuid.UUID, data: EvaluationCreate, validity_months: int
) -> Evaluation:
    """Store an evaluation with the flags and outcome the rules give it."""
    patient = get_patient(session=session, patient_id=patient_id)
    if patient.archived:
        raise PatientArchived(f"Patient {patient_id} is archived: restore them first.")
    _ensure_practitioner(session, data.practitioner_id)
    assessment = assess(_facts(data))
    treatment = data.varicose_treatment
    evaluation = Evaluation(
        patient_id=patient.id,
        practitioner_id=data.practitioner_id,
        performed_at=data.performed_at,
        spider_vein_sites=[site.value for site in data.spider_vein_sites],
        ceap_class=data.ceap_class.value,
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
        valid_until=valid_until(data.performed_at, months=validity_months),
        clearance=None,
    )
    session.add(evaluation)
    session.flush()
    return evaluation


def get_evaluation(*, session: Session, evaluation_id: uuid.UUID) -> Evaluation:
    evaluation = session.scalar(
        select(Evaluation)
        .options(selectinload(Evaluation.clearance))
        .where(Evaluation.id == evaluation_id)
    )
    if evaluation is None:
        raise NotFound(f"No evaluation with id {evaluation_id}.")
    return evaluation


def list_evaluations(
    *, session: Session, patient_id: uuid.UUID, limit: int = 50, cursor: str | None = None
) -> tuple[Sequence[Evaluation], str | None]:
    """The patient's evaluations, newest first (the first one is the current one)."""
    get_patient(session=session, patient_id=patient_id)
    query = (
        select(Evaluation)
        .options(selectinload(Evaluation.clearance))
        .where(Evaluation.patient_id == patient_id)
    )
    return paginate(session, query, _NEWEST_FIRST, limit=limit, cursor=cursor)


def clear_evaluation(
    *, session: Session, evaluation_id: uuid.UUID, data: ClearanceCreate, now: datetime
) -> Evaluation:
    """Record a clinician's clearance of the relative contraindications of the patient's
    current evaluation (a superseded or expired one no longer decides anything)."""
    evaluation = get_evaluation(session=session, evaluation_id=evaluation_id)
    _ensure_practitioner(session, data.practitioner_id)
    if evaluation.clearance is not None:
        raise AlreadyCleared(f"Evaluation {evaluation_id} was cleared already.")
    if get_patient(session=session, patient_id=evaluation.patient_id).archived:
        raise PatientArchived(f"Patient {evaluation.patient_id} is archived.")
    current = _current_evaluation(session, evaluation.patient_id)
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
    if not assessment.clearable:
        standing = [f.code for f in assessment.flags if f.severity is not Severity.WARNING]
        raise NotClearable(
            f"Outcome is {assessment.outcome.value}: a clearance lifts relative "
            "contraindications only, and only when nothing absolute or blocking stands.",
            outcome=assessment.outcome.value,
            flags=standing,
        )
    evaluation.clearance = Clearance(practitioner_id=data.practitioner_id, reason=data.reason)
    try:
        session.flush()
    except IntegrityError:  # a concurrent clearance of the same evaluation won
        raise AlreadyCleared(f"Evaluation {evaluation_id} was cleared already.") from None
    return evaluation


def _current_evaluation(session: Session, patient_id: uuid.UUID) -> Evaluation | None:
    """The newest evaluation, in the order the patient's list shows them."""
    newest = [column.desc() for column in _NEWEST_FIRST.columns]
    return session.scalar(
        select(Evaluation)
        .options(selectinload(Evaluation.clearance))
        .where(Evaluation.patient_id == patient_id)
        .order_by(*newest)
        .limit(1)
    )


def current_eligibility(*, session: Session, patient_id: uuid.UUID, now: datetime) -> Eligibility:
    """May micro-sclerotherapy be booked for the patient now? Booking asks only this."""
    patient = get_patient(session=session, patient_id=patient_id)
    if patient.archived:
        return Eligibility(False, EligibilityOutcome.PATIENT_ARCHIVED, (ARCHIVED,))
    evaluation = _current_evaluation(session, patient_id)
    if evaluation is None:
        return Eligibility(False, EligibilityOutcome.EVALUATION_MISSING, (EVALUATION_MISSING,))
    stored = _stored_assessment(evaluation)
    if evaluation.valid_until <= now:
        flags = (EVALUATION_EXPIRED, *stored.flags)
        return Eligibility(False, EligibilityOutcome.EVALUATION_EXPIRED, flags, evaluation)
    outcome = evaluation_outcome(evaluation)
    return Eligibility(
        outcome is Outcome.ELIGIBLE, EligibilityOutcome(outcome.value), stored.flags, evaluation
    )
