"""Who on the waitlist a freed slot suits, and in which order they are asked: pure functions of
the entries and the slot (no database, no clock of their own).

A slot suits an entry when its day (where it takes place) lies in the entry's window and it
meets every preference the entry states: one of its practitioners, one of its locations, one of
its weekdays (an empty list: any). The patient must also be due: their next visit falls due
their last treatment plus their course's interval after (never treated: at once), and a slot
more than `early_days` before that (the proposals' tolerance, a week) is not offered to them,
as a follow-up proposal would not place it there. Whether the patient may be booked there at
all (their standing, the 14-day interval, their course) is not judged here: the offer is a
hold, and placing it runs every booking check (`app.waitlist.offers`).

The order, best placed first:
1. the most stated preferences the slot meets (a patient who asked for this practitioner, this
   site, this weekday before one who would take any);
2. the longest waiting, in whole days on the list;
3. the most overdue: days from when their next session fell due (their last treatment plus
   their course's interval; never treated: the first day of their window) to the slot's day;
4. then the earliest on the list, then the entry's id (every order is total).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class Preferences:
    """An entry's window and preferences; an empty set: any."""

    earliest: date
    latest: date
    practitioner_ids: frozenset[uuid.UUID] = frozenset()
    location_ids: frozenset[uuid.UUID] = frozenset()
    weekdays: frozenset[int] = frozenset()  # 0 = Monday


@dataclass(frozen=True)
class SlotOnOffer:
    """A freed slot as the waitlist reads it: its day and weekday where it takes place, with
    whom and where (`location_id` None: the slot's site is not known, and suits any)."""

    day: date
    practitioner_id: uuid.UUID
    location_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Candidate:
    """A waiting patient, with what the ranking asks of them."""

    entry_id: uuid.UUID
    patient_id: uuid.UUID
    plan_id: uuid.UUID | None
    waiting_since: datetime
    preferences: Preferences
    last_treated: date | None  # the day of their last treatment given, if any
    interval_days: int  # their course's interval (a usual course's without one)


def suits(preferences: Preferences, slot: SlotOnOffer) -> bool:
    """The slot's day is in the window, and it meets every stated preference."""
    return (
        preferences.earliest <= slot.day <= preferences.latest
        and (
            not preferences.practitioner_ids or slot.practitioner_id in preferences.practitioner_ids
        )
        and (
            not preferences.location_ids
            or slot.location_id is None
            or slot.location_id in preferences.location_ids
        )
        and (not preferences.weekdays or slot.day.weekday() in preferences.weekdays)
    )


def preferences_met(preferences: Preferences, slot: SlotOnOffer) -> int:
    """How many stated preferences the slot meets (of a slot that `suits` the entry)."""
    return sum(
        (
            bool(preferences.practitioner_ids),
            bool(preferences.location_ids) and slot.location_id is not None,
            bool(preferences.weekdays),
        )
    )


def due_day(candidate: Candidate) -> date:
    """When the patient's next session falls due."""
    if candidate.last_treated is None:
        return candidate.preferences.earliest
    return candidate.last_treated + timedelta(days=candidate.interval_days)


def overdue_days(candidate: Candidate, slot: SlotOnOffer) -> int:
    """Days from when their next session fell due to the slot's day (negative: not yet due)."""
    return (slot.day - due_day(candidate)).days


def is_due(candidate: Candidate, slot: SlotOnOffer, early_days: int) -> bool:
    """The slot's day is at most `early_days` before the patient's next visit falls due."""
    return overdue_days(candidate, slot) >= -early_days


def ranked(
    candidates: Iterable[Candidate], slot: SlotOnOffer, now: datetime, *, early_days: int
) -> list[Candidate]:
    """The candidates the slot suits and who are due, best placed first (the module's
    order)."""

    def order(candidate: Candidate) -> tuple[int, int, int, datetime, str]:
        return (
            -preferences_met(candidate.preferences, slot),
            -(now - candidate.waiting_since).days,
            -overdue_days(candidate, slot),
            candidate.waiting_since,
            str(candidate.entry_id),
        )

    offered = (c for c in candidates if suits(c.preferences, slot) and is_due(c, slot, early_days))
    return sorted(offered, key=order)
