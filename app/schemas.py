"""Building blocks shared by the API schemas of every area."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)

# Control characters (C0, DEL, C1), line and paragraph separators, and the bidirectional
# embeddings, overrides and isolates (U+202E turns the text after it around): none belongs in
# a name, and each can make a log line or an audit event read other than it was written.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]")


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control or text-direction characters")
    return value


# Unicode's default-ignorable code points (DerivedCoreProperties.txt, Default_Ignorable_Code_Point):
# what a text renderer shows as nothing (soft hyphen, joiners, direction marks, variation
# selectors, tags, the Hangul fillers), and the braille blank, which shows a blank cell.
_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_JOINERS = frozenset("\u200c\u200d")
# Scripts whose words never need a joiner: one between their letters only hides.
_PLAIN_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")
# Marks one letter may carry (Vietnamese two, Thai and Tibetan a few more): beyond, a stack.
_MOST_MARKS = 4


def renders_as_nothing(char: str) -> bool:
    """Whether a text renderer shows this character as nothing (a default-ignorable)."""
    point = ord(char)
    return any(low <= point <= high for low, high in _IGNORABLE)


def _script_letter(char: str) -> bool:
    """A letter or mark of a script that writes with joiners (Arabic, Indic, ...)."""
    return unicodedata.category(char)[0] in "LM" and not unicodedata.name(char, "").startswith(
        _PLAIN_SCRIPTS
    )


def _joins(value: str, at: int) -> bool:
    """A joiner its script needs: after one of its letters, and before another, or (ZWJ) at
    a word's end after a virama (Malayalam writes a final chillu so)."""
    if at == 0 or not _script_letter(value[at - 1]):
        return False
    if at + 1 < len(value) and _script_letter(value[at + 1]):
        return True
    end_of_word = at + 1 == len(value) or value[at + 1] == " "
    return value[at] == "\u200d" and end_of_word and "VIRAMA" in unicodedata.name(value[at - 1], "")


def _visible(value: str) -> str:
    """A name shows every character it holds, and shows it one way: no control, format,
    private-use, unassigned or separator character, no space but the plain one, none that
    renders as nothing (Unicode's default-ignorables), no mark but on a letter (and a few at
    most), so no two names look alike but differ and none turns a line of the trail around.
    The joiners Persian and Indic names need stay, between letters of those scripts."""
    marks = 0
    for at, char in enumerate(value):
        kind = unicodedata.category(char)
        marks = marks + 1 if kind[0] == "M" else 0
        if char in _JOINERS:
            if _joins(value, at):
                continue
        elif kind[0] == "M":
            on_a_letter = at and unicodedata.category(value[at - 1])[0] in "LM"
            if on_a_letter and marks <= _MOST_MARKS and not renders_as_nothing(char):
                continue
        elif kind == "Zs":
            if char == " ":
                continue
        elif (
            kind[0] != "C"
            and kind not in ("Zl", "Zp")
            and not renders_as_nothing(char)
            and char != "\ufffc"  # the object replacement character: a box for nothing
        ):
            continue
        raise ValueError(
            f"must not contain invisible, control or text-direction characters, or other "
            f"spaces than the plain one (U+{ord(char):04X})"
        )
    return value


def trimmed(value: str) -> str:
    """Surrounding white space dropped, once the text passed the length and pattern the API
    documents (which count what was sent, so a documented limit is never exceeded)."""
    return value.strip()


def not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    AfterValidator(trimmed),
    AfterValidator(not_blank),
    AfterValidator(_visible),
]
ShortText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(trimmed),
    AfterValidator(not_blank),
    AfterValidator(_visible),
]
_RFC3339_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RFC3339_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _date_text(value: object) -> object:
    # Pydantic would read 0 or "0" as 1970-01-01; a clinical date is written YYYY-MM-DD.
    if isinstance(value, date) or (isinstance(value, str) and _RFC3339_DATE.match(value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


def _timestamp_text(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339_TIMESTAMP.match(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2027-01-04T09:00:00+01:00")


def _to_utc(value: datetime) -> datetime:
    if not 1900 <= value.year <= 2999:  # also keeps astimezone() clear of year 1 and 9999
        raise ValueError("must be between the years 1900 and 2999")
    return value.astimezone(UTC)


def _plausible_year(value: date) -> date:
    if not 1900 <= value.year <= 2999:
        raise ValueError("must be between the years 1900 and 2999")
    return value


CalendarDate = Annotated[date, BeforeValidator(_date_text), AfterValidator(_plausible_year)]


def _printable_with_line_breaks(value: str) -> str:
    _no_control_characters(value.replace("\n", "").replace("\r", "").replace("\t", ""))
    return value


FreeText = Annotated[
    str,
    StringConstraints(max_length=4000),
    AfterValidator(trimmed),
    AfterValidator(_printable_with_line_breaks),
]
# Free text that must say something (a reason): not empty once trimmed.
RequiredText = Annotated[FreeText, Field(min_length=1), AfterValidator(not_blank)]
# RFC 3339 with an explicit offset (a naive datetime is a 422), held in UTC from then on.
Instant = Annotated[AwareDatetime, BeforeValidator(_timestamp_text), AfterValidator(_to_utc)]


# No silent coercion of true/false into numbers or of numbers into booleans.
def _whole_number(value: object) -> object:
    # JSON Schema's integer is the mathematical one: 45.0 is 45. true is not 1.
    if isinstance(value, float) and not isinstance(value, bool) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(_whole_number), Strict()]
Number = Annotated[float, Strict()]
Boolean = Annotated[bool, Strict()]


def not_nullable(*fields: str) -> Callable[[dict[str, Any]], None]:
    """A partial update's `json_schema_extra`: these fields may be left out but never sent as
    null (the model refuses null), so their schema has no `null` and no null default."""

    def extra(schema: dict[str, Any]) -> None:
        for name in fields:
            field = schema["properties"][name]
            kept = [v for v in field.pop("anyOf", []) if v.get("type") != "null"]
            field.pop("default", None)
            if len(kept) == 1:
                field.update(kept[0])
            elif kept:
                field["anyOf"] = kept

    return extra


class InputModel(BaseModel):
    """Request bodies: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ReadModel(BaseModel):
    # From the stored record (attributes, by alias), or from another read model (by name).
    # What an answer always carries is required in its schema, defaults included (a typed
    # client then need not test for it).
    model_config = ConfigDict(
        from_attributes=True,
        validate_by_name=True,
        validate_by_alias=True,
        json_schema_serialization_defaults_required=True,
    )


class Stored(ReadModel):
    """Bookkeeping every stored record shows."""

    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Increases on every change; the ETag carries it")


class AffectedSession(ReadModel):
    """An upcoming session that a change (an evaluation, archiving the patient, the
    practitioner's absence or departure, ...) leaves unable to go ahead as booked. It stays
    booked: `GET /api/v1/sessions/{id}` says why it needs review, and
    `GET /api/v1/sessions?needs_review=true` lists every such session."""

    id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    start: datetime = Field(validation_alias="start_at")
    end: datetime = Field(validation_alias="end_at")
    status: str = Field(examples=["booked"])


ReadT = TypeVar("ReadT", bound=ReadModel)


def with_affected_sessions(
    read: ReadModel, model: type[ReadT], stranded: Iterable[object]
) -> ReadT:
    """`read` extended, as `model`, with the sessions a change left needing review."""
    return model.model_validate({**dict(read), "affected_sessions": list(stranded)})


AffectedSessions = Annotated[
    list[AffectedSession],
    Field(description="Upcoming sessions this change leaves needing review (none: empty)"),
]
