"""Free-slot and follow-up proposal bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from app.evaluations.schemas import FlagRead
from app.schemas import CalendarDate, InputModel, Integer, ReadModel


class SlotRead(ReadModel):
    start: datetime
    end: datetime


class SlotsRead(ReadModel):
    practitioner_id: uuid.UUID
    time_zone: str
    duration_minutes: int
    slots: list[SlotRead]


class ProposalCreate(InputModel):
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID | None = Field(
        default=None, description="Default: any active practitioner"
    )
    plan_id: uuid.UUID | None = None
    sessions: Annotated[Integer, Field(ge=1, le=10)] | None = Field(
        default=None, description="Default: the plan's remaining sessions, else 3 (a usual course)"
    )
    interval_days: Annotated[Integer, Field(ge=14, le=56)] | None = Field(
        default=None, description="Default: the plan's, else 28"
    )
    earliest: CalendarDate = Field(description="The first visit on or after this day")
    duration_minutes: Annotated[Integer, Field(ge=15, le=60)] = 45


class ProposalRead(ReadModel):
    sequence: int
    start: datetime
    end: datetime
    practitioner_id: uuid.UUID
    target_date: date
    offset_days: int = Field(description="Days between the proposed day and the target day")


class UnplacedRead(ReadModel):
    sequence: int
    target_date: date
    reason: str


class ProposalsRead(ReadModel):
    blocked: bool = Field(description="True: the patient may not be booked; see `flags`")
    flags: list[FlagRead]
    proposals: list[ProposalRead]
    unplaced: list[UnplacedRead] = Field(description="Visits with no free slot in their window")
