"""Hold bodies: a slot kept for a patient while they confirm."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.scheduling.schemas import DurationMinutes
from app.schemas import InputModel, Instant, ReadModel
from app.sessions.schemas import WithinNotice


class HoldCreate(InputModel):
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    start: Instant = Field(examples=["2027-01-04T09:00:00+01:00"])
    duration_minutes: DurationMinutes = 45
    plan_id: uuid.UUID | None = Field(
        default=None, description="The course it is held for: booked into it"
    )
    room_id: uuid.UUID | None = Field(
        default=None,
        description="The room to keep; default: a free room of the location where the "
        "practitioner sees patients then",
    )
    within_notice: WithinNotice = False


class HoldRead(ReadModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    start: datetime = Field(validation_alias="start_at")
    end: datetime = Field(validation_alias="end_at")
    plan_id: uuid.UUID | None = Field(description="The course it is held for, if named")
    location_id: uuid.UUID = Field(description="The site where the slot is")
    room_id: uuid.UUID = Field(description="The room it keeps: booked, the session takes it")
    expires_at: datetime = Field(
        description="Until then the slot is kept for this patient; book it with `hold_id`"
    )
