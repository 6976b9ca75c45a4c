"""FHIR search parameters: what a search route takes (declared once, with its type: the
CapabilityStatement lists the same declarations), and the query string parsed against them.

Strict by design: a parameter the route does not declare, a modifier or prefix it does not
take, an empty or malformed value, is a 400 OperationOutcome naming it. FHIR lets a server
ignore what it does not know, but then `Patient?mrn=123` (a typo for `identifier`) would answer
every patient on file: more patient data than was asked for, and an EHR that believes it got
a match. FHIR's own `Prefer: handling=strict` behaviour, always.

Repeating a parameter ANDs its values (`birthdate=ge1980&birthdate=lt1990`); commas within one
value OR them (`_id=a,b`), as FHIR says.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from app.errors import DomainError

ParamType = Literal["string", "token", "date", "reference"]

# The result parameters every search takes, apart from its own.
COUNT = "_count"
CURSOR = "_cursor"  # the next page's place: sealed, opaque (`app.pagination.CursorSeal`)
FORMAT = "_format"
RESULT_PARAMETERS = frozenset({COUNT, CURSOR, FORMAT})
DEFAULT_COUNT = 20
MAX_COUNT = 100
# A value's length, and how many values one parameter may OR: enough for any real search.
_MAX_VALUE_CHARS = 300
_MAX_ALTERNATIVES = 20
# FHIR's id rule.
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class InvalidSearch(DomainError):
    status = 400
    code = "invalid-search-parameter"
    title = "Invalid search parameter"


class UnknownSearchParameter(DomainError):
    status = 400
    code = "unknown-search-parameter"
    title = "Unknown search parameter"


@dataclass(frozen=True)
class SearchParam:
    """A search parameter a route takes: its name and FHIR type (as the CapabilityStatement
    lists it), and what it accepts."""

    name: str
    type: ParamType
    documentation: str
    modifiers: frozenset[str] = frozenset()  # string: `exact`, `contains`
    prefixes: frozenset[str] = frozenset()  # date: `eq`, `ge`, ...
    target: str | None = None  # reference: the resource type it names
    instant: bool = False  # date: compared with an instant (else with a calendar date)


def string(name: str, documentation: str) -> SearchParam:
    return SearchParam(name, "string", documentation, modifiers=frozenset({"exact", "contains"}))


def token(name: str, documentation: str) -> SearchParam:
    return SearchParam(name, "token", documentation)


def reference(name: str, target: str, documentation: str) -> SearchParam:
    return SearchParam(name, "reference", documentation, target=target)


def calendar_date(name: str, documentation: str) -> SearchParam:
    return SearchParam(
        name, "date", documentation, prefixes=frozenset({"eq", "ge", "le", "gt", "lt"})
    )


def instant(name: str, documentation: str, prefixes: Iterable[str]) -> SearchParam:
    return SearchParam(name, "date", documentation, prefixes=frozenset(prefixes), instant=True)


@dataclass(frozen=True)
class Text:
    """A string search value: `exact` (as written), `contains`, or starts-with (none)."""

    value: str
    modifier: str | None


@dataclass(frozen=True)
class Token:
    """`system|code`, `|code` (no system: `system` is ""), `code` (any system: None)."""

    system: str | None
    code: str


@dataclass(frozen=True)
class DateRange:
    """A calendar-date value and its comparator: the value covers [`low`, `high`) (2024 is
    the whole year, 2024-03 the month)."""

    prefix: str
    low: date
    high: date


@dataclass(frozen=True)
class Moment:
    """An instant value and its comparator; a date alone is the start of that day in the
    clinic's time zone. `until`: the end of the time the value names, FHIR's implicit range
    (the next day for a date, the next minute for `09:00`, the next second for `09:00:00`):
    for a parameter that compares as FHIR's `date` type does (`le`, `gt`, `eq` a whole day)."""

    prefix: str
    at: datetime
    until: datetime


@dataclass(frozen=True)
class Ref:
    """A reference to a record: its id, or None when the id cannot be one of ours (not a
    UUID): it then matches nothing."""

    id: uuid.UUID | None


Value = Text | Token | DateRange | Moment | Ref


@dataclass(frozen=True)
class SearchQuery:
    """A search's parameters, parsed: for each, its occurrences (ANDed), each a tuple of
    alternatives (ORed); and the page asked for."""

    params: dict[str, list[tuple[Value, ...]]] = field(default_factory=dict)
    count: int = DEFAULT_COUNT
    cursor: str | None = None
    # The query as received, result parameters aside: the self and next links repeat it.
    criteria: tuple[tuple[str, str], ...] = ()

    def all(self, name: str) -> list[tuple[Value, ...]]:
        return self.params.get(name, [])

    def searched_by(self) -> list[str]:
        """The parameters searched by, by name (what the audit trail names; never values)."""
        return sorted(self.params)


def parse_search(
    query: Sequence[tuple[str, str]], declared: Sequence[SearchParam], *, zone: ZoneInfo
) -> SearchQuery:
    """The query string's parameters against the route's `declared` ones, or `InvalidSearch`
    / `UnknownSearchParameter` naming what is wrong. `zone`: the clinic's, for a date given
    where an instant is compared."""
    by_name = {p.name: p for p in declared}
    unknown = sorted(
        {k for k, _ in query if k.partition(":")[0] not in by_name and k not in RESULT_PARAMETERS}
    )
    if unknown:
        raise UnknownSearchParameter(
            f"Unknown search parameter(s): {', '.join(unknown)}. This search takes "
            f"{', '.join(sorted(by_name)) or 'no parameter'} (and "
            f"{', '.join(sorted(RESULT_PARAMETERS))})."
        )
    params: dict[str, list[tuple[Value, ...]]] = {}
    count, cursor = DEFAULT_COUNT, None
    criteria: list[tuple[str, str]] = []
    for key, raw in query:
        if key == COUNT:
            count = _count(raw)
            continue
        if key == CURSOR:
            cursor = raw
            continue
        if key == FORMAT:
            continue  # negotiated by the route (`app.fhir.http`)
        name, _, modifier = key.partition(":")
        param = by_name[name]
        if not raw:
            raise InvalidSearch(f"`{key}` has no value.")
        if len(raw) > _MAX_VALUE_CHARS * 4 or _CONTROL.search(raw):
            raise InvalidSearch(f"`{key}` is too long or holds control characters.")
        alternatives = _split(raw)
        if len(alternatives) > _MAX_ALTERNATIVES:
            raise InvalidSearch(f"`{key}` lists more than {_MAX_ALTERNATIVES} values.")
        values = tuple(_value(param, key, modifier or None, each, zone) for each in alternatives)
        params.setdefault(name, []).append(values)
        criteria.append((key, raw))
    return SearchQuery(params, count, cursor, tuple(criteria))


def _count(raw: str) -> int:
    if not re.fullmatch(r"[0-9]{1,6}", raw) or int(raw) < 1:
        raise InvalidSearch(f"`_count` is a whole number from 1 (at most {MAX_COUNT} are sent).")
    return min(int(raw), MAX_COUNT)  # FHIR: a server may send fewer than asked


def _split(raw: str) -> list[str]:
    """Comma-separated alternatives; `\\,` is a comma within a value."""
    parts, current, escaped = [], [], False
    for char in raw:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _value(param: SearchParam, key: str, modifier: str | None, raw: str, zone: ZoneInfo) -> Value:
    if modifier is not None and modifier not in param.modifiers:
        takes = ", ".join(f":{m}" for m in sorted(param.modifiers)) or "no modifier"
        raise InvalidSearch(f"`{key}`: {param.name} takes {takes}.")
    if not raw or len(raw) > _MAX_VALUE_CHARS:
        raise InvalidSearch(f"`{key}` has an empty or over-long value.")
    if param.type == "string":
        return Text(raw, modifier)
    if param.type == "token":
        return _token(key, raw)
    if param.type == "reference":
        return _reference(param, key, raw)
    return _date(param, key, raw, zone)


def _token(key: str, raw: str) -> Token:
    system, separator, code = raw.partition("|")
    if not separator:
        return Token(None, raw)
    if not code or "|" in code:
        raise InvalidSearch(f"`{key}` is written `system|code`, `|code` or `code`.")
    return Token(system, code)


def _reference(param: SearchParam, key: str, raw: str) -> Ref:
    kind, slash, rest = raw.rpartition("/")
    if slash and kind != param.target:
        raise InvalidSearch(f"`{key}` names a {param.target}: `{param.target}/<id>` or `<id>`.")
    found = rest if slash else raw
    if not FHIR_ID.match(found):
        raise InvalidSearch(f"`{key}`: `{found}` is not a FHIR id.")
    return Ref(_uuid(found))


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if len(text) == 36 else None
    except ValueError:
        return None


_PREFIX = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.*)$")
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _date(param: SearchParam, key: str, raw: str, zone: ZoneInfo) -> DateRange | Moment:
    match = _PREFIX.match(raw)
    assert match is not None  # the pattern matches any text
    prefix, text = match.group(1) or "eq", match.group(2)
    if prefix not in param.prefixes:
        takes = ", ".join(sorted(param.prefixes))
        raise InvalidSearch(f"`{key}` takes the prefixes {takes}, not `{prefix}`.")
    if param.instant:
        return Moment(prefix, *_moment(key, text, zone))
    low, high = _calendar_range(key, text)
    return DateRange(prefix, low, high)


def _calendar_range(key: str, text: str) -> tuple[date, date]:
    found = _PARTIAL_DATE.match(text)
    if found is None:
        raise InvalidSearch(f"`{key}` takes a date: YYYY, YYYY-MM or YYYY-MM-DD.")
    year, month, day = (int(part) if part else None for part in found.groups())
    assert year is not None
    try:
        if month is None:
            low, high = date(year, 1, 1), date(year + 1, 1, 1)
        elif day is None:
            low = date(year, month, 1)
            high = date(year + month // 12, month % 12 + 1, 1)
        else:
            low = date(year, month, day)
            high = low + timedelta(days=1)
    except (ValueError, OverflowError):
        raise InvalidSearch(f"`{key}`: {text} is not a calendar date.") from None
    if not 1900 <= year <= 2999:
        raise InvalidSearch(f"`{key}`: dates are between the years 1900 and 2999.")
    return low, high


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$")


def _moment(key: str, text: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The moment a value names, and the end of the time it names (its precision's)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        low, high = _calendar_range(key, text)
        return datetime.combine(low, time(), tzinfo=zone), datetime.combine(high, time(), zone)
    written = _DATE_TIME.match(text)
    if not written:
        raise InvalidSearch(
            f"`{key}` takes a date-time with its offset (e.g. 2027-01-04T09:00:00+01:00) or a "
            "date (YYYY-MM-DD, from midnight in the clinic's time zone)."
        )
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidSearch(f"`{key}`: {text} is not a date-time.") from None
    if not 1900 <= moment.year <= 2999:
        raise InvalidSearch(f"`{key}`: dates are between the years 1900 and 2999.")
    seconds, fraction = written.group(1), written.group(2)
    if seconds is None:
        precision = timedelta(minutes=1)
    elif fraction is None:
        precision = timedelta(seconds=1)
    else:  # .5 is a tenth of a second; a microsecond at the finest (Python's)
        precision = max(timedelta(seconds=10 ** -(len(fraction) - 1)), timedelta(microseconds=1))
    return moment, moment + precision
