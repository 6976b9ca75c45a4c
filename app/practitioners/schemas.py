"""Practitioner, weekly availability and time-off bodies."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from itertools import pairwise
from typing import Annotated

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.locations.schemas import TimeZoneName
from app.pagination import Page
from app.schemas import (
    AffectedSessions,
    Boolean,
    InputModel,
    Instant,
    Integer,
    ReadModel,
    ShortText,
    Stored,
    not_nullable,
)
from app.vocabulary import LONGEST_BUFFER_MINUTES, LONGEST_NOTICE_MINUTES

ClockTime = Annotated[
    str,
    StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$"),
    Field(description="Local wall-clock time, HH:MM (24-hour)", examples=["09:00"]),
]
ClockTimeOut = Annotated[time, PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)]


def _parse_clock(value: str) -> time:
    return time.fromisoformat(value)


class AvailabilityInterval(InputModel):
    """Recurring weekly working hours at a location, on its clock (its time zone)."""

    weekday: Integer = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    start: ClockTime
    end: ClockTime = Field(examples=["17:00"])
    location_id: uuid.UUID | None = Field(
        default=None,
        description="Where (`GET /api/v1/locations`); default: the clinic's first location in "
        "the practitioner's time zone, made with one room if there is none yet",
    )

    @model_validator(mode="after")
    def _end_after_start(self) -> AvailabilityInterval:
        if _parse_clock(self.end) <= _parse_clock(self.start):
            raise ValueError("end must be after start")
        return self


def _no_overlaps(intervals: list[AvailabilityInterval]) -> list[AvailabilityInterval]:
    """No two intervals at one location (no location named: the default one) overlap on a
    weekday. Intervals at different locations may lie in different zones: whether they meet
    is a question of real time, answered where the locations' zones are known
    (`app.practitioners.service`)."""
    ordered = sorted(intervals, key=lambda i: (str(i.location_id), i.weekday, i.start))
    for before, after in pairwise(ordered):
        if (
            before.location_id == after.location_id
            and before.weekday == after.weekday
            and after.start < before.end
        ):
            raise ValueError(
                f"intervals {before.start}-{before.end} and {after.start}-{after.end} "
                f"overlap on weekday {before.weekday}"
            )
    return intervals


Availability = Annotated[
    list[AvailabilityInterval], Field(max_length=70), AfterValidator(_no_overlaps)
]
BufferMinutes = Annotated[
    Integer,
    Field(
        ge=0,
        le=LONGEST_BUFFER_MINUTES,
        description="Minutes kept free before and after each of their sessions (0: none); "
        "null: the clinic's (`SCLEROSCHED_BUFFER_MINUTES`)",
        examples=[10],
    ),
]
NoticeMinutes = Annotated[
    Integer,
    Field(
        ge=0,
        le=LONGEST_NOTICE_MINUTES,
        description="No booking with them starts sooner than this many minutes from now (0: "
        "any time still to come); null: the clinic's (`SCLEROSCHED_MIN_NOTICE_MINUTES`)",
        examples=[1440],
    ),
]


class PractitionerCreate(InputModel):
    name: ShortText = Field(examples=["Dr Amélie Laurent"])
    time_zone: TimeZoneName | None = Field(
        default=None,
        description="IANA time zone of the practitioner: where hours that name no location "
        "are (the clinic's first location in it); defaults to the clinic's",
        examples=["Europe/Paris"],
    )
    active: Boolean = True
    availability: Availability = Field(
        default=[],
        examples=[[{"weekday": 0, "start": "09:00", "end": "12:30"}]],
    )
    buffer_minutes: BufferMinutes | None = None
    min_notice_minutes: NoticeMinutes | None = None


class PractitionerUpdate(InputModel):
    """Partial update; sending `availability` replaces the whole weekly schedule;
    `buffer_minutes` or `min_notice_minutes` sent as null go back to the clinic's."""

    model_config = ConfigDict(
        json_schema_extra=not_nullable("name", "time_zone", "active", "availability")
    )

    name: ShortText | None = None
    time_zone: TimeZoneName | None = None
    active: Boolean | None = None
    availability: Availability | None = None
    buffer_minutes: BufferMinutes | None = None
    min_notice_minutes: NoticeMinutes | None = None

    @field_validator("name", "time_zone", "active", "availability", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class AvailabilityRead(ReadModel):
    weekday: int
    start: ClockTimeOut = Field(validation_alias="start_time")
    end: ClockTimeOut = Field(validation_alias="end_time")
    location_id: uuid.UUID = Field(description="Where: the hours are read on its clock")


class PractitionerRead(Stored):
    id: uuid.UUID
    name: str
    time_zone: str
    active: bool
    availability: list[AvailabilityRead]
    buffer_minutes: int | None = Field(
        description="Their own buffer as stored; null: the clinic's applies"
    )
    min_notice_minutes: int | None = Field(
        description="Their own minimum notice as stored; null: the clinic's applies"
    )
    effective_buffer_minutes: int = Field(
        default=0,
        description="The buffer booking and slot search keep: their own, else the clinic's",
    )
    effective_min_notice_minutes: int = Field(
        default=0,
        description="The notice booking and slot search ask: their own, else the clinic's",
    )


class TimeOffCreate(InputModel):
    start: Instant = Field(
        description="RFC 3339 with offset", examples=["2026-12-24T00:00:00+01:00"]
    )
    end: Instant = Field(description="RFC 3339 with offset", examples=["2027-01-02T00:00:00+01:00"])
    reason: ShortText = Field(examples=["Annual leave"])

    @model_validator(mode="after")
    def _end_after_start(self) -> TimeOffCreate:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.end - self.start).days > 366:
            raise ValueError("time off longer than a year: deactivate the practitioner instead")
        return self


class TimeOffRead(ReadModel):
    id: uuid.UUID
    practitioner_id: uuid.UUID
    start: datetime = Field(validation_alias="start_at")
    end: datetime = Field(validation_alias="end_at")
    reason: str
    created_at: datetime


class PractitionerUpdated(PractitionerRead):
    """The practitioner after the change, and the upcoming sessions that no longer fit."""

    affected_sessions: AffectedSessions


class TimeOffRecorded(TimeOffRead):
    """The absence, and the upcoming sessions booked with the practitioner during it."""

    affected_sessions: AffectedSessions


class PractitionerPage(Page[PractitionerRead]):
    """A page of practitioners."""


class TimeOffPage(Page[TimeOffRead]):
    """A page of a practitioner's time off."""
