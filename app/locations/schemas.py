"""Location, room and room-closure bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.config import validate_time_zone
from app.pagination import Page
from app.schemas import (
    AffectedSessions,
    Boolean,
    InputModel,
    Instant,
    ReadModel,
    ShortText,
    Stored,
    not_blank,
    not_nullable,
    trimmed,
)

TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(validate_time_zone)]


def _one_line(value: str) -> str:
    if any(char in value for char in "\r\n\t") or not value.isprintable():
        raise ValueError("must be one line of printable text")
    return value


Address = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500),
    AfterValidator(trimmed),
    AfterValidator(not_blank),
    AfterValidator(_one_line),
]


class LocationCreate(InputModel):
    name: ShortText = Field(examples=["Clinique des Veines, Paris 6e"])
    address: Address | None = Field(default=None, examples=["12 rue de Rennes, 75006 Paris"])
    time_zone: TimeZoneName | None = Field(
        default=None,
        description="IANA time zone of the site's clock (its practitioners' hours there are "
        "read on it); defaults to the clinic's",
        examples=["Europe/Paris"],
    )


class LocationRead(Stored):
    id: uuid.UUID
    name: str
    address: str | None
    time_zone: str


class LocationPage(Page[LocationRead]):
    """A page of locations."""


class RoomCreate(InputModel):
    name: ShortText = Field(examples=["Room 2"])
    active: Boolean = True


class RoomUpdate(InputModel):
    """Partial update: rename the room, or take it out of (or back into) use."""

    model_config = ConfigDict(json_schema_extra=not_nullable("name", "active"))

    name: ShortText | None = None
    active: Boolean | None = Field(
        default=None, description="false: no new session is booked in it"
    )

    @field_validator("name", "active", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class RoomRead(Stored):
    id: uuid.UUID
    location_id: uuid.UUID
    name: str
    active: bool


class RoomUpdated(RoomRead):
    """The room after the change, and the upcoming sessions in it that no longer fit."""

    affected_sessions: AffectedSessions


class RoomPage(Page[RoomRead]):
    """A page of a location's rooms."""


class ClosureCreate(InputModel):
    start: Instant = Field(
        description="RFC 3339 with offset", examples=["2027-01-04T08:00:00+01:00"]
    )
    end: Instant = Field(description="RFC 3339 with offset", examples=["2027-01-04T13:00:00+01:00"])
    reason: ShortText = Field(examples=["Laser maintenance"])

    @model_validator(mode="after")
    def _end_after_start(self) -> ClosureCreate:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.end - self.start).days > 366:
            raise ValueError("a closure longer than a year: deactivate the room instead")
        return self


class ClosureRead(ReadModel):
    id: uuid.UUID
    room_id: uuid.UUID
    start: datetime = Field(validation_alias="start_at")
    end: datetime = Field(validation_alias="end_at")
    reason: str
    created_at: datetime


class ClosureRecorded(ClosureRead):
    """The closure, and the upcoming sessions booked in the room during it."""

    affected_sessions: AffectedSessions


class ClosurePage(Page[ClosureRead]):
    """A page of a room's closures."""
