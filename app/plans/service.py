"""Treatment plans: a course of sessions tied to the evaluation that allows it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from app.errors import Conflict, DomainError, NotFound, Versions, require_version
from app.evaluations.service import current_eligibility
from app.events.outbox import announce
from app.models import Evaluation, TreatmentPlan, TreatmentSession, utcnow
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.patients.service import PatientArchived, get_patient, lock_patient
from app.plans.schemas import PlanCreate, PlanUpdate
from app.vocabulary import EventType, PlanStatus, SessionStatus


class UnknownEvaluation(DomainError):
    status = 422
    code = "unknown-evaluation"
    title = "No such evaluation for this patient"


class UnknownPlan(DomainError):
    status = 422
    code = "unknown-plan"
    title = "No such treatment plan for this patient"


class InvalidPlanChange(Conflict):
    code = "invalid-plan-change"
    title = "The plan cannot change that way"


_NEWEST_FIRST = Keyset(
    columns=(TreatmentPlan.created_at, TreatmentPlan.id),
    parsers=(cursor_datetime, cursor_uuid),
    descending=True,
)

_FINAL = {PlanStatus.COMPLETED, PlanStatus.CANCELLED}

# Which statuses a client may move a plan to, from each status.
_PLAN_MOVES: dict[PlanStatus, set[PlanStatus]] = {
    PlanStatus.ACTIVE: {PlanStatus.ON_HOLD, PlanStatus.CANCELLED},
    PlanStatus.ON_HOLD: {PlanStatus.ACTIVE, PlanStatus.CANCELLED},
    PlanStatus.COMPLETED: set(),
    PlanStatus.CANCELLED: set(),
}


def _plan_with_sessions(plan_id: uuid.UUID) -> Select[TreatmentPlan]:
    return (
        select(TreatmentPlan)
        .options(selectinload(TreatmentPlan.sessions))
        .where(TreatmentPlan.id == plan_id)
    )


def get_plan(*, db: Session, plan_id: uuid.UUID) -> TreatmentPlan:
    plan = db.scalar(_plan_with_sessions(plan_id))
    if plan is None:
        raise NotFound(f"No treatment plan with id {plan_id}.")
    return plan


def active_plan(*, db: Session, plan_id: uuid.UUID, patient_id: uuid.UUID) -> TreatmentPlan:
    """The patient's plan, with its sessions, to book or propose in: it must be active."""
    plan = db.scalar(_plan_with_sessions(plan_id))
    if plan is None or plan.patient_id != patient_id:
        raise UnknownPlan(f"Treatment plan {plan_id} is not one of this patient's.")
    if plan.status is not PlanStatus.ACTIVE:
        raise UnknownPlan(f"Treatment plan {plan_id} is {plan.status.value}, not active.")
    return plan


def create_plan(
    *, db: Session, patient_id: uuid.UUID, data: PlanCreate, now: datetime
) -> TreatmentPlan:
    patient = get_patient(db=db, patient_id=patient_id)
    if patient.archived:
        raise PatientArchived(f"Patient {patient_id} is archived.")
    evaluation_id = data.evaluation_id
    if evaluation_id is None:
        evaluation_id = current_eligibility(db=db, patient_id=patient_id, now=now).evaluation_id
        if evaluation_id is None:
            raise UnknownEvaluation("The patient has no evaluation: record one first.")
    evaluation = db.get(Evaluation, evaluation_id)
    if evaluation is None or evaluation.patient_id != patient_id:
        raise UnknownEvaluation(f"Evaluation {evaluation_id} is not one of this patient's.")
    plan = TreatmentPlan(
        patient_id=patient_id,
        evaluation_id=evaluation_id,
        planned_sessions=data.planned_sessions,
        interval_days=data.interval_days,
        status=PlanStatus.ACTIVE,
        notes=data.notes,
        sessions=[],
    )
    db.add(plan)
    db.flush()
    return plan


@dataclass(frozen=True)
class Updated:
    plan: TreatmentPlan
    # The notes before and after, when they changed: the audit trail keeps the old text.
    notes: tuple[str | None, str | None] | None
    # Upcoming sessions of a course put on hold or cancelled: they stay booked, for review.
    stranded: Sequence[TreatmentSession]


def update_plan(
    *,
    db: Session,
    plan_id: uuid.UUID,
    changes: PlanUpdate,
    now: datetime,
    expected_version: Versions | None = None,
) -> Updated:
    # The patient's lock: a booking in this plan waits for the change (and it for the booking),
    # so the plan never ends with more sessions than planned.
    patient_id = db.scalar(select(TreatmentPlan.patient_id).where(TreatmentPlan.id == plan_id))
    if patient_id is not None:
        lock_patient(db, patient_id)
    plan = get_plan(db=db, plan_id=plan_id)
    require_version("Plan", plan.version, expected_version)
    if plan.status in _FINAL and changes.model_fields_set - {"notes"}:
        raise InvalidPlanChange(
            f"The plan is {plan.status.value}: only its notes can change; start a new plan."
        )
    if changes.status is not None and changes.status != plan.status:
        if changes.status not in _PLAN_MOVES[plan.status]:
            raise InvalidPlanChange(
                f"A plan cannot go from {plan.status.value} to {changes.status.value}."
            )
        plan.status = changes.status
    if changes.planned_sessions is not None:
        live = plan.sessions_live
        if changes.planned_sessions < live:
            raise InvalidPlanChange(
                f"The plan already has {live} sessions booked or done.", sessions=live
            )
        plan.planned_sessions = changes.planned_sessions
    if changes.interval_days is not None:
        plan.interval_days = changes.interval_days
    notes = None
    if "notes" in changes.model_fields_set and changes.notes != plan.notes:
        notes = (plan.notes, changes.notes)
        plan.notes = changes.notes
    completed = False
    if changes.planned_sessions is not None:
        # Fewer planned sessions: done already?
        completed = _settle(plan, fulfilled=plan.sessions_done) and _completed(plan)
    if changes.model_fields_set:
        plan.updated_at = utcnow()
    db.flush()
    if completed:
        _announce_completed(db, plan, now)
    stranded: Sequence[TreatmentSession] = []
    if changes.status is not None and plan.status is not PlanStatus.ACTIVE:
        stranded = db.scalars(
            select(TreatmentSession)
            .where(TreatmentSession.plan_id == plan.id, TreatmentSession.awaiting_treatment(now))
            .order_by(TreatmentSession.start_at)
        ).all()
    return Updated(plan, notes, stranded)


def settle_completion(
    *, db: Session, plan_id: uuid.UUID | None, now: datetime, session_id: uuid.UUID
) -> None:
    """After a session of the plan (`session_id`) is fulfilled, or a fulfilled one is marked
    entered in error: the plan is completed exactly when all its planned sessions are
    fulfilled. Its `plan.completed` event names that session, so a subscriber gets it after
    the session's own events."""
    if plan_id is None:
        return
    plan = db.get(TreatmentPlan, plan_id)
    done = db.scalar(
        select(func.count()).where(
            TreatmentSession.plan_id == plan_id,
            TreatmentSession.status == SessionStatus.FULFILLED,
        )
    )
    if plan is not None and _settle(plan, fulfilled=done or 0):
        plan.updated_at = utcnow()
        db.flush()
        if _completed(plan):
            _announce_completed(db, plan, now, session_id=session_id)


def _completed(plan: TreatmentPlan) -> bool:
    return plan.status is PlanStatus.COMPLETED


def _announce_completed(
    db: Session, plan: TreatmentPlan, now: datetime, *, session_id: uuid.UUID | None = None
) -> None:
    announce(
        db,
        EventType.PLAN_COMPLETED,
        at=now,
        patient_id=plan.patient_id,
        plan_id=plan.id,
        session_id=session_id,
    )


def _settle(plan: TreatmentPlan, *, fulfilled: int) -> bool:
    """Complete a course whose planned sessions are all fulfilled, reopen one that is no
    longer; a cancelled plan stays cancelled. True if the status changed."""
    done = fulfilled >= plan.planned_sessions
    if done and plan.status in {PlanStatus.ACTIVE, PlanStatus.ON_HOLD}:
        plan.status = PlanStatus.COMPLETED
        return True
    if not done and plan.status is PlanStatus.COMPLETED:
        plan.status = PlanStatus.ACTIVE
        return True
    return False


def current_plan_id(*, db: Session, patient_id: uuid.UUID) -> uuid.UUID | None:
    """The patient's course under way: their newest active plan, if any."""
    return db.scalar(
        select(TreatmentPlan.id)
        .where(TreatmentPlan.patient_id == patient_id, TreatmentPlan.status == PlanStatus.ACTIVE)
        .order_by(TreatmentPlan.created_at.desc(), TreatmentPlan.id)
        .limit(1)
    )


def list_plans(
    *, db: Session, patient_id: uuid.UUID, limit: int = 50, cursor: str | None = None
) -> tuple[Sequence[TreatmentPlan], str | None]:
    """The patient's plans, newest first."""
    get_patient(db=db, patient_id=patient_id)
    return search_plans(db=db, patient_id=patient_id, limit=limit, cursor=cursor)


def search_plans(
    *,
    db: Session,
    patient_id: uuid.UUID | None = None,
    statuses: Sequence[PlanStatus] = (),
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[TreatmentPlan], str | None]:
    """Plans with their sessions, newest first: one patient's (an unknown patient has none)
    or everyone's, in any of `statuses` (none: any status)."""
    query = select(TreatmentPlan).options(selectinload(TreatmentPlan.sessions))
    if patient_id is not None:
        query = query.where(TreatmentPlan.patient_id == patient_id)
    if statuses:
        query = query.where(TreatmentPlan.status.in_(statuses))
    return paginate(db, query, _NEWEST_FIRST, limit=limit, cursor=cursor)
