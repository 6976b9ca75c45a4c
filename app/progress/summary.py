"""A course's summary: per site, what was given and how it responded; for the course, the
sessions done of those planned and the next visit.

Per site, the latest review of it gives its response; its complications are every one any
review reported there, once each (per code, `other` per description), the latest review
reporting it giving its onset date (a later review may correct an earlier one's date, and a
complication no longer mentioned is not forgotten).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.models import ReviewedSite, SiteComplication, SiteReview, TreatmentPlan, TreatmentSession
from app.plans.service import get_plan
from app.policy import SchedulingRules
from app.progress.totals import Amount, SiteTotal, site_totals
from app.scheduling.proposals import Proposal
from app.scheduling.service import next_visit_proposal
from app.vocabulary import (
    Flag,
    NextVisitStatus,
    NoNextVisit,
    PlanStatus,
    ReviewComplication,
    SessionStatus,
    Site,
    TreatmentResponse,
)


@dataclass(frozen=True)
class LatestResponse:
    response: TreatmentResponse
    reviewed_at: datetime
    review_id: uuid.UUID


@dataclass(frozen=True)
class ComplicationSince:
    code: ReviewComplication
    onset_date: date
    description: str | None
    reviewed_at: datetime
    review_id: uuid.UUID


@dataclass(frozen=True)
class SiteProgress:
    site: Site
    total: SiteTotal | None  # None: reviewed, but no fulfilled session treats it any more
    latest_response: LatestResponse | None
    complications: tuple[ComplicationSince, ...]


@dataclass(frozen=True)
class NextVisit:
    status: NextVisitStatus
    session: TreatmentSession | None = None
    proposal: Proposal | None = None
    reason: NoNextVisit | None = None
    message: str | None = None
    blocked: bool = False
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class Summary:
    plan: TreatmentPlan
    sites: list[SiteProgress]
    unattributed: tuple[Amount, ...]
    next_visit: NextVisit


def summarize(*, db: Session, plan_id: uuid.UUID, rules: SchedulingRules, now: datetime) -> Summary:
    """The plan's summary (`NotFound` for no such plan)."""
    plan = get_plan(db=db, plan_id=plan_id)
    totals = site_totals(db=db, plan_id=plan.id)
    responses, complications = _reviewed(db, plan.id)
    sites = [
        SiteProgress(
            site=site,
            total=totals.sites.get(site),
            latest_response=responses.get(site),
            complications=tuple(complications.get(site, {}).values()),
        )
        for site in Site
        if site in totals.sites or site in responses
    ]
    return Summary(plan, sites, totals.unattributed, _next_visit(db, plan, rules, now))


# Every site of every review of a plan, with its complications, the earliest review first:
# read in order, the latest review of each site (and of each complication) comes last.
_REVIEWED = (
    select(
        SiteReview.id,
        SiteReview.reviewed_at,
        ReviewedSite.site,
        ReviewedSite.response,
        SiteComplication.code,
        SiteComplication.onset_date,
        SiteComplication.description,
    )
    .join(ReviewedSite, ReviewedSite.review_id == SiteReview.id)
    .outerjoin(SiteComplication, SiteComplication.reviewed_site_id == ReviewedSite.id)
    .where(SiteReview.plan_id == bindparam("plan_id"))
    .order_by(
        SiteReview.reviewed_at,
        SiteReview.recorded_at,
        SiteReview.id,
        ReviewedSite.position,
        SiteComplication.position,
    )
)

# A complication, once per site: its code, and for `other` what it was.
ComplicationKey = tuple[ReviewComplication, str | None]


def _reviewed(
    db: Session, plan_id: uuid.UUID
) -> tuple[dict[Site, LatestResponse], dict[Site, dict[ComplicationKey, ComplicationSince]]]:
    """Per site, the latest response, and each complication as the latest review reporting it
    says."""
    responses: dict[Site, LatestResponse] = {}
    complications: dict[Site, dict[ComplicationKey, ComplicationSince]] = {}
    for review_id, at, site, response, code, onset, description in db.execute(
        _REVIEWED, {"plan_id": plan_id}
    ):
        responses[site] = LatestResponse(response, at, review_id)
        if code is None:
            continue
        told = description.casefold() if description is not None else None
        key = (code, told if code is ReviewComplication.OTHER else None)
        found = complications.setdefault(site, {})
        found.pop(key, None)  # reported again: listed where its latest report puts it
        found[key] = ComplicationSince(code, onset, description, at, review_id)
    return responses, complications


_PLAN_OVER = {
    PlanStatus.COMPLETED: (NoNextVisit.PLAN_COMPLETED, "The course is completed."),
    PlanStatus.CANCELLED: (NoNextVisit.PLAN_CANCELLED, "The course is cancelled."),
}


def _next_visit(
    db: Session, plan: TreatmentPlan, rules: SchedulingRules, now: datetime
) -> NextVisit:
    """The course's next session booked (or under way); else, in an active course, the
    proposals engine's slot for its next visit; else why there is none."""
    if plan.status in _PLAN_OVER:
        reason, message = _PLAN_OVER[plan.status]
        return NextVisit(NextVisitStatus.NONE, reason=reason, message=message)
    booked = db.scalar(
        select(TreatmentSession)
        .where(TreatmentSession.plan_id == plan.id, TreatmentSession.awaiting_treatment(now))
        .order_by(TreatmentSession.start_at)
        .limit(1)
    )
    if booked is not None:
        return NextVisit(NextVisitStatus.BOOKED, session=booked)
    if plan.status is PlanStatus.ON_HOLD:
        return NextVisit(
            NextVisitStatus.NONE,
            reason=NoNextVisit.PLAN_ON_HOLD,
            message="The course is on hold: make it active again to book its next visit.",
        )
    outcome = next_visit_proposal(
        db=db, plan=plan, after=_latest_fulfilled(plan.sessions), rules=rules, now=now
    )
    if outcome is None:
        return NextVisit(
            NextVisitStatus.NONE,
            reason=NoNextVisit.PLAN_FULL,
            message="Every planned session of the course is booked or done.",
        )
    if outcome.blocked:
        return NextVisit(
            NextVisitStatus.NONE,
            reason=NoNextVisit.PATIENT_BLOCKED,
            message="The patient may not be booked now: the flags say why.",
            blocked=True,
            flags=outcome.flags,
        )
    if outcome.proposals:
        return NextVisit(
            NextVisitStatus.PROPOSED, proposal=outcome.proposals[0], flags=outcome.flags
        )
    unplaced = outcome.unplaced[0].reason if outcome.unplaced else None
    return NextVisit(
        NextVisitStatus.NONE,
        reason=NoNextVisit.NO_FREE_SLOT,
        message=unplaced or "No free slot for the next visit.",
        flags=outcome.flags,
    )


def _latest_fulfilled(sessions: Sequence[TreatmentSession]) -> TreatmentSession | None:
    """The course's last session done: the next visit follows it (its practitioner, its
    length)."""
    done = [s for s in sessions if s.status is SessionStatus.FULFILLED]
    return max(done, key=lambda s: s.start_at) if done else None
