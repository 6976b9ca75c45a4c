"""Reading the audit trail (admins). There is no route that changes or removes an event."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEventPage, AuditEventRead
from app.auditing import Resource
from app.errors import InvalidCursor, InvalidQuery
from app.models import AuditOutcome
from app.roles import Permission
from app.schemas import Instant
from app.web.access import AuditDep, requires
from app.web.db import Db
from app.web.params import Cursor, Limit
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"], route_class=ApiRoute)


@router.get(
    "",
    summary="Search the audit trail",
    dependencies=[requires(Permission.AUDIT_READ)],
    responses=problem_responses(InvalidCursor, InvalidQuery),
    response_description="A page of audit events, newest first",
)
def list_audit_events(
    db: Db,
    cursor: Cursor,
    audit: AuditDep,
    patient_id: uuid.UUID | None = None,
    actor_id: Annotated[uuid.UUID | None, Query(description="A user's or API key's id")] = None,
    resource_type: Resource | None = None,
    resource_id: uuid.UUID | None = None,
    outcome: AuditOutcome | None = None,
    from_: Annotated[Instant | None, Query(alias="from", description="At or after")] = None,
    to: Annotated[Instant | None, Query(description="Before")] = None,
    limit: Limit = 50,
) -> AuditEventPage:
    """Who did what to which record, newest first: every create, update, archive and
    life-cycle step, every read of a patient's record, evaluation, plan or session (a list
    leaves one event naming every record it showed; one filtered by a patient names them even
    when it shows nothing), every search for patients (found or not:
    what it searched by, never the value), every login and every denied attempt. A refusal
    that showed something is `denied` too, with why in `detail`: a lookup of an id that names
    no record (`404 not-found`), a refused booking that named the patient's flags (`409
    eligibility-blocked`, to any role, told the flags or not; `patient-archived`,
    `interval-too-short`, `site-not-evaluated`, `dose-limit-exceeded`), an identifier said to
    be another patient's (`409 duplicate-identifier`, against that patient), an attempt to
    sign an evaluation or clearance refused (`not-own-practitioner`, `no-linked-practitioner`,
    `inactive-practitioner`). Reading the trail is itself recorded."""
    items, next_cursor = service.list_events(
        db=db,
        patient_id=patient_id,
        actor_id=actor_id,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        since=from_,
        until=to,
        limit=limit,
        cursor=cursor.after,
    )
    audit.record("search", Resource.AUDIT_TRAIL, None, patient_id=None)
    return AuditEventPage(
        items=[AuditEventRead.model_validate(e) for e in items],
        next_cursor=cursor.next_page(next_cursor),
    )
