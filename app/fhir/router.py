"""The FHIR R4 routes (`/fhir/R4`): HTTP only. Each declares what it implements
(`FhirRouter.serves`), and the CapabilityStatement lists exactly those declarations; the
mapping to resources and the queries live in the resource modules beside this one.

Permissions are the REST API's for the same records: a Patient is read as
`GET /api/v1/patients/{id}` is (`patients:read`, audited alike), practitioners, schedules and
slots as the calendars are (`calendars:read`). So are the clinical records': an Appointment is
read as `GET /api/v1/sessions/{id}` is (`sessions:read`), a Procedure is a session's treatment
record (`clinical:read`), a CarePlan a treatment plan (`plans:read`), and a patient's Flags
their eligibility (`evaluations:read-outcome`: an integration key may not read them), and a
Consent a patient's consent (`consents:read`: nor these); each is audited as its REST read
is. What a role may not see in a record it may read (why a session was cancelled, a plan's
notes) is left out, as there."""

from __future__ import annotations

from fastapi import Request, Response

from app import __version__
from app.auditing import Access, Resource
from app.consents import service as consent_service
from app.fhir import (
    appointments,
    care_plans,
    consents,
    flags,
    patients,
    practitioners,
    procedures,
    schedules,
    slots,
)
from app.fhir.capability import capability_statement
from app.fhir.http import (
    FhirResponse,
    FhirRouter,
    FhirSearch,
    declared_interactions,
    read,
    resource_id,
)
from app.patients import service as patient_service
from app.plans import service as plan_service
from app.roles import Permission
from app.web.access import AuditDep, ClinicalDetail
from app.web.clock import Now
from app.web.db import Db, ReadDb
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
    """A slot, free or busy now; 404 if it is not one (off the grid, away, past, inside the
    practitioner's minimum notice)."""
    found = slots.read_slot(
        db=db,
        text=slot_id,
        now=now,
        grid=policy.scheduling.grid,
        margins=policy.scheduling.margins,
    )
    return read(slots.slot_resource(found), version=None)


@router.serves(slots.SEARCH, permission=Permission.CALENDARS_READ, summary="Search Slots")
def search_slots(db: ReadDb, search: FhirSearch, policy: Policy, now: Now) -> Response:
    """Free and busy slots in a window of at most 31 days, by start then schedule."""
    resources, next_cursor = slots.search_slots(
        db=db,
        query=search.query,
        now=now,
        grid=policy.scheduling.grid,
        margins=policy.scheduling.margins,
        cursor=search.after,
    )
    return search.bundle(resources, next_cursor)


@router.serves(
    appointments.READ, permission=Permission.SESSIONS_READ, summary="Read an Appointment"
)
def read_appointment(
    session_id: str, db: Db, audit: AuditDep, clinical: ClinicalDetail, now: Now
) -> Response:
    """One session, or a hold not yet expired, as an Appointment, audited as the REST read
    is; why it was cancelled only for roles that may read clinical detail."""
    session = appointments.get_session(
        db=db, session_id=resource_id(session_id, "Appointment"), now=now
    )
    audit.record("read", Resource.SESSION, session.id, patient_id=session.patient_id)
    room = appointments.room_names(db, [session.room_id]).get(session.room_id)
    resource = appointments.appointment(session, clinical=clinical, room=room)
    return read(resource, version=session.version)


@router.serves(
    appointments.SEARCH, permission=Permission.SESSIONS_READ, summary="Search Appointments"
)
def search_appointments(
    db: Db, audit: AuditDep, search: FhirSearch, clinical: ClinicalDetail, now: Now
) -> Response:
    """Sessions by patient, practitioner, start and status, by start. Recorded in the audit
    trail as the REST calendar list is: one event naming every session the page shows (and
    the patient searched for, even when none matched)."""
    found = appointments.search_sessions(
        db=db, query=search.query, now=now, limit=search.query.count, cursor=search.after
    )
    audit.record_list(
        Resource.SESSION,
        (Access(s.id, s.patient_id) for s in found.sessions),
        of_patient=found.patient_id,
    )
    rooms = appointments.room_names(db, (s.room_id for s in found.sessions))
    resources = [
        appointments.appointment(s, clinical=clinical, room=rooms.get(s.room_id))
        for s in found.sessions
    ]
    return search.bundle(resources, found.next_cursor)


@router.serves(procedures.READ, permission=Permission.CLINICAL_READ, summary="Read a Procedure")
def read_procedure(session_id: str, db: Db, audit: AuditDep) -> Response:
    """A treated session's record as a Procedure (404 for a session never treated), audited
    as the REST read of the session is."""
    session, record = procedures.get_treated_session(
        db=db, session_id=resource_id(session_id, "Procedure")
    )
    audit.record("read", Resource.SESSION, session.id, patient_id=session.patient_id)
    return read(procedures.procedure(session, record), version=session.version)


@router.serves(procedures.SEARCH, permission=Permission.CLINICAL_READ, summary="Search Procedures")
def search_procedures(db: Db, audit: AuditDep, search: FhirSearch, now: Now) -> Response:
    """Treatments by patient and when the sclerosant was given, by the session's start;
    audited as the REST calendar list is."""
    found = procedures.search_treated_sessions(
        db=db, query=search.query, now=now, limit=search.query.count, cursor=search.after
    )
    audit.record_list(
        Resource.SESSION,
        (Access(s.id, s.patient_id) for s, _ in found.treated),
        of_patient=found.patient_id,
    )
    resources = [procedures.procedure(s, record) for s, record in found.treated]
    return search.bundle(resources, found.next_cursor)


@router.serves(care_plans.READ, permission=Permission.PLANS_READ, summary="Read a CarePlan")
def read_care_plan(plan_id: str, db: Db, audit: AuditDep, clinical: ClinicalDetail) -> Response:
    """A treatment plan with its sessions as a CarePlan, audited as the REST read is; its
    notes only for roles that may read clinical detail."""
    plan = plan_service.get_plan(db=db, plan_id=resource_id(plan_id, "CarePlan"))
    audit.record("read", Resource.TREATMENT_PLAN, plan.id, patient_id=plan.patient_id)
    return read(care_plans.care_plan(plan, clinical=clinical), version=plan.version)


@router.serves(care_plans.SEARCH, permission=Permission.PLANS_READ, summary="Search CarePlans")
def search_care_plans(
    db: Db, audit: AuditDep, search: FhirSearch, clinical: ClinicalDetail
) -> Response:
    """Treatment plans by patient and status, newest first; audited as the REST list of a
    patient's plans is."""
    found = care_plans.search(
        db=db, query=search.query, limit=search.query.count, cursor=search.after
    )
    audit.record_list(
        Resource.TREATMENT_PLAN,
        (Access(p.id, p.patient_id) for p in found.plans),
        of_patient=found.patient_id,
    )
    resources = [care_plans.care_plan(p, clinical=clinical) for p in found.plans]
    return search.bundle(resources, found.next_cursor)


@router.serves(flags.READ, permission=Permission.EVALUATIONS_READ_OUTCOME, summary="Read a Flag")
def read_flag(flag_id: str, db: Db, audit: AuditDep, now: Now) -> Response:
    """One of a patient's current eligibility flags (404 once it no longer stands), audited
    as the REST read of their eligibility is."""
    patient_id, resource = flags.read_flag(db=db, text=flag_id, now=now)
    audit.record("read-eligibility", Resource.PATIENT, patient_id, patient_id=patient_id)
    version = resource["meta"]["versionId"]
    return FhirResponse(resource, headers={"ETag": f'W/"{version}"'})


@router.serves(flags.SEARCH, permission=Permission.EVALUATIONS_READ_OUTCOME, summary="Search Flags")
def search_flags(db: Db, audit: AuditDep, search: FhirSearch, now: Now) -> Response:
    """A patient's current eligibility flags (`patient` is required), audited as the REST
    read of their eligibility is."""
    found = flags.search(
        db=db, query=search.query, now=now, limit=search.query.count, cursor=search.after
    )
    if found.read_of is not None:
        audit.record("read-eligibility", Resource.PATIENT, found.read_of, patient_id=found.read_of)
    return search.bundle(found.resources, found.next_cursor)


@router.serves(consents.READ, permission=Permission.CONSENTS_READ, summary="Read a Consent")
def read_consent(consent_id: str, db: Db, audit: AuditDep) -> Response:
    """A patient's consent to a procedure, active or withdrawn (inactive), audited as the
    REST read is."""
    consent = consent_service.get_consent(db=db, consent_id=resource_id(consent_id, "Consent"))
    audit.record("read", Resource.CONSENT, consent.id, patient_id=consent.patient_id)
    return read(consents.consent_resource(consent), version=consent.version)


@router.serves(consents.SEARCH, permission=Permission.CONSENTS_READ, summary="Search Consents")
def search_consents(db: Db, audit: AuditDep, search: FhirSearch) -> Response:
    """A patient's consents (`patient` is required), by status, newest first; audited as the
    REST list of a patient's consents is."""
    found = consents.search(
        db=db, query=search.query, limit=search.query.count, cursor=search.after
    )
    audit.record_list(
        Resource.CONSENT,
        (Access(c.id, c.patient_id) for c in found.consents),
        of_patient=found.patient_id,
    )
    return search.bundle([consents.consent_resource(c) for c in found.consents], found.next_cursor)
