"""Session, life-cycle and completion bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field, model_validator

from app.evaluations.schemas import FlagRead
from app.pagination import Page
from app.patients.schemas import Weight
from app.scheduling.schemas import DurationMinutes, ProposalsRead
from app.schemas import (
    AffectedSessions,
    Boolean,
    FreeText,
    InputModel,
    Instant,
    Number,
    ReadModel,
    RequiredText,
    Stored,
)
from app.vocabulary import Aftercare, Anaesthetic, Complication, Sclerosant, SessionStatus, Site

Reason = RequiredText


T = TypeVar("T")


def _distinct(items: list[T]) -> list[T]:
    if len(set(items)) != len(items):
        raise ValueError("an item is listed twice")
    return items


class SessionCreate(InputModel):
    """The patient, the practitioner and the start, or a hold that names them (`hold_id`, from
    `POST /api/v1/holds`): the held slot is then booked, with every check booking makes."""

    patient_id: uuid.UUID | None = Field(default=None, description="Required without `hold_id`")
    practitioner_id: uuid.UUID | None = Field(
        default=None, description="Required without `hold_id`"
    )
    start: Instant | None = Field(
        default=None,
        examples=["2027-01-04T09:00:00+01:00"],
        description="Required without `hold_id`",
    )
    duration_minutes: DurationMinutes = Field(
        default=45, description="Booking a hold: the hold's length"
    )
    plan_id: uuid.UUID | None = Field(default=None, description="The course it belongs to")
    hold_id: uuid.UUID | None = Field(
        default=None,
        description="A hold to book: the slot it keeps. Any of the fields above that is sent "
        "must match it",
    )

    @model_validator(mode="after")
    def _names_the_slot(self) -> SessionCreate:
        if self.hold_id is None:
            missing = [
                name
                for name in ("patient_id", "practitioner_id", "start")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)}: required unless a hold_id is given")
        return self


class RescheduleBody(InputModel):
    start: Instant = Field(examples=["2027-01-11T09:00:00+01:00"])
    duration_minutes: DurationMinutes | None = Field(default=None, description="Default: keep")
    practitioner_id: uuid.UUID | None = Field(default=None, description="Default: keep")
    reason: FreeText | None = None


class ReasonBody(InputModel):
    reason: Reason = Field(examples=["Patient called: unwell"])


class CompletionCreate(InputModel):
    """What was done. No anaesthetic and no compression unless recorded."""

    treated_sites: Annotated[
        list[Site], Field(min_length=1, max_length=len(Site)), AfterValidator(_distinct)
    ] = Field(examples=[["left-calf", "right-thigh"]])
    sclerosant: Sclerosant
    concentration_percent: Number = Field(gt=0, le=3, examples=[0.5])
    volume_ml: Number = Field(gt=0, le=20, examples=[4])
    anaesthetic: Anaesthetic = Anaesthetic.NONE
    compression: Boolean = False
    complications: Annotated[list[Complication], AfterValidator(_distinct)] = []
    aftercare: Annotated[list[Aftercare], Field(min_length=1), AfterValidator(_distinct)] = [
        Aftercare.WALK,
        Aftercare.AVOID_PROLONGED_STANDING_OR_SITTING,
    ]
    notes: FreeText | None = None
    administered_at: Instant | None = Field(
        default=None,
        description="When the sclerosant was given: after the check-in, on the session's day. "
        "Default: now. State it when the record is written after that day",
    )
    weight_kg: Weight | None = Field(
        default=None,
        description="The patient's weight as the clinician finds it today; default: the one on "
        "the current evaluation. Sets the polidocanol limit (2 mg per kg per day)",
    )


class CompletionRead(ReadModel):
    treated_sites: list[Site]
    sclerosant: Sclerosant
    concentration_percent: float
    volume_ml: float
    dose_mg: float
    anaesthetic: Anaesthetic
    compression: bool
    complications: list[Complication]
    aftercare: list[Aftercare]
    notes: str | None
    warnings: list[FlagRead]
    administered_at: datetime = Field(description="When the sclerosant was given")
    weight_kg: float | None = Field(description="The weight the clinician stated, if any")
    recorded_at: datetime


class SessionEventRead(ReadModel):
    action: str
    from_status: SessionStatus | None
    to_status: SessionStatus
    old_start: datetime | None = Field(validation_alias="old_start_at")
    old_end: datetime | None = Field(validation_alias="old_end_at")
    old_practitioner_id: uuid.UUID | None = Field(
        description="A reschedule: who had the session before"
    )
    reason: str | None = Field(
        description="Why (a reschedule, a cancellation, an entry in error), as the clinic wrote "
        "it: free text, clinical; null for roles without `clinical:read`"
    )
    at: datetime


class SessionRead(Stored):
    id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    plan_id: uuid.UUID | None
    start: datetime = Field(validation_alias="start_at")
    end: datetime = Field(validation_alias="end_at")
    time_zone: str = Field(
        description="Where it takes place (the practitioner's zone when booked): its day, for "
        "check-in and treatment, is that zone's",
        examples=["Europe/Paris"],
    )
    status: SessionStatus
    cancel_reason: str | None = Field(
        description="Why it was cancelled, as the clinic wrote it: free text, clinical; null "
        "for roles without `clinical:read`"
    )
    completion: CompletionRead | None = Field(
        description="What was done, once fulfilled; null for roles without `clinical:read`"
    )
    history: list[SessionEventRead] = Field(validation_alias="events")
    needs_review: bool = Field(
        default=False,
        description="Booked or checked in, but no longer passing the booking checks (the "
        "patient's standing, the practitioner, the time): to be moved, cancelled or settled",
    )
    review_reasons: list[FlagRead] | None = Field(
        default=None,
        description="Why it needs review (empty when it does not); null for roles that may "
        "not read eligibility",
    )


class CompletionResult(ReadModel):
    session: SessionRead
    warnings: list[FlagRead]
    affected_sessions: AffectedSessions = Field(
        description="The patient's sessions still to come that this treatment (given later "
        "than booked, say) brings within 14 days of it: flagged for review"
    )
    next_follow_up: ProposalsRead | None = Field(
        description="The proposal for the course's next visit; null when none is left"
    )


class SessionPage(Page[SessionRead]):
    """A page of sessions."""
