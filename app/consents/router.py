"""Consent routes: record a patient's informed consent, read it, withdraw it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from app.access.principals import Principal
from app.auditing import Access, AuditTrail, Resource
from app.consents import service
from app.consents.schemas import (
    ConsentCreate,
    ConsentPage,
    ConsentRead,
    ConsentSummary,
    ConsentView,
    ConsentWithdrawal,
)
from app.errors import InvalidCursor, NotFound, VersionMismatch
from app.evaluations import signatures
from app.models import Consent
from app.patients.service import PatientArchived
from app.practitioners.service import InactivePractitioner, UnknownPractitioner
from app.roles import Permission
from app.web.access import AuditDep, ClinicalDetail, CurrentPrincipal, requires
from app.web.clock import Now
from app.web.db import Db
from app.web.params import Cursor, ExpectedVersion, Limit, sends, set_etag
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1", tags=["consents"], route_class=ApiRoute)

_SIGNING = (
    signatures.NoLinkedPractitioner,
    signatures.NotOwnPractitioner,
    UnknownPractitioner,
    InactivePractitioner,
)


def _view(consent: Consent, *, clinical: bool) -> ConsentRead | ConsentSummary:
    return (
        ConsentRead.model_validate(consent) if clinical else ConsentSummary.model_validate(consent)
    )


@contextmanager
def _signed(
    db: Session, audit: AuditTrail, patient_id: uuid.UUID, named: uuid.UUID | None
) -> Iterator[None]:
    """Recording a consent in a practitioner's name (`signatures.signature`). A refusal (in
    another's name, unlinked, a practitioner unknown or switched off) is an attempt to sign a
    clinical record all the same: its `denied` event is committed once what the request did
    is rolled back, so that it outlives the request's failure."""
    try:
        yield
    except _SIGNING as refusal:
        db.rollback()
        named_text = f", naming practitioner {named}" if named else ""
        audit.record_denied(
            "create",
            Resource.CONSENT,
            Access(None, patient_id),
            f"{refusal.code}{named_text}",
        )
        db.commit()
        raise


def _audit_signed(audit: AuditTrail, consent: Consent, signature: signatures.Signature) -> None:
    """The event of a consent recorded; one recorded for another practitioner says so."""
    detail = f"on behalf of practitioner {signature.practitioner_id}"
    audit.record(
        "create-on-behalf" if signature.on_behalf else "create",
        Resource.CONSENT,
        consent.id,
        patient_id=consent.patient_id,
        detail=detail if signature.on_behalf else None,
    )


@router.post(
    "/patients/{patient_id}/consents",
    status_code=status.HTTP_201_CREATED,
    summary="Record a patient's consent",
    dependencies=[requires(Permission.CONSENTS_WRITE)],
    responses=problem_responses(NotFound, PatientArchived, *_SIGNING),
    response_description="The consent recorded",
    openapi_extra=sends("ETag", "Location"),
)
def record_consent(
    patient_id: uuid.UUID,
    body: ConsentCreate,
    db: Db,
    audit: AuditDep,
    caller: CurrentPrincipal,
    response: Response,
    now: Now,
) -> ConsentRead:
    """Record the patient's informed consent to a procedure (`micro-sclerotherapy`): the
    version of the clinic's form they signed, the risks explained to them (each once; for
    micro-sclerotherapy at least hyperpigmentation, matting, ulceration, allergic-reaction and
    extravasation, and for foam also visual-disturbance and neurological-disturbance), and
    when they signed (`obtained_at`: not in the future, a clock up to 5 minutes fast aside;
    not before their birth).

    A session is completed only while a consent of the patient stands (obtained by the
    moment the sclerosant is given, and not withdrawn by then): else 409 `consent-missing`.
    Booking needs none.

    It is signed by the logged-in clinician, as an evaluation is: the practitioner their
    account is linked to, which must be active (422 `inactive-practitioner`).
    `practitioner_id` may be left out; naming another practitioner is a 403
    `not-own-practitioner`, and an account linked to none (or an API key) gets 403
    `no-linked-practitioner`; each refusal is audited. An admin may name any active
    practitioner: the consent is then recorded on their behalf (`create-on-behalf`).
    """
    with _signed(db, audit, patient_id, body.practitioner_id):
        signature = _signature(db, caller, body.practitioner_id)
        consent = service.record_consent(
            db=db,
            patient_id=patient_id,
            data=body,
            practitioner_id=signature.practitioner_id,
            now=now,
        )
    _audit_signed(audit, consent, signature)
    response.headers["Location"] = f"{router.prefix}/consents/{consent.id}"
    set_etag(response, consent.version)
    return ConsentRead.model_validate(consent)


def _signature(db: Session, caller: Principal, named: uuid.UUID | None) -> signatures.Signature:
    return signatures.signature(db=db, caller=caller, named=named, record="a consent")


@router.get(
    "/patients/{patient_id}/consents",
    summary="List a patient's consents",
    dependencies=[requires(Permission.CONSENTS_READ)],
    responses=problem_responses(NotFound, InvalidCursor),
    response_description="A page of the patient's consents, newest first",
)
def list_consents(
    patient_id: uuid.UUID,
    db: Db,
    cursor: Cursor,
    audit: AuditDep,
    clinical: ClinicalDetail,
    limit: Limit = 50,
) -> ConsentPage:
    """The patient's consents, newest first (by when they signed), withdrawn ones too. Roles
    without `clinical:read` (receptionists) get whether each stands, to what and since when;
    not the risks explained nor why one was withdrawn."""
    items, next_cursor = service.list_consents(
        db=db, patient_id=patient_id, limit=limit, cursor=cursor.after
    )
    audit.record_list(
        Resource.CONSENT, (Access(c.id, c.patient_id) for c in items), of_patient=patient_id
    )
    return ConsentPage(
        items=[_view(c, clinical=clinical) for c in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.get(
    "/consents/{consent_id}",
    summary="Read a consent",
    dependencies=[requires(Permission.CONSENTS_READ)],
    responses=problem_responses(NotFound),
    response_description="The consent, in full or in summary as the caller's role allows",
    openapi_extra=sends("ETag"),
)
def read_consent(
    consent_id: uuid.UUID, db: Db, audit: AuditDep, clinical: ClinicalDetail, response: Response
) -> ConsentView:
    """One consent. Roles without `clinical:read` (receptionists) get whether it stands, to
    what and since when. The `ETag` is 1, or 2 once withdrawn: send it as `If-Match` with a
    withdrawal."""
    consent = service.get_consent(db=db, consent_id=consent_id)
    audit.record("read", Resource.CONSENT, consent.id, patient_id=consent.patient_id)
    set_etag(response, consent.version)
    return _view(consent, clinical=clinical)


@router.post(
    "/consents/{consent_id}/withdraw",
    summary="Withdraw a consent",
    dependencies=[requires(Permission.CONSENTS_WRITE)],
    responses=problem_responses(
        NotFound, service.AlreadyWithdrawn, PatientArchived, VersionMismatch
    ),
    response_description="The consent, withdrawn",
    openapi_extra=sends("ETag"),
)
def withdraw_consent(
    consent_id: uuid.UUID,
    body: ConsentWithdrawal,
    db: Db,
    audit: AuditDep,
    response: Response,
    now: Now,
    if_match: ExpectedVersion,
) -> ConsentRead:
    """The patient withdraws their consent: at `withdrawn_at` (default now; not in the
    future, nor before the consent was obtained), with an optional reason. From then on it
    allows no treatment; a treatment given before stays recorded. A consent is withdrawn once
    (a second time is 409 `invalid-transition`); a new consent is recorded anew."""
    consent = service.withdraw_consent(
        db=db, consent_id=consent_id, data=body, now=now, expected_version=if_match
    )
    audit.record("withdraw", Resource.CONSENT, consent.id, patient_id=consent.patient_id)
    set_etag(response, consent.version)
    return ConsentRead.model_validate(consent)
