"""The feed's iCalendar text, from what the service read: a pure function, checked by parsing
it back with the icalendar package."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar

from app.calendar_feeds.ics import EVENT_STATUS, FeedEntry, feed_calendar, initials
from app.vocabulary import SessionStatus

START = datetime(2027, 1, 11, 8, 30, tzinfo=UTC)


def entry(**changes: object) -> FeedEntry:
    values: dict[str, object] = {
        "session_id": uuid.uuid4(),
        "patient_id": uuid.uuid4(),
        "start_at": START,
        "end_at": START + timedelta(minutes=45),
        "status": SessionStatus.BOOKED,
        "created_at": START - timedelta(days=10),
        "updated_at": START - timedelta(days=2),
        "given_name": "Claire",
        "family_name": "Dubois",
        "reschedules": 0,
        **changes,
    }
    return FeedEntry(**values)  # type: ignore[arg-type]


def parsed(*entries: FeedEntry, full_names: bool = False) -> Calendar:
    return Calendar.from_ical(feed_calendar(name="Dr A", entries=entries, full_names=full_names))


def test_every_status_but_a_holds_has_its_event_status() -> None:
    assert set(EVENT_STATUS) == set(SessionStatus) - {SessionStatus.PENDING}
    assert set(EVENT_STATUS.values()) <= {"TENTATIVE", "CONFIRMED", "CANCELLED"}
    with pytest.raises(KeyError):  # a hold reaching the builder is a fault, never an event
        feed_calendar(name="Dr A", entries=[entry(status=SessionStatus.PENDING)], full_names=False)


def test_an_event_carries_its_uid_sequence_times_and_stamps() -> None:
    one = entry(reschedules=3, status=SessionStatus.CANCELLED)
    calendar = parsed(one)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["X-WR-CALNAME"]) == "Dr A"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"{one.session_id}@sclerosched"
    assert event["SEQUENCE"] == 3
    assert event.decoded("DTSTART") == one.start_at
    assert event.decoded("DTEND") == one.end_at
    assert event.decoded("DTSTAMP") == event.decoded("LAST-MODIFIED") == one.updated_at
    assert event.decoded("CREATED") == one.created_at
    assert str(event["STATUS"]) == "CANCELLED"
    text = feed_calendar(name="Dr A", entries=[one], full_names=False)
    assert b"DTSTART:20270111T083000Z\r\n" in text
    assert str(one.patient_id).encode() not in text


def test_the_same_sessions_give_the_same_bytes() -> None:
    entries = [entry(), entry(start_at=START + timedelta(hours=2))]
    first = feed_calendar(name="Dr A", entries=entries, full_names=False)
    assert feed_calendar(name="Dr A", entries=list(entries), full_names=False) == first
    later = [entries[0], entry(**{**entries[1].__dict__, "updated_at": START})]
    assert feed_calendar(name="Dr A", entries=later, full_names=False) != first


@pytest.mark.parametrize(
    ("given_name", "family_name", "expected"),
    [
        ("Claire", "Dubois", "C.D."),
        ("émile", "zola", "É.Z."),
        ("Jean-Luc", "de la Tour", "J.D."),
        (" Ana", "Ng", "A.N."),
    ],
)
def test_initials(given_name: str, family_name: str, expected: str) -> None:
    assert initials(given_name, family_name) == expected


# icalendar's parser (the tests' reader, not the feed's writer) keeps an escaped `,`, `:`, `;`
# or `\` as `%2C`, `%3A`, `%3B`, `%5C` while it splits a line, then turns every such code
# back (`icalendar.parser.escape_string`, `unescape_string`): a name holding one reads back
# changed, however it was written. Those names are checked on the feed's bytes instead.
_PARSER_CODES = ("%2C", "%3A", "%3B", "%5C")
names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60).filter(
    lambda name: not any(code in name for code in _PARSER_CODES)
)


@given(given_name=names, family_name=names)
def test_any_name_survives_the_round_trip_as_written(given_name: str, family_name: str) -> None:
    """Commas, semicolons, backslashes and long names are escaped and folded, never broken."""
    one = entry(given_name=given_name, family_name=family_name)
    (full,) = parsed(one, full_names=True).walk("VEVENT")
    assert str(full["SUMMARY"]) == f"Session: {given_name} {family_name}"
    (short,) = parsed(one).walk("VEVENT")
    assert str(short["SUMMARY"]) == f"Session: {initials(given_name, family_name)}"


def test_a_name_holding_percent_codes_is_written_as_it_is() -> None:
    one = entry(given_name="Ana%2C", family_name="%3A%3B%5C")
    text = feed_calendar(name="Dr A", entries=[one], full_names=True)
    assert b"SUMMARY:Session: Ana%2C %3A%3B%5C\r\n" in text
