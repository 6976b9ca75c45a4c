"""Free-slot and follow-up proposal bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import Field

from app.evaluations.schemas import FlagRead
from app.models import LONGEST_SESSION
from app.scheduling.proposals import Proposal
from app.scheduling.service import ProposalOutcome
from app.schemas import CalendarDate, InputModel, Integer, ReadModel


class SlotRead(ReadModel):
    start: datetime
    end: datetime
    location_id: uuid.UUID = Field(description="Where: a room of this location is free then")


class SlotsRead(ReadModel):
    practitioner_id: uuid.UUID
    time_zone: str = Field(description="The practitioner's own zone")
    duration_minutes: int
    slots: list[SlotRead]


# How long a session is booked for: the procedure takes under an hour.
SHORTEST_MINUTES, LONGEST_MINUTES = 15, LONGEST_SESSION // timedelta(minutes=1)
DurationMinutes = Annotated[
    Integer,
    Field(
        ge=SHORTEST_MINUTES,
        le=LONGEST_MINUTES,
        description="15 to 60: the procedure takes under an hour",
    ),
]


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
    duration_minutes: DurationMinutes = 45


class ProposalRead(ReadModel):
    sequence: int
    start: datetime
    end: datetime
    practitioner_id: uuid.UUID
    location_id: uuid.UUID | None = Field(description="Where: a room of this location is free then")
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


def proposal_read(proposal: Proposal) -> ProposalRead:
    """The answer for one proposed visit."""
    return ProposalRead(
        sequence=proposal.sequence,
        start=proposal.slot.start,
        end=proposal.slot.end,
        practitioner_id=proposal.practitioner_id,
        location_id=proposal.location_id,
        target_date=proposal.target_date,
        offset_days=proposal.offset_days,
    )


def proposals_read(outcome: ProposalOutcome) -> ProposalsRead:
    """The answer for a proposal outcome."""
    return ProposalsRead(
        blocked=outcome.blocked,
        flags=[FlagRead.model_validate(f) for f in outcome.flags],
        proposals=[proposal_read(p) for p in outcome.proposals],
        unplaced=[UnplacedRead.model_validate(u) for u in outcome.unplaced],
    )
