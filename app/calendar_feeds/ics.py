"""A practitioner's sessions as an iCalendar object (RFC 5545): a pure function of what the
service read, no database and no HTTP.

What each session shows, and no more: its time (UTC), its status, and the patient's initials
(their full name if the clinic says so). No flags, no notes, no treatment record.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Calendar, Event, vDuration

from app.vocabulary import SessionStatus

PRODUCT_ID = "-//sclerosched//Practitioner calendar feed//EN"
# How often a calendar app should fetch the feed again (RFC 7986 REFRESH-INTERVAL, and the
# older X-PUBLISHED-TTL some apps read instead).
REFRESH_INTERVAL = timedelta(minutes=15)

# RFC 5545 section 3.8.1.11: an event is TENTATIVE, CONFIRMED or CANCELLED. A session called
# off (cancelled) or recorded by mistake (entered in error) is CANCELLED, so an app that had
# it strikes it out; a no-show kept its time in the practitioner's day: CONFIRMED, and said so
# in its summary. A hold (`pending`) is never in a feed: the service leaves it out.
EVENT_STATUS = {
    SessionStatus.BOOKED: "CONFIRMED",
    SessionStatus.ARRIVED: "CONFIRMED",
    SessionStatus.FULFILLED: "CONFIRMED",
    SessionStatus.NOSHOW: "CONFIRMED",
    SessionStatus.CANCELLED: "CANCELLED",
    SessionStatus.ENTERED_IN_ERROR: "CANCELLED",
}


@dataclass(frozen=True)
class FeedEntry:
    """One session as its feed shows it."""

    session_id: uuid.UUID
    patient_id: uuid.UUID  # for the audit trail, never in the feed
    start_at: datetime
    end_at: datetime
    status: SessionStatus
    created_at: datetime
    updated_at: datetime
    given_name: str
    family_name: str
    reschedules: int  # how many times it was moved: the event's SEQUENCE


def initials(given_name: str, family_name: str) -> str:
    """`Claire`, `Dubois` -> `C.D.`"""
    return "".join(f"{name.strip()[:1].upper()}." for name in (given_name, family_name) if name)


def summary(entry: FeedEntry, *, full_names: bool) -> str:
    who = (
        f"{entry.given_name} {entry.family_name}"
        if full_names
        else initials(entry.given_name, entry.family_name)
    )
    return f"Session: {who}" + (" (no-show)" if entry.status is SessionStatus.NOSHOW else "")


def feed_calendar(*, name: str, entries: Sequence[FeedEntry], full_names: bool) -> bytes:
    """The feed: a VCALENDAR with a VEVENT per session. The same entries give the same bytes
    (no "now" in it), so an unchanged feed keeps its ETag and apps poll it cheaply.

    - `UID`: the session's id, stable across reschedules and status changes.
    - `SEQUENCE`: the number of times the session was moved, so an app takes a moved session's
      new time over the one it had.
    - `DTSTAMP` and `LAST-MODIFIED`: when the session last changed. RFC 5545 says so of DTSTAMP
      in an object without a METHOD, as a feed is (section 3.8.7.2).
    - Times in UTC; `TRANSP` lets a cancelled session leave the practitioner free.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", name)  # RFC 7986
    calendar.add("x-wr-calname", name)
    every = vDuration(REFRESH_INTERVAL)  # PT15M: the library knows neither property's type
    calendar.add("refresh-interval", every, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", every)
    for entry in entries:
        status = EVENT_STATUS[entry.status]
        event = Event()
        event.add("uid", f"{entry.session_id}@sclerosched")
        event.add("dtstamp", entry.updated_at)
        event.add("created", entry.created_at)
        event.add("last-modified", entry.updated_at)
        event.add("dtstart", entry.start_at)
        event.add("dtend", entry.end_at)
        event.add("sequence", entry.reschedules)
        event.add("status", status)
        event.add("transp", "TRANSPARENT" if status == "CANCELLED" else "OPAQUE")
        event.add("summary", summary(entry, full_names=full_names))
        calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical
