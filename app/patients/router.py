"""Patient routes: HTTP only; the rules live in `service`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auditing import Access, Changed, Resource
from app.errors import DuplicateIdentifier, InvalidCursor, InvalidQuery, NotFound, VersionMismatch
from app.patients import service
from app.patients.schemas import (
    PatientArchivedRead,
    PatientCreate,
    PatientPage,
    PatientRead,
    PatientUpdate,
)
from app.roles import Permission
from app.schemas import with_affected_sessions
from app.web.access import AuditDep, requires
from app.web.clock import Now
from app.web.db import Db
from app.web.params import Cursor, ExpectedVersion, Limit, sends, set_etag
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1/patients", tags=["patients"], route_class=ApiRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a patient",
    dependencies=[requires(Permission.PATIENTS_WRITE)],
    responses=problem_responses(DuplicateIdentifier),
    response_description="The patient registered",
    openapi_extra=sends("ETag", "Location"),
)
def create_patient(
    body: PatientCreate, db: Db, audit: AuditDep, response: Response, now: Now
) -> PatientRead:
    """Register a patient with their demographics and the identifiers other systems use.

    An identifier (system, value) belongs to one patient only: reusing it is a 409
    `duplicate-identifier`. A birth date in the future, an unknown `sex` or a malformed
    email is a 422.
    """
    patient = service.create_patient(db=db, data=body, now=now)
    audit.record("create", Resource.PATIENT, patient.id, patient_id=patient.id)
    response.headers["Location"] = f"{router.prefix}/{patient.id}"
    set_etag(response, patient.version)
    return PatientRead.model_validate(patient)


@router.get(
    "",
    summary="List and search patients",
    dependencies=[requires(Permission.PATIENTS_READ)],
    responses=problem_responses(InvalidCursor, InvalidQuery),
    response_description="A page of patients",
)
def list_patients(
    db: Db,
    cursor: Cursor,
    audit: AuditDep,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=r"^[^\x00-\x1f\x7f]*$",
            description="Words matched, ignoring case, against the given or family name",
        ),
    ] = None,
    identifier: Annotated[
        str | None,
        Query(
            max_length=301,
            pattern=r"^[^|\s\x00-\x1f\x7f-\x9f]+\|[^|\x00-\x1f\x7f-\x9f]+$",
            description="Exact identifier, written `system|value`",
        ),
    ] = None,
    include_archived: Annotated[bool, Query(description="Include archived patients")] = False,
    limit: Limit = 50,
) -> PatientPage:
    """Patients ordered by family name, then given name, a page at a time.

    Archived patients are left out unless `include_archived=true`. Pass `next_cursor` back as
    `cursor` for the next page; it is null on the last one.

    A search (`q`, `identifier`) is recorded in the audit trail whether it finds anyone or not:
    what it searched by and the patients it returned, never the name or identifier sought.
    """
    items, next_cursor = service.list_patients(
        db=db,
        q=q,
        identifier=identifier,
        include_archived=include_archived,
        limit=limit,
        cursor=cursor.after,
    )
    shown = (Access(p.id, p.id) for p in items)
    searched_by = _searched_by(q, identifier)
    if searched_by:
        audit.record_search(Resource.PATIENT, shown, by=searched_by)
    else:
        audit.record_list(Resource.PATIENT, shown)
    return PatientPage(
        items=[PatientRead.model_validate(p) for p in items],
        next_cursor=cursor.next_page(next_cursor),
    )


def _searched_by(q: str | None, identifier: str | None) -> str | None:
    """What a list searched patients by, as the audit trail names it (never the value)."""
    kinds = [kind for kind, sent in (("identifier", identifier), ("name", q)) if sent]
    return " and ".join(kinds) or None


@router.get(
    "/{patient_id}",
    summary="Read a patient",
    dependencies=[requires(Permission.PATIENTS_READ)],
    responses=problem_responses(NotFound),
    response_description="The patient",
    openapi_extra=sends("ETag"),
)
def read_patient(patient_id: uuid.UUID, db: Db, audit: AuditDep, response: Response) -> PatientRead:
    """One patient, archived or not. The `ETag` header carries the record's version."""
    patient = service.read_patient(db=db, patient_id=patient_id, audit=audit)
    set_etag(response, patient["version"])
    return PatientRead.model_validate(patient)


@router.patch(
    "/{patient_id}",
    summary="Update a patient",
    dependencies=[requires(Permission.PATIENTS_WRITE)],
    responses=problem_responses(
        NotFound, DuplicateIdentifier, VersionMismatch, service.PatientArchived
    ),
    response_description="The patient as changed",
    openapi_extra=sends("ETag"),
)
def update_patient(
    patient_id: uuid.UUID,
    body: PatientUpdate,
    db: Db,
    audit: AuditDep,
    response: Response,
    if_match: ExpectedVersion,
    now: Now,
) -> PatientRead:
    """Change only the fields sent; `null` clears an optional field (phone, email, weight).

    Sending `identifiers` replaces the whole list. Send `If-Match` with the `ETag` you read to
    be sure no one else changed the record meanwhile (else 412 `version-mismatch`). An
    archived patient's record no longer changes (409 `patient-archived`).

    The weight here is the patient's own record: it never sets a dose limit (that takes the
    weight a clinician recorded on the evaluation or the treatment record), and each change
    of it is kept, with the old value, in the audit trail.
    """
    updated = service.update_patient(
        db=db, patient_id=patient_id, changes=body, now=now, expected_version=if_match
    )
    patient = updated.patient
    audit.record(
        "update",
        Resource.PATIENT,
        patient.id,
        patient_id=patient.id,
        changes={field: Changed(old, new) for field, (old, new) in updated.changed.items()},
    )
    set_etag(response, patient.version)
    return PatientRead.model_validate(patient)


@router.delete(
    "/{patient_id}",
    summary="Archive a patient",
    dependencies=[requires(Permission.PATIENTS_ARCHIVE)],
    responses=problem_responses(NotFound, VersionMismatch),
    response_description="The patient, archived, with the sessions the archive cancelled",
    openapi_extra=sends("ETag"),
)
def archive_patient(
    patient_id: uuid.UUID,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    response: Response,
    now: Now,
    if_match: ExpectedVersion,
) -> PatientArchivedRead:
    """Archive the patient: the record stays (nothing clinical is ever deleted) but leaves the
    lists unless `include_archived=true`. Archiving twice is harmless.

    An archived patient is neither booked nor treated. `affected_sessions` lists their
    upcoming sessions: they stay booked, flagged for review, for the clinic to cancel or
    settle. Their waitlist entry ends (`removed`, `patient-archived`), and an offer standing
    for them is withdrawn, its slot offered to the next patient on the list at once."""
    archived = service.archive_patient(
        db=db,
        patient_id=patient_id,
        now=now,
        booking=policy.booking,
        waitlist=policy.waitlist,
        expected_version=if_match,
    )
    patient = archived.patient
    audit.record("archive", Resource.PATIENT, patient.id, patient_id=patient.id)
    set_etag(response, patient.version)
    read = PatientRead.model_validate(patient)
    return with_affected_sessions(read, PatientArchivedRead, archived.stranded)
