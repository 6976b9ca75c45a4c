"""Treatment plan routes."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.auditing import Access, Changed, Resource
from app.errors import InvalidCursor, NotFound, VersionMismatch
from app.models import TreatmentPlan
from app.patients.service import PatientArchived
from app.plans import service
from app.plans.schemas import PlanCreate, PlanRead, PlanUpdate, PlanUpdated, TreatmentPlanPage
from app.roles import Permission
from app.schemas import with_affected_sessions
from app.web.access import AuditDep, ClinicalDetail, requires
from app.web.clock import Now
from app.web.db import Db
from app.web.params import Cursor, ExpectedVersion, Limit, sends, set_etag
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1", tags=["treatment-plans"], route_class=ApiRoute)


def _view(plan: TreatmentPlan, *, clinical: bool) -> PlanRead:
    """The plan; its notes (clinical free text) only for roles that may read them."""
    read = PlanRead.model_validate(plan)
    return read if clinical else read.model_copy(update={"notes": None})


@router.post(
    "/patients/{patient_id}/treatment-plans",
    status_code=status.HTTP_201_CREATED,
    summary="Start a course of treatment",
    dependencies=[requires(Permission.PLANS_WRITE)],
    responses=problem_responses(NotFound, PatientArchived, service.UnknownEvaluation),
    response_description="The treatment plan started",
    openapi_extra=sends("ETag", "Location"),
)
def create_treatment_plan(
    patient_id: uuid.UUID,
    body: PlanCreate,
    db: Db,
    audit: AuditDep,
    response: Response,
    now: Now,
) -> PlanRead:
    """Start a course of micro-sclerotherapy: `planned_sessions` (default 3) about
    `interval_days` apart (default 28), resting on an evaluation (default: the current one).
    Booking still checks the patient's eligibility for every session."""
    plan = service.create_plan(db=db, patient_id=patient_id, data=body, now=now)
    audit.record("create", Resource.TREATMENT_PLAN, plan.id, patient_id=plan.patient_id)
    response.headers["Location"] = f"{router.prefix}/treatment-plans/{plan.id}"
    set_etag(response, plan.version)
    return PlanRead.model_validate(plan)


@router.get(
    "/patients/{patient_id}/treatment-plans",
    summary="List a patient's treatment plans",
    dependencies=[requires(Permission.PLANS_READ)],
    responses=problem_responses(NotFound, InvalidCursor),
    response_description="A page of the patient's treatment plans",
)
def list_treatment_plans(
    patient_id: uuid.UUID,
    db: Db,
    cursor: Cursor,
    audit: AuditDep,
    clinical: ClinicalDetail,
    limit: Limit = 50,
) -> TreatmentPlanPage:
    """The patient's courses of treatment, newest first, each with its sessions."""
    items, next_cursor = service.list_plans(
        db=db, patient_id=patient_id, limit=limit, cursor=cursor.after
    )
    audit.record_list(
        Resource.TREATMENT_PLAN, (Access(p.id, p.patient_id) for p in items), of_patient=patient_id
    )
    return TreatmentPlanPage(
        items=[_view(p, clinical=clinical) for p in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.get(
    "/treatment-plans/{plan_id}",
    summary="Read a treatment plan",
    dependencies=[requires(Permission.PLANS_READ)],
    responses=problem_responses(NotFound),
    response_description="The treatment plan with its sessions",
    openapi_extra=sends("ETag"),
)
def read_treatment_plan(
    plan_id: uuid.UUID,
    db: Db,
    audit: AuditDep,
    response: Response,
    clinical: ClinicalDetail,
) -> PlanRead:
    """One course with its sessions and how many are done (its notes for roles that may read
    clinical detail)."""
    plan = service.get_plan(db=db, plan_id=plan_id)
    audit.record("read", Resource.TREATMENT_PLAN, plan.id, patient_id=plan.patient_id)
    set_etag(response, plan.version)
    return _view(plan, clinical=clinical)


@router.patch(
    "/treatment-plans/{plan_id}",
    summary="Update a treatment plan",
    dependencies=[requires(Permission.PLANS_WRITE)],
    responses=problem_responses(NotFound, VersionMismatch, service.InvalidPlanChange),
    response_description="The treatment plan as changed, with any sessions the change affects",
    openapi_extra=sends("ETag"),
)
def update_treatment_plan(
    plan_id: uuid.UUID,
    body: PlanUpdate,
    db: Db,
    audit: AuditDep,
    response: Response,
    if_match: ExpectedVersion,
    clinical: ClinicalDetail,
    now: Now,
) -> PlanUpdated:
    """Change the number of sessions, the interval, or the status (`active`, `on-hold`,
    `cancelled`). A plan completes by itself when its planned sessions are all fulfilled
    (also when `planned_sessions` is lowered to the number done); completed and cancelled
    plans are final: only their notes change (else 409 `invalid-plan-change`). Notes are
    never lost: the audit trail keeps the text each change replaced.

    A course put on hold or cancelled lists its upcoming sessions in `affected_sessions`:
    they stay booked, flagged for review, to be cancelled or kept."""
    updated = service.update_plan(
        db=db, plan_id=plan_id, changes=body, now=now, expected_version=if_match
    )
    plan = updated.plan
    audit.record(
        "update",
        Resource.TREATMENT_PLAN,
        plan.id,
        patient_id=plan.patient_id,
        changes={"notes": Changed(*updated.notes)} if updated.notes else None,
    )
    set_etag(response, plan.version)
    return with_affected_sessions(_view(plan, clinical=clinical), PlanUpdated, updated.stranded)
