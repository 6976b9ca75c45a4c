"""Follow-up proposals: pure placement of a course of visits about `interval_days` apart.

The first visit takes the earliest free slot on or after `earliest` (or, when the course is
under way, the slot nearest its due date). Each next visit aims at the previous one plus the
interval, at the same wall-clock time in the clinic's zone, and takes the free slot nearest
that target within the tolerance, counted in calendar days (ties: the earlier). A visit with no
free slot in its window, or due after the evaluation stops being valid, is reported as
unplaced, never silently moved.

The free slots come from a function the caller passes (`free_starting`): placement asks for
the windows it needs, so a late first visit never leaves the later ones outside the search.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.scheduling.slots import Interval, days_apart

# The first visit of a course is searched this far ahead, in chunks growing from a day (the
# earliest free slot is usually near) to two weeks.
FIRST_VISIT_HORIZON = timedelta(days=92)
_FIRST_CHUNK, _LARGEST_CHUNK = timedelta(days=1), timedelta(days=14)

NO_FREE_SLOT = "no free slot in the window"


@dataclass(frozen=True)
class Candidate:
    slot: Interval
    practitioner_id: uuid.UUID


# Free slots starting in [window.start, window.end), any order.
FreeStarting = Callable[[Interval], Sequence[Candidate]]


@dataclass(frozen=True)
class Proposal:
    sequence: int
    slot: Interval
    practitioner_id: uuid.UUID
    target_date: date
    offset_days: int


@dataclass(frozen=True)
class Unplaced:
    sequence: int
    target_date: date
    reason: str


@dataclass(frozen=True)
class Course:
    """What to place: `count` visits numbered from `first_sequence`."""

    count: int
    first_sequence: int
    earliest: datetime
    interval_days: int
    tolerance_days: int
    min_gap_days: int
    zone: ZoneInfo
    # When the course is under way: when the next visit is due (previous visit + interval).
    first_target: datetime | None = None
    # The evaluation's validity: no visit may end after it.
    valid_until: datetime | None = None


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The instant the clinic's day begins (00:00 local, in UTC)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def same_time_days_later(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    """`days` calendar days later at the same wall-clock time in `zone` (so 09:00 stays 09:00
    across a daylight-saving change)."""
    return (moment.astimezone(zone) + timedelta(days=days)).astimezone(UTC)


def propose_follow_ups(
    *, course: Course, free_starting: FreeStarting, existing_starts: Sequence[datetime]
) -> tuple[list[Proposal], list[Unplaced]]:
    """Place the course's visits among the free slots `free_starting` gives."""
    zone = course.zone
    taken: list[Interval] = []
    starts = list(existing_starts)
    proposals: list[Proposal] = []
    unplaced: list[Unplaced] = []

    def usable(candidate: Candidate) -> bool:
        slot = candidate.slot
        return (
            (course.valid_until is None or slot.end <= course.valid_until)
            and all(days_apart(slot.start, s, zone) >= course.min_gap_days for s in starts)
            and not any(slot.overlaps(t) for t in taken)
        )

    def ordered(window: Interval) -> list[Candidate]:
        found = free_starting(window) if window.start < window.end else []
        return sorted(found, key=lambda c: (c.slot.start, str(c.practitioner_id)))

    anchor: datetime | None = None  # the previous visit's start (or its target, if unplaced)
    for sequence in range(course.first_sequence, course.first_sequence + course.count):
        target = (
            same_time_days_later(anchor, course.interval_days, zone)
            if anchor is not None
            else course.first_target
        )
        if target is None:  # the very first visit of a course: the earliest free slot
            choice, searched_until = _earliest(course, ordered, usable)
            target_day = (choice.slot.start if choice else course.earliest).astimezone(zone).date()
        else:
            target_day = target.astimezone(zone).date()
            tolerance = timedelta(days=course.tolerance_days)
            searched_until = day_start(target_day + tolerance + timedelta(days=1), zone)
            window = Interval(
                max(day_start(target_day - tolerance, zone), course.earliest), searched_until
            )
            by_distance = sorted(
                ordered(window), key=lambda c: (abs(c.slot.start - target), c.slot.start)
            )
            choice = next((c for c in by_distance if usable(c)), None)
        if choice is None:
            reason = _why_unplaced(course, searched_until)
            unplaced.append(Unplaced(sequence, target_day, reason))
            anchor = target or course.earliest
            continue
        day = choice.slot.start.astimezone(zone).date()
        proposals.append(
            Proposal(
                sequence, choice.slot, choice.practitioner_id, target_day, (day - target_day).days
            )
        )
        taken.append(choice.slot)
        starts.append(choice.slot.start)
        anchor = choice.slot.start
    return proposals, unplaced


def _earliest(
    course: Course,
    ordered: Callable[[Interval], list[Candidate]],
    usable: Callable[[Candidate], bool],
) -> tuple[Candidate | None, datetime]:
    """The first usable slot on or after `earliest`, looked for a chunk at a time, and how far
    the search went."""
    horizon_end = course.earliest + FIRST_VISIT_HORIZON
    limit = min(horizon_end, course.valid_until) if course.valid_until else horizon_end
    low, chunk = course.earliest, _FIRST_CHUNK
    while low < limit:
        high = min(low + chunk, limit)
        choice = next((c for c in ordered(Interval(low, high)) if usable(c)), None)
        if choice is not None:
            return choice, high
        low, chunk = high, min(chunk * 2, _LARGEST_CHUNK)
    return None, horizon_end


def _why_unplaced(course: Course, searched_until: datetime) -> str:
    if course.valid_until is not None and searched_until > course.valid_until:
        until = course.valid_until.astimezone(course.zone).date().isoformat()
        return f"no free slot before the evaluation's validity ends ({until}): re-evaluate first"
    return NO_FREE_SLOT
