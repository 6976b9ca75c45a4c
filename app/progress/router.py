"""Review and course summary routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from app.auditing import Access, AuditTrail, Resource, patient_of
from app.errors import DomainError, InvalidCursor, NotFound
from app.evaluations import signatures
from app.evaluations.schemas import FlagRead
from app.models import SiteReview
from app.patients.service import PatientArchived
from app.plans.schemas import PlanSessionRead
from app.practitioners.service import InactivePractitioner, UnknownPractitioner
from app.progress import reviews
from app.progress.schemas import (
    AmountRead,
    ComplicationSinceRead,
    LatestResponseRead,
    NextVisitRead,
    PlanSummaryRead,
    ReviewCreate,
    ReviewPage,
    ReviewRead,
    SiteSummaryRead,
)
from app.progress.summary import NextVisit, SiteProgress, summarize
from app.progress.totals import Amount
from app.roles import Permission
from app.scheduling.schemas import proposal_read
from app.web.access import AuditDep, ClinicalDetail, CurrentPrincipal, holds, requires
from app.web.clock import Now
from app.web.db import Db
from app.web.params import Cursor, Limit, sends
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

router = APIRouter(prefix="/api/v1", tags=["treatment-plans"], route_class=ApiRoute)

# Whether the caller may read a patient's eligibility: the flags of the next visit.
SeesEligibility = Annotated[bool, holds(Permission.EVALUATIONS_READ_OUTCOME)]

_SIGNING = (
    signatures.NoLinkedPractitioner,
    signatures.NotOwnPractitioner,
    UnknownPractitioner,
    InactivePractitioner,
)


def _refused_signature(
    db: Session,
    audit: AuditTrail,
    plan_id: uuid.UUID,
    named: uuid.UUID | None,
    refusal: DomainError,
) -> None:
    """A review signed in a name not the caller's own, or of a practitioner unknown or
    switched off: an attempt to sign a clinical record, audited as the evaluations' are. Its
    `denied` event is committed now (nothing else of the request is), so that it outlives the
    request's failure."""
    db.rollback()
    patient_id = patient_of(db=db, resource_type=Resource.TREATMENT_PLAN, resource_id=plan_id)
    named_text = f", naming practitioner {named}" if named else ""
    audit.record_denied(
        "create", Resource.REVIEW, Access(None, patient_id), f"{refusal.code}{named_text}"
    )
    db.commit()


@router.post(
    "/treatment-plans/{plan_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    summary="Record a review of the treated sites",
    dependencies=[requires(Permission.REVIEWS_WRITE)],
    responses=problem_responses(
        NotFound,
        PatientArchived,
        reviews.UnknownSession,
        reviews.SessionNotAttended,
        reviews.SiteNotTreated,
        *_SIGNING,
    ),
    response_description="The review recorded",
    openapi_extra=sends("Location"),
)
def record_review(
    plan_id: uuid.UUID,
    body: ReviewCreate,
    db: Db,
    audit: AuditDep,
    caller: CurrentPrincipal,
    policy: Policy,
    response: Response,
    now: Now,
) -> ReviewRead:
    """Record, at a later session or a review visit, how each site treated in this course
    responded (`none`, `partial`, `good`, `cleared`) and the complications seen there since
    (`hyperpigmentation`, `matting`, `ulceration`, `thrombophlebitis`, `allergic-reaction`,
    `extravasation`, `other` with a `description`), each with its onset date.

    - `reviewed_at`: default now, never in the future (a clock up to 5 minutes fast is taken
      as now).
    - Signed as evaluations are: by the logged-in clinician's own practitioner (active, else
      422 `inactive-practitioner`); naming another is 403 `not-own-practitioner`, an account
      linked to none (or an API key) 403 `no-linked-practitioner`; an admin may name any
      active practitioner, on their behalf (audited as `create-on-behalf`).
    - `session_id`: the patient's (422 `unknown-session`), checked in or fulfilled (422
      `session-not-attended`); `reviewed_at` then falls on that session's day (a review
      written up later states when it was made).
    - Each site treated in this course by a fulfilled session before `reviewed_at` (422
      `site-not-treated`, naming the sites), listed once; each complication once per site,
      its onset date neither before the site was first treated in the course (that day where
      the session took place) nor after the review (its day where the session took place, or
      the clinic's): else 422 `validation-error` at that onset date.

    Reviews are kept as written: a correction is a later review, and the latest counts
    (`GET /api/v1/treatment-plans/{plan_id}/summary`)."""
    named = body.practitioner_id
    try:
        signature = signatures.signature(db=db, caller=caller, named=named, record="a review")
        review = reviews.record_review(
            db=db,
            plan_id=plan_id,
            data=body,
            practitioner_id=signature.practitioner_id,
            clinic_zone=policy.scheduling.clinic_zone,
            check_in_ahead=policy.booking.check_in_ahead,
            now=now,
        )
    except _SIGNING as refusal:
        _refused_signature(db, audit, plan_id, named, refusal)
        raise
    if signature.on_behalf:
        audit.record(
            "create-on-behalf",
            Resource.REVIEW,
            review.id,
            patient_id=review.patient_id,
            detail=f"on behalf of practitioner {signature.practitioner_id}",
        )
    else:
        audit.record("create", Resource.REVIEW, review.id, patient_id=review.patient_id)
    response.headers["Location"] = f"{router.prefix}/reviews/{review.id}"
    return ReviewRead.model_validate(review)


@router.get(
    "/treatment-plans/{plan_id}/reviews",
    summary="List a course's reviews",
    dependencies=[requires(Permission.CLINICAL_READ)],
    responses=problem_responses(NotFound, InvalidCursor),
    response_description="A page of the course's reviews, the latest first",
)
def list_reviews(
    plan_id: uuid.UUID, db: Db, cursor: Cursor, audit: AuditDep, limit: Limit = 50
) -> ReviewPage:
    """The reviews of the course's treated sites, the latest first (by `reviewed_at`), each
    with its sites, their responses and complications."""
    plan, items, next_cursor = reviews.list_reviews(
        db=db, plan_id=plan_id, limit=limit, cursor=cursor.after
    )
    audit.record_list(
        Resource.REVIEW, (Access(r.id, r.patient_id) for r in items), of_patient=plan.patient_id
    )
    return ReviewPage(
        items=[ReviewRead.model_validate(r) for r in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.get(
    "/reviews/{review_id}",
    summary="Read a review",
    dependencies=[requires(Permission.CLINICAL_READ)],
    responses=problem_responses(NotFound),
    response_description="The review with its sites",
)
def read_review(review_id: uuid.UUID, db: Db, audit: AuditDep) -> ReviewRead:
    """One review of a course's treated sites: who assessed them, when (at which session),
    and per site the response and the complications seen."""
    review: SiteReview = reviews.get_review(db=db, review_id=review_id)
    audit.record("read", Resource.REVIEW, review.id, patient_id=review.patient_id)
    return ReviewRead.model_validate(review)


def _amounts(amounts: tuple[Amount, ...]) -> list[AmountRead]:
    return [AmountRead.model_validate(a) for a in amounts]


def _site(progress: SiteProgress) -> SiteSummaryRead:
    total = progress.total
    return SiteSummaryRead(
        site=progress.site,
        sessions=total.sessions if total else 0,
        first_treated_at=total.first_given_at if total else None,
        last_treated_at=total.last_given_at if total else None,
        given=_amounts(total.amounts) if total else [],
        shared_sessions=total.shared_sessions if total else 0,
        latest_response=(
            LatestResponseRead.model_validate(progress.latest_response)
            if progress.latest_response
            else None
        ),
        complications=[ComplicationSinceRead.model_validate(c) for c in progress.complications],
    )


def _next_visit(visit: NextVisit, *, sees_flags: bool) -> NextVisitRead:
    return NextVisitRead(
        status=visit.status,
        session=PlanSessionRead.model_validate(visit.session) if visit.session else None,
        proposal=proposal_read(visit.proposal) if visit.proposal else None,
        reason=visit.reason,
        message=visit.message,
        blocked=visit.blocked,
        flags=[FlagRead.model_validate(f) for f in visit.flags] if sees_flags else None,
    )


@router.get(
    "/treatment-plans/{plan_id}/summary",
    summary="Summarize a course",
    dependencies=[requires(Permission.PLANS_READ)],
    responses=problem_responses(NotFound),
    response_description="Per site, what was given and how it responded; the sessions done "
    "and the next visit",
)
def read_plan_summary(
    plan_id: uuid.UUID,
    db: Db,
    audit: AuditDep,
    policy: Policy,
    clinical: ClinicalDetail,
    sees_flags: SeesEligibility,
    now: Now,
) -> PlanSummaryRead:
    """The course at a glance.

    - Per site treated (or reviewed) in it: the fulfilled sessions that treated it, when it
      was first and last treated, the volume and dose given to it alone per sclerosant (a
      session that recorded one amount for several sites counts in `shared_sessions`, and its
      amount in the course's `unattributed`: never divided among them by guess), the latest
      response with its review's date, and every complication any review reported there,
      once each (per code; `other` per description), the latest review reporting it giving
      its onset date. Sites and amounts are clinical detail: null for roles without
      `clinical:read`.
    - For the course: the sessions done of those planned, and the next visit: the next
      session booked (`booked`); else, in an active course, the free slot the proposals engine
      finds for it (`proposed`, advice, not a reservation); else `none` with the `reason`
      (`plan-completed`, `plan-cancelled`, `plan-on-hold`, `plan-full`, `no-free-slot`, or
      `patient-blocked` with `blocked: true` and the `flags` that say why, as a proposal
      gives them, to roles that may read eligibility).

    Also served at `GET /api/v1/plans/{plan_id}/summary`."""
    summary = summarize(db=db, plan_id=plan_id, rules=policy.scheduling, now=now)
    plan = summary.plan
    audit.record("read", Resource.TREATMENT_PLAN, plan.id, patient_id=plan.patient_id)
    return PlanSummaryRead(
        plan_id=plan.id,
        patient_id=plan.patient_id,
        status=plan.status,
        planned_sessions=plan.planned_sessions,
        sessions_done=plan.sessions_done,
        sites=[_site(s) for s in summary.sites] if clinical else None,
        unattributed=_amounts(summary.unattributed) if clinical else None,
        next_visit=_next_visit(summary.next_visit, sees_flags=sees_flags),
    )


# The path the issue named, kept beside the one under the plan resource.
router.add_api_route(
    "/plans/{plan_id}/summary",
    read_plan_summary,
    methods=["GET"],
    name="read_plan_summary_alias",
    summary="Summarize a course (alias)",
    description="An alias of `GET /api/v1/treatment-plans/{plan_id}/summary` "
    "(`readPlanSummary`), at the path the issue named: the same answer, the same permission.",
    dependencies=[requires(Permission.PLANS_READ)],
    responses=problem_responses(NotFound),
    response_description="As `readPlanSummary`",
)
