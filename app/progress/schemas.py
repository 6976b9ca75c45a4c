"""Review and course summary bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from app.evaluations.schemas import FlagRead
from app.pagination import Page
from app.plans.schemas import PlanSessionRead
from app.scheduling.schemas import ProposalRead
from app.schemas import CalendarDate, InputModel, Instant, ReadModel, ShortText
from app.vocabulary import (
    NextVisitStatus,
    NoNextVisit,
    PlanStatus,
    ReviewComplication,
    Sclerosant,
    SclerosantForm,
    Site,
    TreatmentResponse,
)


class ComplicationSeen(InputModel):
    code: ReviewComplication
    onset_date: CalendarDate = Field(
        description="When it began: not before the site was first treated in this course, not "
        "after the review",
        examples=["2027-02-10"],
    )
    description: ShortText | None = Field(
        default=None,
        description="What was seen, in a few words: required for `other`",
        examples=["Small blister at an injection point"],
    )

    @model_validator(mode="after")
    def _other_is_described(self) -> ComplicationSeen:
        if self.code is ReviewComplication.OTHER and self.description is None:
            raise ValueError("an `other` complication needs a description")
        return self


def _distinct_codes(seen: list[ComplicationSeen]) -> list[ComplicationSeen]:
    if len({c.code for c in seen}) != len(seen):
        raise ValueError("a complication is listed twice for this site")
    return seen


class SiteSeen(InputModel):
    site: Site = Field(examples=["left-calf"])
    response: TreatmentResponse = Field(examples=["partial"])
    complications: Annotated[
        list[ComplicationSeen],
        Field(max_length=len(ReviewComplication)),
        AfterValidator(_distinct_codes),
    ] = Field(default=[], description="Seen since the site was treated; none: empty")


def _distinct_sites(seen: list[SiteSeen]) -> list[SiteSeen]:
    if len({s.site for s in seen}) != len(seen):
        raise ValueError("a site is listed twice")
    return seen


class ReviewCreate(InputModel):
    """How each treated site has responded, and the complications seen there since."""

    reviewed_at: Instant | None = Field(
        default=None,
        description="When the sites were seen; default: now. Never in the future",
        examples=["2027-03-01T09:30:00+01:00"],
    )
    practitioner_id: uuid.UUID | None = Field(
        default=None,
        description="Who assessed the sites (active): yourself, as your account is linked; an "
        "admin may name another practitioner, on their behalf",
    )
    session_id: uuid.UUID | None = Field(
        default=None,
        description="The later session at which they were seen: the patient's, checked in or "
        "fulfilled",
    )
    sites: Annotated[
        list[SiteSeen], Field(min_length=1, max_length=len(Site)), AfterValidator(_distinct_sites)
    ] = Field(
        description="Each site treated in this course before the review, at most once",
        examples=[
            [
                {
                    "site": "left-calf",
                    "response": "partial",
                    "complications": [{"code": "matting", "onset_date": "2027-02-10"}],
                }
            ]
        ],
    )


class ComplicationRead(ReadModel):
    code: ReviewComplication
    onset_date: date
    description: str | None


class ReviewedSiteRead(ReadModel):
    site: Site
    response: TreatmentResponse
    complications: list[ComplicationRead]


class ReviewRead(ReadModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID = Field(description="Who assessed the sites")
    session_id: uuid.UUID | None = Field(description="The session at which they were seen")
    reviewed_at: datetime
    recorded_at: datetime
    sites: list[ReviewedSiteRead]


class ReviewPage(Page[ReviewRead]):
    """A page of a course's reviews, the latest first."""


class AmountRead(ReadModel):
    sclerosant: Sclerosant
    form: SclerosantForm
    volume_ml: float = Field(description="A foam's: the foam's volume, gas included")
    dose_mg: float


class LatestResponseRead(ReadModel):
    response: TreatmentResponse
    reviewed_at: datetime
    review_id: uuid.UUID


class ComplicationSinceRead(ReadModel):
    code: ReviewComplication
    onset_date: date = Field(description="As the latest review reporting it says")
    description: str | None
    reviewed_at: datetime = Field(description="When the latest review reporting it was made")
    review_id: uuid.UUID


class SiteSummaryRead(ReadModel):
    site: Site
    sessions: int = Field(description="Fulfilled sessions of the course that treated the site")
    first_treated_at: datetime | None = Field(
        description="When the sclerosant was first given there; null: only reviewed (the "
        "sessions that treated it were since marked entered in error)"
    )
    last_treated_at: datetime | None
    given: list[AmountRead] = Field(
        description="Volume and dose given to this site alone, per sclerosant"
    )
    shared_sessions: int = Field(
        description="Of its sessions, those that recorded one amount for several sites: "
        "that amount is in the course's `unattributed`, not here"
    )
    latest_response: LatestResponseRead | None = Field(
        description="As the latest review of the site found it; null: not reviewed yet"
    )
    complications: list[ComplicationSinceRead] = Field(
        description="Every complication any review reported at the site, once each (per code; "
        "`other` per description): the latest review reporting it gives its onset date"
    )


class NextVisitRead(ReadModel):
    status: NextVisitStatus
    session: PlanSessionRead | None = Field(
        description="`booked`: the course's next session booked (or under way)"
    )
    proposal: ProposalRead | None = Field(
        description="`proposed`: the free slot the proposals engine finds for the next visit "
        "(advice, not a reservation)"
    )
    reason: NoNextVisit | None = Field(description="`none`: why")
    message: str | None = Field(description="`none`: why, in words")
    blocked: bool = Field(
        description="The patient may not be booked now (`flags` say why); asked of an "
        "active course with no session booked"
    )
    flags: list[FlagRead] | None = Field(
        description="The patient's flags as a proposal gives them; null for roles that may "
        "not read eligibility"
    )


class PlanSummaryRead(ReadModel):
    plan_id: uuid.UUID
    patient_id: uuid.UUID
    status: PlanStatus
    planned_sessions: int
    sessions_done: int = Field(description="Fulfilled sessions")
    sites: list[SiteSummaryRead] | None = Field(
        description="Each site treated or reviewed in the course; null for roles without "
        "`clinical:read`"
    )
    unattributed: list[AmountRead] | None = Field(
        description="Volume and dose recorded for several sites at once, per sclerosant: "
        "not divided among them by guess; null for roles without `clinical:read`"
    )
    next_visit: NextVisitRead
