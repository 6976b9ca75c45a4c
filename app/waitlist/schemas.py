"""Waitlist bodies: entries and offers. Field names are a contract with front-end apps: change
them only with a new API version."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field, model_validator

from app.pagination import Page
from app.schemas import CalendarDate, FreeText, InputModel, Integer, Stored
from app.vocabulary import OfferStatus, WaitlistRemoval, WaitlistStatus

# The longest window a patient may wait with: a year.
LONGEST_WINDOW = timedelta(days=366)
_MOST_LISTED = 20

Weekday = Annotated[Integer, Field(ge=0, le=6)]


T = TypeVar("T")


def _distinct(items: list[T]) -> list[T]:
    if len(set(items)) != len(items):
        raise ValueError("an item is listed twice")
    return items


class WaitlistEntryCreate(InputModel):
    patient_id: uuid.UUID
    earliest: CalendarDate = Field(
        description="The first day the patient could come (where the session takes place)",
        examples=["2027-01-04"],
    )
    latest: CalendarDate = Field(
        description="The last day they would come: not before `earliest` nor today, and at "
        "most a year after `earliest`",
        examples=["2027-01-29"],
    )
    plan_id: uuid.UUID | None = Field(
        default=None,
        description="The course the visit is for (booked into it); default: the patient's "
        "newest active course, if any",
    )
    practitioner_ids: Annotated[
        list[uuid.UUID], Field(max_length=_MOST_LISTED), AfterValidator(_distinct)
    ] = Field(default=[], description="The practitioners they would see; empty (default): any")
    location_ids: Annotated[
        list[uuid.UUID], Field(max_length=_MOST_LISTED), AfterValidator(_distinct)
    ] = Field(default=[], description="The clinic's sites they can come to; empty (default): any")
    weekdays: Annotated[list[Weekday], Field(max_length=7), AfterValidator(_distinct)] = Field(
        default=[],
        description="The weekdays they can come, 0 = Monday ... 6 = Sunday (as weekly "
        "availability numbers them); empty (default): any",
        examples=[[0, 2, 4]],
    )
    notes: FreeText | None = Field(default=None, examples=["Prefers mornings; call after 5 pm."])

    @model_validator(mode="after")
    def _window_in_order(self) -> WaitlistEntryCreate:
        if self.latest < self.earliest:
            raise ValueError("latest: is before earliest")
        if self.latest - self.earliest > LONGEST_WINDOW:
            raise ValueError("latest: the window is longer than a year")
        return self


class WaitlistEntryRead(Stored):
    id: uuid.UUID
    patient_id: uuid.UUID
    plan_id: uuid.UUID | None = Field(description="The course the visit is for, if any")
    earliest: date = Field(validation_alias="earliest_date")
    latest: date = Field(validation_alias="latest_date")
    practitioner_ids: list[uuid.UUID]
    location_ids: list[uuid.UUID]
    weekdays: list[int]
    notes: str | None
    status: WaitlistStatus = Field(
        description="`waiting`, `offered` (an offer stands), then `booked`, `removed` or "
        "`lapsed` (the window passed)"
    )
    ended_at: datetime | None = Field(description="When it left the list")
    removal_reason: WaitlistRemoval | None = Field(
        description="Why it was removed: the clinic's reason, or `patient-archived` (the "
        "patient's record was archived)"
    )
    booked_session_id: uuid.UUID | None = Field(
        description="The session booked in its window, which ended it"
    )


class WaitlistEntryPage(Page[WaitlistEntryRead]):
    """A page of the waitlist, longest waiting first."""


class WaitlistOfferRead(Stored):
    id: uuid.UUID = Field(description="The hold's id: the session's, once accepted")
    entry_id: uuid.UUID
    patient_id: uuid.UUID
    plan_id: uuid.UUID | None
    practitioner_id: uuid.UUID
    location_id: uuid.UUID | None = Field(description="The slot's site, where known")
    start: datetime = Field(validation_alias="start_at")
    end: datetime = Field(validation_alias="end_at")
    status: OfferStatus
    expires_at: datetime = Field(
        description="Until then the slot is held for the patient; then it passes to the next"
    )
    decided_at: datetime | None = Field(
        description="When it was accepted, declined, expired, refused or withdrawn"
    )
    refusal_code: str | None = Field(
        description="Refused: the booking check's code that refused it (e.g. `eligibility-blocked`)"
    )
    session_id: uuid.UUID | None = Field(description="The session booked, once accepted")


class WaitlistOfferPage(Page[WaitlistOfferRead]):
    """A page of offers, newest first."""
