"""Evaluation routes: record an evaluation, read it, clear it, and ask for eligibility."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from app.access.principals import Principal
from app.auditing import Access, AuditTrail, Resource, patient_of
from app.errors import DomainError, InvalidCursor, NotFound, VersionMismatch
from app.evaluations import service, signatures
from app.evaluations.schemas import (
    ClearanceCreate,
    ClearanceRead,
    ClearanceSummary,
    EligibilityRead,
    EvaluationCreate,
    EvaluationPage,
    EvaluationRead,
    EvaluationRecorded,
    EvaluationSummary,
    EvaluationView,
    FlagRead,
)
from app.models import Evaluation
from app.patients.service import PatientArchived
from app.practitioners.service import InactivePractitioner, UnknownPractitioner
from app.roles import Permission
from app.schemas import with_affected_sessions
from app.web.access import AuditDep, ClinicalDetail, CurrentPrincipal, requires
from app.web.clock import Now
from app.web.db import Db
from app.web.params import Cursor, ExpectedVersion, Limit, sends, set_etag
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1", tags=["evaluations"], route_class=ApiRoute)


def _read(evaluation: Evaluation) -> EvaluationRead:
    read = EvaluationRead.model_validate(evaluation)
    return read.model_copy(update={"outcome": service.evaluation_outcome(evaluation)})


def _signed(
    db: Session,
    audit: AuditTrail,
    caller: Principal,
    named: uuid.UUID | None,
    *,
    action: str,
    patient_id: uuid.UUID | None = None,
    evaluation_id: uuid.UUID | None = None,
) -> signatures.Signature:
    """Whose name the caller signs in (`signatures.signature`). A refusal is an attempt to
    sign in a name not one's own: its `denied` event is committed now, before anything was
    written, so that it outlives the request's failure."""
    record = "an evaluation" if action == "create" else "a clearance"
    try:
        return signatures.signature(db=db, caller=caller, named=named, record=record)
    except (signatures.NoLinkedPractitioner, signatures.NotOwnPractitioner) as refusal:
        named_text = f", naming practitioner {named}" if named else ""
        _refused_signature(db, audit, action, patient_id, evaluation_id, refusal, named_text)
        raise


@contextmanager
def _signing(
    db: Session,
    audit: AuditTrail,
    named: uuid.UUID | None,
    signature: signatures.Signature,
    *,
    action: str,
    patient_id: uuid.UUID | None = None,
    evaluation_id: uuid.UUID | None = None,
) -> Iterator[None]:
    """Recording what `signature` signs. Refused because the practitioner signing is switched
    off (or, named by an admin, unknown): an attempt to sign a clinical decision all the same,
    audited as the refusals of `_signed` are, once what the request did is rolled back."""
    try:
        yield
    except (InactivePractitioner, UnknownPractitioner) as refusal:
        db.rollback()
        named_text = (
            f", naming practitioner {named}"
            if named
            else f", as practitioner {signature.practitioner_id}"
        )
        _refused_signature(db, audit, action, patient_id, evaluation_id, refusal, named_text)
        raise


def _refused_signature(
    db: Session,
    audit: AuditTrail,
    action: str,
    patient_id: uuid.UUID | None,
    evaluation_id: uuid.UUID | None,
    refusal: DomainError,
    named_text: str,
) -> None:
    """The `denied` event of a refused signature, committed now: it outlives the request's
    failure (nothing was written before it)."""
    if evaluation_id is not None:
        patient_id = patient_of(db=db, resource_type=Resource.EVALUATION, resource_id=evaluation_id)
    access = Access(evaluation_id, patient_id)
    audit.record_denied(action, Resource.EVALUATION, access, f"{refusal.code}{named_text}")
    db.commit()


def _audit_signed(
    audit: AuditTrail, action: str, evaluation: Evaluation, signature: signatures.Signature
) -> None:
    """The event of a signed record; one recorded for another practitioner says so."""
    if signature.on_behalf:
        audit.record(
            f"{action}-on-behalf",
            Resource.EVALUATION,
            evaluation.id,
            patient_id=evaluation.patient_id,
            detail=f"on behalf of practitioner {signature.practitioner_id}",
        )
    else:
        audit.record(action, Resource.EVALUATION, evaluation.id, patient_id=evaluation.patient_id)


_SIGNING = (
    signatures.NoLinkedPractitioner,
    signatures.NotOwnPractitioner,
    UnknownPractitioner,
    InactivePractitioner,
)


def _view(evaluation: Evaluation, *, clinical: bool) -> EvaluationRead | EvaluationSummary:
    if clinical:
        return _read(evaluation)
    summary = EvaluationSummary.model_validate(evaluation)
    return summary.model_copy(update={"outcome": service.evaluation_outcome(evaluation)})


@router.post(
    "/patients/{patient_id}/evaluations",
    status_code=status.HTTP_201_CREATED,
    summary="Record an evaluation",
    dependencies=[requires(Permission.EVALUATIONS_WRITE)],
    responses=problem_responses(NotFound, PatientArchived, *_SIGNING),
    response_description="The evaluation recorded, with the outcome and flags the server computed",
    openapi_extra=sends("ETag", "Location"),
)
def record_evaluation(
    patient_id: uuid.UUID,
    body: EvaluationCreate,
    db: Db,
    audit: AuditDep,
    caller: CurrentPrincipal,
    policy: Policy,
    response: Response,
    now: Now,
) -> EvaluationRecorded:
    """Record the pre-treatment evaluation a clinician performed.

    It is signed by the logged-in clinician: the practitioner their account is linked to,
    which must be active (422 `inactive-practitioner`). `practitioner_id` may be left out;
    naming another practitioner is a 403 `not-own-practitioner`, and an account linked to
    none (or an API key) gets 403 `no-linked-practitioner`; all three refusals are audited. An
    admin may name any active practitioner: the evaluation is then recorded on their behalf,
    and the audit trail says so (`create-on-behalf`).

    The server computes `flags`, `outcome` and `valid_until` (a client may not send them).
    Evaluations are never edited: a correction is a new evaluation, and the newest one
    (by `performed_at`) is the one that counts. `performed_at` may not be in the future (a
    clock up to 5 minutes fast is accepted; the time is then stored as now). An evaluation
    dated earlier but recorded after the current one is not ignored: unless `eligible`, it
    keeps the patient from being booked until a newer evaluation is recorded.

    `affected_sessions` lists the patient's upcoming sessions that this evaluation leaves
    unable to go ahead as booked (the patient no longer bookable, or the evaluation valid for
    less long); they stay booked, flagged for review.
    """
    signature = _signed(
        db, audit, caller, body.practitioner_id, action="create", patient_id=patient_id
    )
    with _signing(
        db, audit, body.practitioner_id, signature, action="create", patient_id=patient_id
    ):
        recorded = service.record_evaluation(
            db=db,
            patient_id=patient_id,
            data=body,
            practitioner_id=signature.practitioner_id,
            validity_months=policy.evaluation_validity_months,
            now=now,
        )
    evaluation = recorded.evaluation
    _audit_signed(audit, "create", evaluation, signature)
    response.headers["Location"] = f"{router.prefix}/evaluations/{evaluation.id}"
    set_etag(response, evaluation.version)
    return with_affected_sessions(_read(evaluation), EvaluationRecorded, recorded.stranded)


@router.get(
    "/patients/{patient_id}/evaluations",
    summary="List a patient's evaluations",
    dependencies=[requires(Permission.EVALUATIONS_READ_OUTCOME)],
    responses=problem_responses(NotFound, InvalidCursor),
    response_description="A page of the patient's evaluations, newest first",
)
def list_evaluations(
    patient_id: uuid.UUID,
    db: Db,
    cursor: Cursor,
    audit: AuditDep,
    clinical: ClinicalDetail,
    limit: Limit = 50,
) -> EvaluationPage:
    """The patient's evaluations, newest first: the first one is the current one. Roles
    without `clinical:read` (receptionists) get each one's outcome and flags only."""
    items, next_cursor = service.list_evaluations(
        db=db, patient_id=patient_id, limit=limit, cursor=cursor.after
    )
    audit.record_list(
        Resource.EVALUATION, (Access(e.id, e.patient_id) for e in items), of_patient=patient_id
    )
    return EvaluationPage(
        items=[_view(e, clinical=clinical) for e in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.get(
    "/evaluations/{evaluation_id}",
    summary="Read an evaluation",
    dependencies=[requires(Permission.EVALUATIONS_READ_OUTCOME)],
    responses=problem_responses(NotFound),
    response_description="The evaluation, in full or in summary as the caller's role allows",
    openapi_extra=sends("ETag"),
)
def read_evaluation(
    evaluation_id: uuid.UUID,
    db: Db,
    audit: AuditDep,
    clinical: ClinicalDetail,
    response: Response,
) -> EvaluationView:
    """One evaluation with its flags, outcome, validity and clearance. Roles without
    `clinical:read` (receptionists) get the outcome and flags only. The `ETag` is 1, or 2
    once cleared: send it as `If-Match` with a clearance."""
    evaluation = service.get_evaluation(db=db, evaluation_id=evaluation_id)
    audit.record("read", Resource.EVALUATION, evaluation.id, patient_id=evaluation.patient_id)
    set_etag(response, evaluation.version)
    return _view(evaluation, clinical=clinical)


@router.post(
    "/evaluations/{evaluation_id}/clearance",
    status_code=status.HTTP_201_CREATED,
    summary="Clear relative flags",
    dependencies=[requires(Permission.CLEARANCES_WRITE)],
    responses=problem_responses(
        NotFound,
        *_SIGNING,
        service.NotClearable,
        service.AlreadyCleared,
        PatientArchived,
        VersionMismatch,
    ),
    response_description="The clearance recorded",
    openapi_extra=sends("ETag"),
)
def clear_evaluation(
    evaluation_id: uuid.UUID,
    body: ClearanceCreate,
    db: Db,
    audit: AuditDep,
    caller: CurrentPrincipal,
    now: Now,
    response: Response,
    if_match: ExpectedVersion,
) -> EvaluationRead:
    """A clinician documents the decision to treat despite the relative flags: relative
    contraindications (the pill, a history of blood clots, ...) and `venous-work-up-needed`
    (CEAP C4 to C6: the venous work-up is done). The outcome becomes `eligible`.

    Only the patient's current evaluation, while valid, whose outcome is `clearance-required`
    can be cleared: absolute contraindications and blocking flags (varicose veins first,
    counselling, unknown risk factors) are a 409 `not-clearable`, as is a superseded or
    expired evaluation; they need a new evaluation instead.

    The clearance is signed by the logged-in clinician: the practitioner their account is
    linked to, which must be active (422 `inactive-practitioner`). `practitioner_id` may be
    left out; naming another practitioner is a 403 `not-own-practitioner`, and an account
    linked to none (or an API key) gets 403 `no-linked-practitioner`; all three refusals
    are audited. An admin may name any active practitioner: the clearance is then recorded on
    their behalf, and the audit trail says so (`clear-on-behalf`).
    """
    signature = _signed(
        db, audit, caller, body.practitioner_id, action="clear", evaluation_id=evaluation_id
    )
    with _signing(
        db, audit, body.practitioner_id, signature, action="clear", evaluation_id=evaluation_id
    ):
        evaluation = service.clear_evaluation(
            db=db,
            evaluation_id=evaluation_id,
            data=body,
            practitioner_id=signature.practitioner_id,
            now=now,
            expected_version=if_match,
        )
    _audit_signed(audit, "clear", evaluation, signature)
    set_etag(response, evaluation.version)
    return _read(evaluation)


@router.get(
    "/patients/{patient_id}/eligibility",
    summary="May this patient be booked now?",
    dependencies=[requires(Permission.EVALUATIONS_READ_OUTCOME)],
    responses=problem_responses(NotFound),
    response_description="The patient's standing now: bookable or not, and why",
)
def read_eligibility(
    patient_id: uuid.UUID, db: Db, audit: AuditDep, clinical: ClinicalDetail, now: Now
) -> EligibilityRead:
    """The patient's standing for micro-sclerotherapy now: the current evaluation's outcome
    and flags (or `evaluation-missing` / `evaluation-expired`), its clearance (its reason only
    for roles that may read clinical detail), and whether a session may be booked. Booking
    refuses exactly when `bookable` is false; completion asks the same question when the
    sclerosant is given."""
    standing = service.current_eligibility(db=db, patient_id=patient_id, now=now)
    audit.record("read-eligibility", Resource.PATIENT, patient_id, patient_id=patient_id)
    clearance_view = ClearanceRead if clinical else ClearanceSummary
    return EligibilityRead(
        bookable=standing.bookable,
        outcome=standing.outcome,
        flags=[FlagRead.model_validate(f) for f in standing.flags],
        evaluation_id=standing.evaluation_id,
        valid_until=standing.valid_until,
        clearance=clearance_view.model_validate(standing.clearance) if standing.clearance else None,
    )
