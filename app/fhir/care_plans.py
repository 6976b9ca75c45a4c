"""CarePlan: each treatment plan (a course of micro-sclerotherapy), with its planned and its
booked or fulfilled sessions.

| plan | CarePlan.status |
|---|---|
| active | active |
| on-hold | on-hold |
| completed | completed |
| cancelled | revoked |

The course itself is one planned activity: the visit type, how many sessions, how many days
apart (`scheduledTiming.repeat`: `count` sessions, one every `period` days) and how far it has
gone. Each session booked, under way or done is an activity naming its Appointment (and, once
done, its Procedure). A plan's notes are clinical free text: shown only to roles that may read
clinical detail, as `/api/v1` does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.fhir.capability import Interaction
from app.fhir.codes import visit_type
from app.fhir.criteria import Criteria
from app.fhir.datatypes import instant, meta, reference
from app.fhir.search import SearchQuery
from app.fhir.search import reference as reference_param
from app.fhir.search import token as token_param
from app.models import LIVE_STATUSES, TreatmentPlan, TreatmentSession
from app.plans.service import search_plans
from app.vocabulary import PlanStatus, SessionStatus

# Each plan status as a CarePlan's (a test holds every status to a row here).
CARE_PLAN_STATUS: dict[PlanStatus, str] = {
    PlanStatus.ACTIVE: "active",
    PlanStatus.ON_HOLD: "on-hold",
    PlanStatus.COMPLETED: "completed",
    PlanStatus.CANCELLED: "revoked",
}
# FHIR's other request statuses: no plan has them (a search for them matches none).
_OTHER_STATUSES = frozenset({"draft", "entered-in-error", "unknown"})
_STATUSES = {shown: status for status, shown in CARE_PLAN_STATUS.items()}

READ = Interaction("CarePlan", "read", id_param="plan_id")
SEARCH = Interaction(
    "CarePlan",
    "search-type",
    search=(
        reference_param("patient", "Patient", "The patient: `Patient/<id>` or `<id>`."),
        token_param(
            "status",
            "active, on-hold, completed or revoked (a cancelled plan); comma-separated for "
            "any of several.",
        ),
    ),
)


@dataclass(frozen=True)
class Found:
    """A page of the plans a search matched (newest first), the cursor of the next page, and
    the patient the search asked about."""

    plans: Sequence[TreatmentPlan]
    next_cursor: str | None
    patient_id: uuid.UUID | None


def search(*, db: Session, query: SearchQuery, limit: int, cursor: str | None) -> Found:
    """The plans a CarePlan search matches, with their sessions, newest first."""
    asked = Criteria(query)
    patient_id = asked.one_record("patient")
    statuses = asked.codes("status", _STATUSES, _OTHER_STATUSES)
    if asked.matches_nothing:
        return Found((), None, patient_id)
    plans, next_cursor = search_plans(
        db=db,
        patient_id=patient_id,
        statuses=sorted(statuses or ()),
        limit=limit,
        cursor=cursor,
    )
    return Found(plans, next_cursor, patient_id)


def care_plan(plan: TreatmentPlan, *, clinical: bool) -> dict[str, Any]:
    """The plan, with its sessions loaded, as a CarePlan; its notes only for `clinical`
    callers (those that may read clinical detail)."""
    sessions = [s for s in plan.sessions if s.status in LIVE_STATUSES]  # in start order
    done = [s for s in sessions if s.status is SessionStatus.FULFILLED]
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": str(plan.id),
        "meta": meta(plan.version, plan.updated_at),
        "status": CARE_PLAN_STATUS[plan.status],
        "intent": "plan",
        "title": "Course of micro-sclerotherapy",
        "subject": reference("Patient", plan.patient_id),
        "period": _period(plan, done),
        "created": instant(plan.created_at),
        "activity": [_course(plan, sessions, done), *(_session(s) for s in sessions)],
    }
    if clinical and plan.notes:
        resource["note"] = [{"text": plan.notes}]
    return resource


def _period(plan: TreatmentPlan, done: list[TreatmentSession]) -> dict[str, str]:
    """From when the course was planned; a completed one until its last session ended."""
    period = {"start": instant(plan.created_at)}
    if plan.status is PlanStatus.COMPLETED and done:
        period["end"] = instant(max(s.end_at for s in done))
    return period


def _course(
    plan: TreatmentPlan, sessions: list[TreatmentSession], done: list[TreatmentSession]
) -> dict[str, Any]:
    """The planned course as one activity: so many sessions, one every so many days."""
    return {
        "detail": {
            "kind": "Appointment",
            "code": visit_type(),
            "status": _progress(plan, booked=len(sessions), done=len(done)),
            "scheduledTiming": {
                "repeat": {
                    "count": plan.planned_sessions,
                    "frequency": 1,
                    "period": plan.interval_days,
                    "periodUnit": "d",
                }
            },
            "description": (
                f"{plan.planned_sessions} sessions about {plan.interval_days} days apart: "
                f"{len(done)} done, {len(sessions) - len(done)} booked."
            ),
        }
    }


def _progress(plan: TreatmentPlan, *, booked: int, done: int) -> str:
    """How far the course has gone, as a CarePlan activity's status."""
    if plan.status is PlanStatus.COMPLETED:
        return "completed"
    if plan.status is PlanStatus.ON_HOLD:
        return "on-hold"
    if plan.status is PlanStatus.CANCELLED:
        return "stopped" if done else "cancelled"  # ended part-way, or withdrawn before any
    if done:
        return "in-progress"
    return "scheduled" if booked else "not-started"


def _session(session: TreatmentSession) -> dict[str, Any]:
    """A session of the course: its Appointment, and once done, its Procedure."""
    activity: dict[str, Any] = {"reference": reference("Appointment", session.id)}
    if session.status is SessionStatus.FULFILLED:
        activity["outcomeReference"] = [reference("Procedure", session.id)]
    return activity
