"""Patient request and response bodies."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from app.models import Sex
from app.pagination import Page
from app.schemas import (
    AffectedSessions,
    CalendarDate,
    InputModel,
    Name,
    Number,
    ReadModel,
    Stored,
    not_blank,
    not_nullable,
    trimmed,
)

Phone = Annotated[
    str,
    StringConstraints(pattern=r"^\+?[0-9][0-9 ().\-]{2,38}$"),
    AfterValidator(trimmed),
    Field(examples=["+33 6 12 34 56 78"]),
]
# Adults are treated; a value outside this range is a typing slip (grams, pounds, a comma),
# and the polidocanol limit is computed from it.
MIN_WEIGHT_KG, MAX_WEIGHT_KG = 20, 400
Weight = Annotated[
    Number,
    Field(ge=MIN_WEIGHT_KG, le=MAX_WEIGHT_KG, description="Body weight in kg (20 to 400)"),
]


def _not_in_the_future(value: date) -> date:
    # Compared with the latest calendar date anywhere on Earth (UTC+14), so no zone is wronged.
    if value > (datetime.now(UTC) + timedelta(hours=14)).date():
        raise ValueError("birth date is in the future")
    return value


BirthDate = Annotated[CalendarDate, AfterValidator(_not_in_the_future)]


class Identifier(InputModel):
    """An identifier another system uses for the patient, e.g. an EHR's medical record number."""

    system: Annotated[
        str,
        StringConstraints(min_length=1, max_length=200, pattern=r"^[^|\s\x00-\x1f\x7f-\x9f]+$"),
    ] = Field(
        description="Namespace of the value, usually a URI",
        examples=["urn:oid:1.2.36.146.595.217.0.1"],
    )
    value: Annotated[
        str,
        StringConstraints(min_length=1, max_length=100, pattern=r"^[^|\x00-\x1f\x7f-\x9f]+$"),
        AfterValidator(trimmed),
        AfterValidator(not_blank),
    ] = Field(examples=["MRN-004211"])


def _distinct(identifiers: list[Identifier]) -> list[Identifier]:
    pairs = [(i.system, i.value) for i in identifiers]
    if len(pairs) != len(set(pairs)):
        raise ValueError("the same identifier is listed twice")
    return identifiers


Identifiers = Annotated[list[Identifier], Field(max_length=20), AfterValidator(_distinct)]


class PatientCreate(InputModel):
    identifiers: Identifiers = []
    given_name: Name = Field(examples=["Claire"])
    family_name: Name = Field(examples=["Dubois"])
    birth_date: BirthDate = Field(examples=["1984-03-12"])
    sex: Sex
    phone: Phone | None = Field(default=None, examples=["+33 6 12 34 56 78"])
    email: EmailStr | None = Field(default=None, examples=["claire.dubois@example.org"])
    weight_kg: Weight | None = Field(default=None, examples=[64.5])


class PatientUpdate(InputModel):
    """Partial update: only the fields sent change; `null` clears an optional field."""

    model_config = ConfigDict(
        json_schema_extra=not_nullable(
            "identifiers", "given_name", "family_name", "birth_date", "sex"
        )
    )

    identifiers: Identifiers | None = Field(
        default=None, description="Replaces the whole list when sent"
    )
    given_name: Name | None = None
    family_name: Name | None = None
    birth_date: BirthDate | None = None
    sex: Sex | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    weight_kg: Weight | None = None

    @field_validator("identifiers", "given_name", "family_name", "birth_date", "sex", mode="before")
    @classmethod
    def _required_fields_not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class IdentifierRead(ReadModel):
    system: str
    value: str


class PatientRead(Stored):
    id: uuid.UUID
    identifiers: list[IdentifierRead]
    given_name: str
    family_name: str
    birth_date: date
    sex: Sex
    phone: str | None
    email: str | None
    weight_kg: float | None
    archived: bool
    archived_at: datetime | None


class PatientArchivedRead(PatientRead):
    """The archived patient, and their upcoming sessions, which can no longer go ahead."""

    affected_sessions: AffectedSessions


class PatientPage(Page[PatientRead]):
    """A page of patients."""
