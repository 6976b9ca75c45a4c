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

import bisect
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.practitioners.hours import Interval
from app.scheduling.slots import far_enough

# The first visit of a course is searched this far ahead, in chunks growing from an hour (the
# earliest free slot is usually near) to two weeks.
FIRST_VISIT_HORIZON = timedelta(days=92)
_FIRST_CHUNK, _LARGEST_CHUNK = timedelta(hours=1), timedelta(days=14)

NO_FREE_SLOT = "no free slot in the window"


@dataclass(frozen=True)
class Candidate:
    slot: Interval
    practitioner_id: uuid.UUID
    zone: ZoneInfo  # where the session would take place: the practitioner's time zone


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

    def horizon(self) -> Interval:
        """Where its visits can fall: from `earliest`, the first visit's search, then each next
        one's interval and tolerance."""
        start = (
            self.earliest if self.first_target is None else min(self.earliest, self.first_target)
        )
        reach = FIRST_VISIT_HORIZON + timedelta(
            days=(self.count + 1) * (self.interval_days + self.tolerance_days + 1)
        )
        return Interval(start, max(self.earliest, self.first_target or self.earliest) + reach)


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
    starts = sorted(existing_starts)
    # Only the treatments this close to a slot can be too close to it.
    near = timedelta(days=course.min_gap_days + 1)
    proposals: list[Proposal] = []
    unplaced: list[Unplaced] = []

    def fits(candidate: Candidate) -> bool:
        """Free for the patient: far enough from their other treatments (counted where the
        session would take place), overlapping none."""
        slot = candidate.slot
        low = bisect.bisect_left(starts, slot.start - near)
        high = bisect.bisect_right(starts, slot.start + near)
        return all(
            far_enough(slot.start, s, min_days=course.min_gap_days, zone=candidate.zone)
            for s in starts[low:high]
        ) and not any(slot.overlaps(t) for t in taken)

    def first_fit(candidates: Iterable[Candidate]) -> _Search:
        """The first candidate that fits within the evaluation's validity; and whether one
        that fits was passed over only for falling after it."""
        past_validity = False
        for candidate in candidates:
            if fits(candidate):
                if course.valid_until is None or candidate.slot.end <= course.valid_until:
                    return _Search(candidate, past_validity)
                past_validity = True
        return _Search(None, past_validity)

    def ordered(window: Interval) -> list[Candidate]:
        found = [c for piece in _open(window, starts, course) for c in free_starting(piece)]
        return sorted(found, key=lambda c: (c.slot.start, c.practitioner_id.int))

    anchor: datetime | None = None  # the previous visit's start (or its target, if unplaced)
    for sequence in range(course.first_sequence, course.first_sequence + course.count):
        target = (
            same_time_days_later(anchor, course.interval_days, zone)
            if anchor is not None
            else course.first_target
        )
        if target is None:  # the very first visit of a course: the earliest free slot
            found = _earliest(course, ordered, first_fit, lambda at: _clear_of(at, starts, course))
            first_day = found.choice.slot.start if found.choice else course.earliest
            target_day = first_day.astimezone(zone).date()
        else:
            target_day = target.astimezone(zone).date()
            found = _nearest(course, target, ordered, first_fit)
        if found.choice is None:
            reason = _past_validity(course) if found.past_validity else NO_FREE_SLOT
            unplaced.append(Unplaced(sequence, target_day, reason))
            anchor = target or course.earliest
            continue
        slot, day = found.choice.slot, found.choice.slot.start.astimezone(zone).date()
        proposals.append(
            Proposal(
                sequence, slot, found.choice.practitioner_id, target_day, (day - target_day).days
            )
        )
        taken.append(slot)
        bisect.insort(starts, slot.start)
        anchor = slot.start
    return proposals, unplaced


@dataclass(frozen=True)
class _Search:
    choice: Candidate | None
    past_validity: bool  # a slot that fits was passed over for falling after the validity


def _nearest(
    course: Course,
    target: datetime,
    ordered: Callable[[Interval], list[Candidate]],
    first_fit: Callable[[Iterable[Candidate]], _Search],
) -> _Search:
    """The free slot nearest `target` (ties: the earlier) within the tolerance, looked for in
    windows growing around the target: a slot outside `reach` either side of it is at least
    `reach` from it, so one found inside nearer than that is the nearest of all."""
    zone, day = course.zone, target.astimezone(course.zone).date()
    tolerance = Interval(
        max(day_start(day - timedelta(days=course.tolerance_days), zone), course.earliest),
        day_start(day + timedelta(days=course.tolerance_days + 1), zone),
    )
    found = _Search(None, past_validity=False)
    for reach in _NEAREST_REACHES:
        window = Interval(max(target - reach, tolerance.start), min(target + reach, tolerance.end))
        whole = window == tolerance
        found = first_fit(
            sorted(ordered(window), key=lambda c: (abs(c.slot.start - target), c.slot.start))
        )
        if whole or (found.choice and abs(found.choice.slot.start - target) < reach):
            return found
    return first_fit(
        sorted(ordered(tolerance), key=lambda c: (abs(c.slot.start - target), c.slot.start))
    )


# How far either side of a follow-up's target the search looks, before the whole tolerance.
_NEAREST_REACHES = tuple(timedelta(hours=h) for h in (1, 4, 12, 24, 72))


def _open(window: Interval, starts: Sequence[datetime], course: Course) -> list[Interval]:
    """`window` less the stretches the patient's treatments (`starts`, sorted) surely rule out
    (see `_clear_of`): no slot need be made there, only to be refused."""
    if course.min_gap_days <= 1:
        return [window] if window.start < window.end else []
    sure = timedelta(days=course.min_gap_days - 1)
    pieces, low = [], window.start
    while (low := _clear_of(low, starts, course)) < window.end:
        # The next stretch ruled out begins `sure` before the next treatment past it.
        after = bisect.bisect_right(starts, low + sure)
        high = min(window.end, starts[after] - sure) if after < len(starts) else window.end
        pieces.append(Interval(low, high))
        low = high
    return pieces


def _clear_of(moment: datetime, starts: Sequence[datetime], course: Course) -> datetime:
    """The first time from `moment` on that is not surely too close to one of the patient's
    treatments (`starts`, sorted): less than `min_gap_days` - 1 days of elapsed time from one
    never passes the interval rule, so no slot there need be looked at."""
    if course.min_gap_days <= 1:
        return moment
    sure = timedelta(days=course.min_gap_days - 1)
    for start in starts[bisect.bisect_left(starts, moment - sure) :]:
        if start - sure > moment:
            break
        moment = max(moment, start + sure)
    return moment


def _earliest(
    course: Course,
    ordered: Callable[[Interval], list[Candidate]],
    first_fit: Callable[[Iterable[Candidate]], _Search],
    clear_of: Callable[[datetime], datetime],
) -> _Search:
    """The first slot that fits on or after `earliest`, looked for a chunk at a time (past
    the stretches the patient's own treatments rule out)."""
    limit = course.earliest + FIRST_VISIT_HORIZON
    low, chunk = course.earliest, _FIRST_CHUNK
    while (low := clear_of(low)) < limit:
        high = min(low + chunk, limit)
        found = first_fit(ordered(Interval(low, high)))
        if found.choice is not None or found.past_validity:  # later slots are later still
            return found
        low, chunk = high, min(chunk * 2, _LARGEST_CHUNK)
    return _Search(None, past_validity=False)


def _past_validity(course: Course) -> str:
    until = course.valid_until.astimezone(course.zone).date() if course.valid_until else None
    return f"the evaluation is valid until {until}: a new evaluation is needed first"
