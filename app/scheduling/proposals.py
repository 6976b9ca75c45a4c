"""Follow-up proposals: pure placement of a course of visits about `interval` apart.

The first visit takes the earliest free slot on or after `earliest` (or, when the course is
under way, the slot nearest its due date). Each next visit aims at the previous one plus the
interval and takes the free slot nearest that target within the tolerance (ties: the earlier).
A visit with no free slot in its window is reported as unplaced, never silently moved.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.scheduling.slots import Interval


@dataclass(frozen=True)
class Candidate:
    slot: Interval
    practitioner_id: uuid.UUID


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
    interval: timedelta
    tolerance: timedelta
    min_gap: timedelta
    # When the course is under way: when the next visit is due (previous visit + interval).
    first_target: datetime | None = None


def propose_follow_ups(
    *,
    course: Course,
    candidates: Sequence[Candidate],
    existing_starts: Sequence[datetime],
    zone: ZoneInfo,
) -> tuple[list[Proposal], list[Unplaced]]:
    """Place the course's visits among `candidates` (free slots, any order)."""
    ordered = sorted(candidates, key=lambda c: (c.slot.start, str(c.practitioner_id)))
    ordered_starts = [c.slot.start for c in ordered]
    taken: list[Interval] = []
    starts = list(existing_starts)
    proposals: list[Proposal] = []
    unplaced: list[Unplaced] = []
    anchor: datetime | None = None  # the previous visit's start (or its target, if unplaced)

    def usable(candidate: Candidate) -> bool:
        return all(abs(candidate.slot.start - s) >= course.min_gap for s in starts) and not any(
            candidate.slot.overlaps(t) for t in taken
        )

    for index in range(course.count):
        sequence = course.first_sequence + index
        target = course.first_target if anchor is None else anchor + course.interval
        if target is None:  # the very first visit of a course: the earliest free slot
            first = bisect.bisect_left(ordered_starts, course.earliest)
            choice = next((c for c in ordered[first:] if usable(c)), None)
            target_day = course.earliest.astimezone(zone).date()
            if choice is not None:
                target_day = choice.slot.start.astimezone(zone).date()
        else:
            low = max(target - course.tolerance, course.earliest)
            high = target + course.tolerance
            in_window = ordered[
                bisect.bisect_left(ordered_starts, low) : bisect.bisect_right(ordered_starts, high)
            ]
            window = [c for c in in_window if usable(c)]
            choice = min(
                window, key=lambda c: (abs(c.slot.start - target), c.slot.start), default=None
            )
            target_day = target.astimezone(zone).date()
        if choice is None:
            unplaced.append(Unplaced(sequence, target_day, "no free slot in the window"))
            anchor = target if target is not None else course.earliest
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
