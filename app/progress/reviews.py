"""Recording and reading reviews of a course's treated sites.

A review says, per site treated in the course before it, how the site responded and which
complications were seen there since, each from its onset date: never before the site was
first treated in the course, never after the review. Reviews are kept as written; the latest
one counts (`app.progress.summary`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.errors import DomainError, InvalidField, NotFound
from app.evaluations.service import CLOCK_SKEW
from app.models import (
    Practitioner,
    ReviewedSite,
    SiteComplication,
    SiteReview,
    TreatmentPlan,
    TreatmentSession,
)
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.patients.service import PatientArchived, get_patient
from app.practitioners.service import InactivePractitioner, UnknownPractitioner
from app.progress.schemas import ReviewCreate
from app.progress.totals import PlanTotals, site_totals
from app.sessions.lifecycle import treatment_day
from app.vocabulary import SessionStatus


class UnknownSession(DomainError):
    status = 422
    code = "unknown-session"
    title = "No such session for this patient"


class SessionNotAttended(DomainError):
    status = 422
    code = "session-not-attended"
    title = "The patient was not seen at that session"


class SiteNotTreated(DomainError):
    status = 422
    code = "site-not-treated"
    title = "A site not treated in this course before the review"


# Sessions at which the patient was there to be seen.
_ATTENDED = (SessionStatus.ARRIVED, SessionStatus.FULFILLED)

_LATEST_FIRST = Keyset(
    columns=(SiteReview.reviewed_at, SiteReview.id),
    parsers=(cursor_datetime, cursor_uuid),
    descending=True,
)


# A review is read with its sites and their complications: two more statements, any number.
_WITH_SITES = selectinload(SiteReview.sites).selectinload(ReviewedSite.complications)


def record_review(
    *,
    db: Session,
    plan_id: uuid.UUID,
    data: ReviewCreate,
    practitioner_id: uuid.UUID,
    clinic_zone: ZoneInfo,
    check_in_ahead: timedelta,
    now: datetime,
) -> SiteReview:
    """Store a review of the plan's treated sites by `practitioner_id` (who must be active),
    at `data.reviewed_at` (default now; never in the future, a clock up to `CLOCK_SKEW` fast
    is taken as now), optionally at a later session of the patient's they attended (then on
    that session's day, as its check-in and treatment are). Each site must have been treated
    in the course (a fulfilled session) by then."""
    plan = db.get(TreatmentPlan, plan_id)
    if plan is None:
        raise NotFound(f"No treatment plan with id {plan_id}.")
    stated = data.reviewed_at or now
    if stated > now + CLOCK_SKEW:
        raise InvalidField(("body", "reviewed_at"), "is in the future: record a review once made")
    reviewed_at = min(stated, now)
    if get_patient(db=db, patient_id=plan.patient_id).archived:
        raise PatientArchived(f"Patient {plan.patient_id} is archived: restore them first.")
    practitioner = db.get(Practitioner, practitioner_id)
    if practitioner is None:
        raise UnknownPractitioner(
            f"No practitioner with id {practitioner_id}.", field="practitioner_id"
        )
    if not practitioner.active:
        raise InactivePractitioner(
            f"Practitioner {practitioner_id} is not active: a review is made by a practising "
            "clinician."
        )
    zone = clinic_zone
    if data.session_id is not None:
        seen_at = _attended_session(db, data.session_id, plan.patient_id)
        day = treatment_day(seen_at, check_in_ahead)
        if not day.opens <= reviewed_at < day.closes:
            raise InvalidField(
                ("body", "reviewed_at"),
                f"must fall on the day of session {seen_at.id} ({day.opens.isoformat()} to "
                f"{day.closes.isoformat()}); a review recorded later states when it was made",
            )
        zone = day.zone
    totals = site_totals(db=db, plan_id=plan.id)
    _check_sites(data, totals, reviewed_at, reviewed_at.astimezone(zone).date(), plan.patient_id)
    review = SiteReview(
        plan_id=plan.id,
        patient_id=plan.patient_id,
        practitioner_id=practitioner.id,
        session_id=data.session_id,
        reviewed_at=reviewed_at,
        recorded_at=now,
        sites=[
            ReviewedSite(
                position=position,
                site=seen.site,
                response=seen.response,
                complications=[
                    SiteComplication(
                        position=order,
                        code=complication.code,
                        onset_date=complication.onset_date,
                        description=complication.description,
                    )
                    for order, complication in enumerate(seen.complications)
                ],
            )
            for position, seen in enumerate(data.sites)
        ],
    )
    db.add(review)
    db.flush()
    return review


def _attended_session(
    db: Session, session_id: uuid.UUID, patient_id: uuid.UUID
) -> TreatmentSession:
    """The session a review was made at: the patient's, and they were there."""
    session = db.get(TreatmentSession, session_id)
    if session is None or session.patient_id != patient_id:
        raise UnknownSession(f"Session {session_id} is not one of this patient's.")
    if session.status not in _ATTENDED:
        raise SessionNotAttended(
            f"Session {session_id} is {session.status.value}: a review is made at a session "
            "the patient attended (checked in or fulfilled)."
        )
    return session


def _check_sites(
    data: ReviewCreate,
    totals: PlanTotals,
    reviewed_at: datetime,
    reviewed_on: date,
    patient_id: uuid.UUID,
) -> None:
    """Each site treated in the course by `reviewed_at`; each onset from the day the site was
    first treated (where that session took place) to the day of the review."""
    untreated = [
        seen.site.value
        for seen in data.sites
        if seen.site not in totals.sites or totals.sites[seen.site].first_given_at > reviewed_at
    ]
    if untreated:
        raise SiteNotTreated(
            f"Not treated in this course before the review: {', '.join(untreated)}. A review "
            "follows up the sites a fulfilled session of the course treated.",
            sites=untreated,
            discloses=patient_id,  # which sites the course treated
        )
    for index, seen in enumerate(data.sites):
        treated_on = totals.sites[seen.site].first_given_on
        for order, complication in enumerate(seen.complications):
            where = ("body", "sites", index, "complications", order, "onset_date")
            if complication.onset_date > reviewed_on:
                raise InvalidField(where, f"is after the review ({reviewed_on.isoformat()})")
            if complication.onset_date < treated_on:
                raise InvalidField(
                    where,
                    f"is before {seen.site.value} was first treated in this course "
                    f"({treated_on.isoformat()})",
                )


def get_review(*, db: Session, review_id: uuid.UUID) -> SiteReview:
    review = db.scalar(select(SiteReview).options(_WITH_SITES).where(SiteReview.id == review_id))
    if review is None:
        raise NotFound(f"No review with id {review_id}.")
    return review


def list_reviews(
    *, db: Session, plan_id: uuid.UUID, limit: int = 50, cursor: str | None = None
) -> tuple[TreatmentPlan, Sequence[SiteReview], str | None]:
    """The plan, and its reviews, the latest first."""
    plan = db.get(TreatmentPlan, plan_id)
    if plan is None:
        raise NotFound(f"No treatment plan with id {plan_id}.")
    query = select(SiteReview).options(_WITH_SITES).where(SiteReview.plan_id == plan_id)
    reviews, next_cursor = paginate(db, query, _LATEST_FIRST, limit=limit, cursor=cursor)
    return plan, reviews, next_cursor
