"""Patient records: create, find, update and archive. Patients are never hard-deleted."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, func, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.auditing import AuditTrail, Resource
from app.db import hold_lock
from app.errors import (
    Conflict,
    DuplicateIdentifier,
    InvalidField,
    InvalidQuery,
    NotFound,
    Versions,
    require_version,
)
from app.events.outbox import announce
from app.models import (
    Evaluation,
    Patient,
    PatientIdentifier,
    PatientWeight,
    TreatmentSession,
    utcnow,
)
from app.pagination import Keyset, cursor_uuid, paginate
from app.patients.schemas import Identifier, PatientCreate, PatientUpdate
from app.policy import BookingRules, WaitlistRules
from app.vocabulary import EventType


class PatientArchived(Conflict):
    code = "patient-archived"
    title = "The patient is archived"


# Fields whose every change the audit trail keeps with the old value: the weight is clinical
# data (the record's own weight never sets a dose limit, see `app.sessions.dosing`).
_AUDITED_VALUES = ("weight_kg",)

_BY_NAME = Keyset(
    columns=(Patient.family_key, Patient.given_key, Patient.id), parsers=(str, str, cursor_uuid)
)


def _name_key(name: str) -> str:
    return name.casefold()


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _with_identifiers() -> Select[Patient]:
    return select(Patient).options(selectinload(Patient.identifiers))


def lock_patient(db: Session, patient_id: uuid.UUID) -> None:
    """One change to a patient's care at a time (a booking, a treatment, an evaluation), held
    by the database until commit: each then sees every change committed before it, so a
    contraindication recorded at the moment of a treatment is either seen by it or comes
    after it."""
    hold_lock(db, patient_lock(patient_id))


def patient_lock(patient_id: uuid.UUID) -> str:
    """The name of the lock on a patient's care (`lock_patient`)."""
    return f"patient:{patient_id}"


def get_patient(*, db: Session, patient_id: uuid.UUID) -> Patient:
    """Load one patient (archived ones too) or raise `NotFound`."""
    patient = db.scalar(_with_identifiers().where(Patient.id == patient_id))
    if patient is None:
        raise NotFound(f"No patient with id {patient_id}.")
    return patient


_PATIENTS = Patient.metadata.tables[Patient.__tablename__]
_IDENTIFIERS = Patient.metadata.tables[PatientIdentifier.__tablename__]
_PATIENT_WITH_IDENTIFIERS = (
    select(_PATIENTS, _IDENTIFIERS.c.system, _IDENTIFIERS.c.value)
    .outerjoin(_IDENTIFIERS, _IDENTIFIERS.c.patient_id == _PATIENTS.c.id)
    .where(_PATIENTS.c.id == bindparam("patient_id"))
    .order_by(_IDENTIFIERS.c.system, _IDENTIFIERS.c.value)
)


_PATIENT_EXISTS = exists().where(_PATIENTS.c.id == bindparam("patient_id"))


def read_patient(*, db: Session, patient_id: uuid.UUID, audit: AuditTrail) -> dict[str, Any]:
    """One patient (archived ones too) and their identifiers, as plain values read in one
    statement (the hot read, with no ORM objects to build), the read recorded in the audit
    trail, by that statement where it can (`AuditTrail.read_recorded`). `NotFound` if there
    is none."""
    rows = audit.read_recorded(
        _PATIENT_WITH_IDENTIFIERS,
        {"patient_id": patient_id},
        found=_PATIENT_EXISTS,
        action="read",
        resource_type=Resource.PATIENT,
        resource_id=patient_id,
        patient_id=patient_id,
    )
    if not rows:
        raise NotFound(f"No patient with id {patient_id}.")
    patient = {key: value for key, value in rows[0]._mapping.items() if key not in _IDENTIFIER_KEYS}
    patient["identifiers"] = [
        {"system": row.system, "value": row.value} for row in rows if row.system is not None
    ]
    return patient


_IDENTIFIER_KEYS = frozenset({"system", "value"})


def create_patient(*, db: Session, data: PatientCreate, now: datetime) -> Patient:
    _ensure_identifiers_free(db=db, identifiers=data.identifiers, owner_id=None)
    fields = data.model_dump(exclude={"identifiers"})
    patient = Patient(
        **fields,
        given_key=_name_key(data.given_name),
        family_key=_name_key(data.family_name),
        identifiers=[PatientIdentifier(system=i.system, value=i.value) for i in data.identifiers],
    )
    db.add(patient)
    _flush_identifiers(db)
    keep_weight(db, patient, now)
    return patient


def keep_weight(db: Session, patient: Patient, now: datetime) -> None:
    """Add the record's weight, if it has one, to its history (see `PatientWeight`)."""
    if patient.weight_kg is not None:
        db.add(PatientWeight(patient_id=patient.id, weight_kg=patient.weight_kg, recorded_at=now))


@dataclass(frozen=True)
class Updated:
    patient: Patient
    # The audited fields that changed: {field: (old, new)}.
    changed: dict[str, tuple[Any, Any]]


def update_patient(
    *,
    db: Session,
    patient_id: uuid.UUID,
    changes: PatientUpdate,
    now: datetime,
    expected_version: Versions | None = None,
) -> Updated:
    """Apply the fields that were sent. `expected_version` (from If-Match) guards lost updates.
    An archived patient's record is closed: 409 `patient-archived`."""
    patient = get_patient(db=db, patient_id=patient_id)
    require_version("Patient", patient.version, expected_version)
    if patient.archived:
        raise PatientArchived(f"Patient {patient_id} is archived: the record no longer changes.")
    sent = changes.model_dump(exclude_unset=True, exclude={"identifiers"})
    if "birth_date" in sent:
        _born_before_first_evaluation(db, patient.id, sent["birth_date"])
    changed = {
        field: (getattr(patient, field), sent[field])
        for field in _AUDITED_VALUES
        if field in sent and sent[field] != getattr(patient, field)
    }
    for field, value in sent.items():
        setattr(patient, field, value)
    if "given_name" in sent:
        patient.given_key = _name_key(patient.given_name)
    if "family_name" in sent:
        patient.family_key = _name_key(patient.family_name)
    if changes.identifiers is not None:
        _replace_identifiers(db=db, patient=patient, identifiers=changes.identifiers)
    if "weight_kg" in changed:
        keep_weight(db, patient, now)
    if sent or changes.identifiers is not None:
        patient.updated_at = utcnow()  # also bumps `version` when only identifiers changed
    _flush_identifiers(db)
    return Updated(patient, changed)


def _born_before_first_evaluation(db: Session, patient_id: uuid.UUID, birth_date: date) -> None:
    first = db.scalar(
        select(func.min(Evaluation.performed_at)).where(Evaluation.patient_id == patient_id)
    )
    # Compared with the latest calendar date anywhere on Earth at that instant.
    if first is not None and (first + timedelta(hours=14)).date() < birth_date:
        raise InvalidField(
            ("body", "birth_date"),
            f"is after the patient's first evaluation ({first.date().isoformat()})",
        )


@dataclass(frozen=True)
class Archived:
    patient: Patient
    # Upcoming sessions of the patient: none can go ahead now. They stay booked, for review.
    stranded: Sequence[TreatmentSession]


# What archiving a patient ends beyond their record, run once it is archived (their lock held):
# (db, patient id, now, the booking rules, the waitlist's). `app.main` installs the waitlist's
# (their entry ends, an offer standing for them is withdrawn and its slot passed on at once):
# the waitlist books through services that import this one, so this one does not import it.
OnArchive = Callable[[Session, uuid.UUID, datetime, BookingRules, WaitlistRules], object]
_ON_ARCHIVE: list[OnArchive] = []


def install_on_archive(hook: OnArchive) -> None:
    """What archiving a patient ends beyond their record (`app.main` installs the waitlist's)."""
    _ON_ARCHIVE[:] = [hook]


def archive_patient(
    *,
    db: Session,
    patient_id: uuid.UUID,
    now: datetime,
    booking: BookingRules,
    waitlist: WaitlistRules,
    expected_version: Versions | None = None,
) -> Archived:
    """Hide the patient from lists; the record and its history stay. Their place on the
    waitlist ends (`install_on_archive`)."""
    lock_patient(db, patient_id)
    patient = get_patient(db=db, patient_id=patient_id)
    require_version("Patient", patient.version, expected_version)
    if not patient.archived:
        patient.archived = True
        patient.archived_at = now
        db.flush()
        # Archived, the patient's outcome is `patient-archived`, whatever it was before.
        announce(db, EventType.ELIGIBILITY_CHANGED, at=now, patient_id=patient.id)
    # Archived already, too: a patient archived before archiving ended their entry loses it now.
    for hook in _ON_ARCHIVE:
        hook(db, patient.id, now, booking, waitlist)
    stranded = db.scalars(
        select(TreatmentSession)
        .where(TreatmentSession.patient_id == patient.id, TreatmentSession.awaiting_treatment(now))
        .order_by(TreatmentSession.start_at)
    ).all()
    return Archived(patient, stranded)


def list_patients(
    *,
    db: Session,
    q: str | None = None,
    identifier: str | None = None,
    include_archived: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[Patient], str | None]:
    """Patients ordered by family then given name, a page at a time.

    `q` matches each of its words against the given or the family name, ignoring case;
    `identifier` is `system|value`.
    """
    query = _with_identifiers()
    if not include_archived:
        query = query.where(Patient.archived.is_(False))
    for term in (q or "").casefold().split():
        pattern = f"%{_escape_like(term)}%"
        query = query.where(
            or_(
                Patient.given_key.like(pattern, escape="\\"),
                Patient.family_key.like(pattern, escape="\\"),
            )
        )
    if identifier is not None:
        system, sep, value = identifier.partition("|")
        if not sep or not system or not value:
            raise InvalidQuery("identifier must be written system|value.", parameter="identifier")
        query = query.where(
            Patient.identifiers.any(
                and_(PatientIdentifier.system == system, PatientIdentifier.value == value)
            )
        )
    return paginate(db, query, _BY_NAME, limit=limit, cursor=cursor)


def _ensure_identifiers_free(
    *, db: Session, identifiers: Sequence[Identifier], owner_id: uuid.UUID | None
) -> None:
    if not identifiers:
        return
    pairs = [(i.system, i.value) for i in identifiers]
    query = select(
        PatientIdentifier.system, PatientIdentifier.value, PatientIdentifier.patient_id
    ).where(tuple_(PatientIdentifier.system, PatientIdentifier.value).in_(pairs))
    if owner_id is not None:
        query = query.where(PatientIdentifier.patient_id != owner_id)
    taken = db.execute(query.limit(1)).first()
    if taken is not None:
        raise DuplicateIdentifier(
            f"Identifier {taken.system}|{taken.value} already belongs to another patient.",
            identifier={"system": taken.system, "value": taken.value},
            discloses=taken.patient_id,  # whose it is: never in the answer, but audited
        )


def _replace_identifiers(
    *, db: Session, patient: Patient, identifiers: Sequence[Identifier]
) -> None:
    _ensure_identifiers_free(db=db, identifiers=identifiers, owner_id=patient.id)
    wanted = {(i.system, i.value) for i in identifiers}
    # Keep the rows that stay, so an unchanged identifier is never deleted and re-inserted.
    kept = [i for i in patient.identifiers if (i.system, i.value) in wanted]
    have = {(i.system, i.value) for i in kept}
    added = [PatientIdentifier(system=s, value=v) for s, v in sorted(wanted - have)]
    patient.identifiers = kept + added
    _flush_identifiers(db)  # deletes go out before inserts of a later flush


def _flush_identifiers(db: Session) -> None:
    # A concurrent request may have taken the identifier after our check: the unique
    # constraint decides, and the loser gets the same 409 as a sequential duplicate.
    try:
        db.flush()
    except IntegrityError as exc:
        if "patient_identifiers" in str(exc.orig):
            raise DuplicateIdentifier("An identifier already belongs to another patient.") from None
        raise
