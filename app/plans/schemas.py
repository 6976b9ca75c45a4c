"""Treatment plan bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from app.models import USUAL_COURSE_SESSIONS, USUAL_INTERVAL_DAYS
from app.pagination import Page
from app.schemas import (
    AffectedSessions,
    FreeText,
    InputModel,
    Integer,
    ReadModel,
    Stored,
    not_nullable,
)
from app.vocabulary import PlanStatus, SessionStatus

PlannedSessions = Annotated[Integer, Field(ge=1, le=10, description="Sessions in the course")]
IntervalDays = Annotated[
    Integer, Field(ge=14, le=56, description="Days between sessions (about a month: 28)")
]


class PlanCreate(InputModel):
    evaluation_id: uuid.UUID | None = Field(
        default=None, description="The evaluation the course rests on; default: the current one"
    )
    planned_sessions: PlannedSessions = USUAL_COURSE_SESSIONS
    interval_days: IntervalDays = USUAL_INTERVAL_DAYS
    notes: FreeText | None = None


class PlanUpdate(InputModel):
    """Partial update. `completed` is reached by fulfilling the last session, not set here."""

    model_config = ConfigDict(
        json_schema_extra=not_nullable("planned_sessions", "interval_days", "status")
    )

    planned_sessions: PlannedSessions | None = None
    interval_days: IntervalDays | None = None
    status: PlanStatus | None = None
    notes: FreeText | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> PlanUpdate:
        for field in self.model_fields_set - {"notes"}:
            if getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null; leave the field out to keep it")
        return self


class PlanSessionRead(ReadModel):
    id: uuid.UUID
    start: datetime = Field(validation_alias="start_at")
    end: datetime = Field(validation_alias="end_at")
    status: SessionStatus
    practitioner_id: uuid.UUID


class PlanRead(Stored):
    id: uuid.UUID
    patient_id: uuid.UUID
    evaluation_id: uuid.UUID
    planned_sessions: int
    interval_days: int
    status: PlanStatus
    notes: str | None = Field(description="Null for roles without `clinical:read`")
    sessions: list[PlanSessionRead]
    sessions_done: int = Field(description="Fulfilled sessions")


class PlanUpdated(PlanRead):
    """The plan after the change, and the upcoming sessions a hold or cancellation strands."""

    affected_sessions: AffectedSessions


class TreatmentPlanPage(Page[PlanRead]):
    """A page of treatment plans."""
