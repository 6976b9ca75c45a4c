"""The FHIR R4 routes (`/fhir/R4`): HTTP only. Each declares what it implements
(`FhirRouter.serves`), and the CapabilityStatement lists exactly those declarations; the
mapping to resources and the queries live in the resource modules beside this one.

Permissions are the REST API's for the same records: a Patient is read as
`GET /api/v1/patients/{id}` is (`patients:read`, audited alike), practitioners, schedules and
slots as the calendars are (`calendars:read`)."""

from __future__ import annotations

from fastapi import Request, Response

from app import __version__
from app.auditing import Access, Resource
from app.fhir import patients, practitioners, schedules, slots
from app.fhir.capability import capability_statement
from app.patients import service as patient_service
from app.roles import Permission
from app.web.access import AuditDep
from app.web.clock import Now
from app.web.db import Db, ReadDb
from app.web.fhir import (
    FhirResponse,
    FhirRouter,
    FhirSearch,
    declared_interactions,
    read,
    resource_id,
)
from app.web.policy import Policy

router = FhirRouter()


@router.get("/metadata", response_class=FhirResponse, include_in_schema=False)
def read_capability_statement(request: Request, now: Now) -> Response:
    """The server's CapabilityStatement: open without credentials, as FHIR servers are. It
    lists every resource, interaction, search parameter and operation a route serves."""
    statement = capability_statement(
        declared_interactions(request.app), software_version=__version__, date=now
    )
    return FhirResponse(statement)


@router.serves(patients.READ, permission=Permission.PATIENTS_READ, summary="Read a Patient")
def read_patient(patient_id: str, db: Db, audit: AuditDep) -> Response:
    """One patient, archived or not (then `active` is false), audited as the REST read is."""
    found = patient_service.read_patient(
        db=db, patient_id=resource_id(patient_id, "Patient"), audit=audit
    )
    return read(patients.patient_resource(found), version=found["version"])


@router.serves(patients.SEARCH, permission=Permission.PATIENTS_READ, summary="Search Patients")
def search_patients(db: Db, audit: AuditDep, search: FhirSearch) -> Response:
    """Patients by identifier, name, birth date or id, by family then given name. Recorded
    in the audit trail as the REST list and search are: one event naming every patient the
    page shows (what it searched by, never the values sought)."""
    resources, ids, next_cursor = patients.search_patients(
        db=db, query=search.query, limit=search.query.count, cursor=search.after
    )
    shown = [Access(i, i) for i in ids]
    searched_by = [name for name in search.query.searched_by() if name != "active"]
    if searched_by:
        audit.record_search(Resource.PATIENT, shown, by=" and ".join(searched_by))
    else:
        audit.record_list(Resource.PATIENT, shown)
    return search.bundle(resources, next_cursor)


@router.serves(
    practitioners.READ, permission=Permission.CALENDARS_READ, summary="Read a Practitioner"
)
def read_practitioner(practitioner_id: str, db: ReadDb) -> Response:
    """One practitioner."""
    found = practitioners.get_practitioner(
        db=db, practitioner_id=resource_id(practitioner_id, "Practitioner"), kind="Practitioner"
    )
    return read(practitioners.practitioner_resource(found), version=found.version)


@router.serves(
    practitioners.SEARCH, permission=Permission.CALENDARS_READ, summary="Search Practitioners"
)
def search_practitioners(db: ReadDb, search: FhirSearch) -> Response:
    """Practitioners by name, identifier or whether they see patients, by name."""
    found, next_cursor = practitioners.search_practitioners(
        db=db, query=search.query, limit=search.query.count, cursor=search.after
    )
    return search.bundle([practitioners.practitioner_resource(p) for p in found], next_cursor)


@router.serves(schedules.READ, permission=Permission.CALENDARS_READ, summary="Read a Schedule")
def read_schedule(practitioner_id: str, db: ReadDb, now: Now) -> Response:
    """A practitioner's schedule (the practitioner's id)."""
    found = practitioners.get_practitioner(
        db=db, practitioner_id=resource_id(practitioner_id, "Schedule"), kind="Schedule"
    )
    return read(schedules.schedule_resource(found, now=now), version=found.version)


@router.serves(schedules.SEARCH, permission=Permission.CALENDARS_READ, summary="Search Schedules")
def search_schedules(db: ReadDb, search: FhirSearch, now: Now) -> Response:
    """Schedules by practitioner (`actor`) or whether they are active, by name."""
    found, next_cursor = practitioners.search_practitioners(
        db=db, query=search.query, limit=search.query.count, cursor=search.after, ids="actor"
    )
    return search.bundle([schedules.schedule_resource(p, now=now) for p in found], next_cursor)


@router.serves(slots.READ, permission=Permission.CALENDARS_READ, summary="Read a Slot")
def read_slot(slot_id: str, db: ReadDb, policy: Policy, now: Now) -> Response:
    """A slot, free or busy now; 404 if it is not one (off the grid, away, past)."""
    found = slots.read_slot(db=db, text=slot_id, now=now, grid=policy.scheduling.grid)
    return read(slots.slot_resource(found), version=None)


@router.serves(slots.SEARCH, permission=Permission.CALENDARS_READ, summary="Search Slots")
def search_slots(db: ReadDb, search: FhirSearch, policy: Policy, now: Now) -> Response:
    """Free and busy slots in a window of at most 31 days, by start then schedule."""
    resources, next_cursor = slots.search_slots(
        db=db, query=search.query, now=now, grid=policy.scheduling.grid, cursor=search.after
    )
    return search.bundle(resources, next_cursor)
