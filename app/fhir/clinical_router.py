"""The FHIR R4 routes of the clinical records (`/fhir/R4`): Appointment, Flag, Procedure and
CarePlan, read and search. HTTP only, as `app.fhir.router`'s: each declares what it implements,
and the CapabilityStatement lists it; the mapping and the queries are in the resource modules.

Permissions and audit events are the REST API's for the same records: an Appointment is read
as `GET /api/v1/sessions/{id}` is (`sessions:read`), a Procedure is a session's treatment
record (`clinical:read`), a CarePlan a treatment plan (`plans:read`), and a patient's Flags
their eligibility (`evaluations:read-outcome`: an integration key may not read them). What a
role may not see in a record it may read (why a session was cancelled, a plan's notes) is left
out, as there."""

from __future__ import annotations

from fastapi import Response

from app.auditing import Access, Resource
from app.fhir import appointments, care_plans, flags, procedures
from app.plans import service as plan_service
from app.roles import Permission
from app.web.access import AuditDep, ClinicalDetail
from app.web.clock import Now
from app.web.db import Db
from app.web.fhir import FhirResponse, FhirRouter, FhirSearch, read, resource_id

router = FhirRouter()


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
    return read(appointments.appointment(session, clinical=clinical), version=session.version)


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
    resources = [appointments.appointment(s, clinical=clinical) for s in found.sessions]
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
