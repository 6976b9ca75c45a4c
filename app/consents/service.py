"""Recording a patient's informed consent, its withdrawal, and the question completion asks:
did the patient's consent stand when the sclerosant was given (`require_consent`)?

A consent counts from when the patient signed (`obtained_at`), however late it was written up
(a paper form entered the next day), until the moment they withdrew it, if they did. Neither
time may be in the future: a clock up to `CLOCK_SKEW` fast is accepted and the time stored as
the moment of recording. Booking asks nothing of consent: a patient may book before signing.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.consents.schemas import ConsentCreate, ConsentWithdrawal
from app.errors import Conflict, InvalidField, NotFound, Versions, require_version
from app.evaluations.service import CLOCK_SKEW
from app.models import CompletionRecord, Consent, Practitioner, TreatmentSession
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.patients.service import PatientArchived, get_patient, lock_patient
from app.practitioners.service import InactivePractitioner, UnknownPractitioner
from app.vocabulary import FOAM_RISKS, ConsentProcedure, ConsentStatus


class ConsentMissing(Conflict):
    code = "consent-missing"
    title = "No informed consent stood when the sclerosant was given"


class AlreadyWithdrawn(Conflict):
    code = "invalid-transition"
    title = "The consent is withdrawn already"


# Newest first: by when the patient signed, then (same moment) the later recorded.
_NEWEST_FIRST = Keyset(
    columns=(Consent.obtained_at, Consent.created_at, Consent.id),
    parsers=(cursor_datetime, cursor_datetime, cursor_uuid),
    descending=True,
)


def _not_in_the_future(stated: datetime, now: datetime, field: str, doing: str) -> datetime:
    """`stated`, never ahead of its own recording; a clock a little fast is taken as now."""
    if stated > now + CLOCK_SKEW:
        raise InvalidField(("body", field), f"is in the future: record {doing} once it happened")
    return min(stated, now)


def record_consent(
    *,
    db: Session,
    patient_id: uuid.UUID,
    data: ConsentCreate,
    practitioner_id: uuid.UUID,
    now: datetime,
) -> Consent:
    """Store the patient's consent, taken by `practitioner_id` (`signatures.signature` says
    whose name that may be): an active practitioner, for a patient not archived, signed
    neither in the future nor before the patient's birth."""
    obtained_at = _not_in_the_future(data.obtained_at, now, "obtained_at", "a consent")
    lock_patient(db, patient_id)
    patient = get_patient(db=db, patient_id=patient_id)
    if patient.archived:
        raise PatientArchived(f"Patient {patient_id} is archived: restore them first.")
    # Compared with the latest calendar date anywhere on Earth at that instant.
    if (obtained_at + timedelta(hours=14)).date() < patient.birth_date:
        raise InvalidField(("body", "obtained_at"), "is before the patient's birth date")
    practitioner = db.get(Practitioner, practitioner_id)
    if practitioner is None:
        raise UnknownPractitioner(
            f"No practitioner with id {practitioner_id}.", field="practitioner_id"
        )
    if not practitioner.active:
        raise InactivePractitioner(
            f"Practitioner {practitioner_id} is not active: a consent is taken by a practising "
            "clinician."
        )
    consent = Consent(
        patient_id=patient.id,
        practitioner_id=practitioner_id,
        procedure=data.procedure,
        document_version=data.document_version,
        risks_explained=[risk.value for risk in data.risks_explained],
        obtained_at=obtained_at,
        created_at=now,
    )
    db.add(consent)
    db.flush()
    return consent


def get_consent(*, db: Session, consent_id: uuid.UUID) -> Consent:
    consent = db.get(Consent, consent_id)
    if consent is None:
        raise NotFound(f"No consent with id {consent_id}.")
    return consent


def list_consents(
    *, db: Session, patient_id: uuid.UUID, limit: int = 50, cursor: str | None = None
) -> tuple[Sequence[Consent], str | None]:
    """The patient's consents, newest first (withdrawn ones too); `NotFound` for an unknown
    patient."""
    get_patient(db=db, patient_id=patient_id)
    return search_consents(db=db, patient_id=patient_id, limit=limit, cursor=cursor)


def search_consents(
    *,
    db: Session,
    patient_id: uuid.UUID,
    statuses: Collection[ConsentStatus] = (),
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[Consent], str | None]:
    """The patient's consents in any of `statuses` (none: any), newest first; an unknown
    patient has none."""
    query = select(Consent).where(Consent.patient_id == patient_id)
    if set(statuses) == {ConsentStatus.ACTIVE}:
        query = query.where(Consent.withdrawn_at.is_(None))
    elif set(statuses) == {ConsentStatus.WITHDRAWN}:
        query = query.where(Consent.withdrawn_at.is_not(None))
    return paginate(db, query, _NEWEST_FIRST, limit=limit, cursor=cursor)


def withdraw_consent(
    *,
    db: Session,
    consent_id: uuid.UUID,
    data: ConsentWithdrawal,
    now: datetime,
    expected_version: Versions | None = None,
) -> Consent:
    """The patient withdraws their consent (at `data.withdrawn_at`, by default now): from
    then on it allows no treatment. A treatment given before stays as it was recorded."""
    patient_id = db.scalar(select(Consent.patient_id).where(Consent.id == consent_id))
    if patient_id is None:
        raise NotFound(f"No consent with id {consent_id}.")
    # Read once the patient's lock is held: a withdrawal or a treatment committed meanwhile is
    # seen, and a treatment in flight either comes before the withdrawal or sees it.
    lock_patient(db, patient_id)
    consent = get_consent(db=db, consent_id=consent_id)
    require_version("Consent", consent.version, expected_version)
    if consent.withdrawn_at is not None:
        raise AlreadyWithdrawn(
            f"Consent {consent_id} was withdrawn on {consent.withdrawn_at.isoformat()}: a new "
            "consent is recorded anew.",
        )
    if get_patient(db=db, patient_id=patient_id).archived:
        raise PatientArchived(f"Patient {patient_id} is archived.")
    withdrawn_at = _not_in_the_future(data.withdrawn_at or now, now, "withdrawn_at", "a withdrawal")
    if withdrawn_at < consent.obtained_at:
        raise InvalidField(
            ("body", "withdrawn_at"),
            f"is before the consent was obtained ({consent.obtained_at.isoformat()})",
        )
    # A treatment recorded under the consent was given while it stood: a withdrawal dated
    # back before it would leave a treatment on record that no consent covered.
    covered = db.scalar(
        select(func.max(CompletionRecord.administered_at))
        .join(TreatmentSession, CompletionRecord.session_id == TreatmentSession.id)
        .where(
            TreatmentSession.patient_id == patient_id,
            CompletionRecord.administered_at >= consent.obtained_at,
        )
    )
    if covered is not None and withdrawn_at <= covered:
        raise InvalidField(
            ("body", "withdrawn_at"),
            f"is not after the treatment given at {covered.isoformat()}, recorded while this "
            "consent stood: a withdrawal takes effect from a moment after it",
        )
    consent.withdrawn_at = withdrawn_at
    consent.withdrawal_reason = data.reason
    db.flush()
    return consent


def require_consent(db: Session, patient_id: uuid.UUID, at: datetime, *, foam: bool) -> Consent:
    """The patient's consent to micro-sclerotherapy that stood at `at` (the moment the
    sclerosant was given): obtained at or before it, and not withdrawn by then; with `foam`,
    one whose risks explained include foam's visual and neurological disturbances. Otherwise
    `ConsentMissing`, which names the patient (the refusal tells about them)."""
    standing = db.scalars(
        select(Consent)
        .where(
            Consent.patient_id == patient_id,
            Consent.procedure == ConsentProcedure.MICRO_SCLEROTHERAPY,
            Consent.obtained_at <= at,
            or_(Consent.withdrawn_at.is_(None), Consent.withdrawn_at > at),
        )
        .order_by(Consent.obtained_at.desc(), Consent.created_at.desc())
    ).all()
    needed = FOAM_RISKS if foam else frozenset()
    for consent in standing:
        if needed <= set(consent.risks_explained):
            return consent
    also = " with foam's visual and neurological disturbances explained" if foam else ""
    raise ConsentMissing(
        f"No consent of the patient to micro-sclerotherapy{also} stood at "
        f"{at.isoformat()}: one obtained by then and not withdrawn. Record the patient's "
        "informed consent before the treatment is recorded.",
        discloses=patient_id,
        procedure=ConsentProcedure.MICRO_SCLEROTHERAPY.value,
        foam=foam,
    )
