"""Follow-up placement, the pure core: no database, no HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.practitioners.hours import Interval
from app.scheduling.proposals import (
    NO_FREE_SLOT,
    Candidate,
    Course,
    Echoes,
    ListedSlots,
    propose_follow_ups,
    same_time_days_later,
)
from app.scheduling.slots import days_apart

PARIS = ZoneInfo("Europe/Paris")
DOCTOR = uuid.UUID(int=1)
HOUR = timedelta(hours=1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).astimezone(UTC)


def offering(starts: Sequence[datetime]) -> tuple[list[Interval], object]:
    """A `free_starting` over fixed one-hour slots, recording the windows it was asked for."""
    asked: list[Interval] = []

    def free_starting(window: Interval) -> list[Candidate]:
        asked.append(window)
        return [
            Candidate(Interval(s, s + HOUR), DOCTOR, PARIS)
            for s in starts
            if window.start <= s < window.end
        ]

    return asked, free_starting


def course(earliest: datetime, count: int = 3, **changes: object) -> Course:
    values: dict[str, object] = {
        "count": count,
        "first_sequence": 1,
        "earliest": earliest,
        "interval_days": 28,
        "tolerance_days": 7,
        "min_gap_days": 14,
        "zone": PARIS,
    }
    values.update(changes)
    return Course(**values)  # type: ignore[arg-type]


MONDAY = date(2027, 1, 4)


def test_each_visit_takes_the_slot_nearest_its_target() -> None:
    first = local(MONDAY, 10)
    target = first + timedelta(days=28)
    starts = [first, target - timedelta(days=2), target + timedelta(days=1), target + 6 * HOUR]
    _, free = offering(starts)
    proposals, unplaced = propose_follow_ups(
        course=course(local(MONDAY, 0), count=2), free_starting=free, existing_starts=[]
    )
    assert unplaced == []
    assert [p.slot.start for p in proposals] == [first, target + 6 * HOUR]
    assert [(p.sequence, p.offset_days) for p in proposals] == [(1, 0), (2, 0)]


class Told(ListedSlots):
    """A diary recording, for each walk, where placement says the later visits will look if
    the walk's slot is taken at its first look (by start: the start of its first piece)."""

    def __init__(self, starts: Sequence[datetime]) -> None:
        super().__init__(offering(starts)[1])  # type: ignore[arg-type]
        self.told: list[list[datetime]] = []

    def ascending(
        self, pieces: Sequence[Interval], echoes: Echoes | None = None
    ) -> Iterator[Candidate]:
        self.told.append(list(echoes(pieces[0].start)) if echoes else [])
        return super().ascending(pieces, echoes)

    def nearest(
        self, pieces: Sequence[Interval], target: datetime, echoes: Echoes | None = None
    ) -> Iterator[Candidate]:
        self.told.append(list(echoes(target)) if echoes else [])
        return super().nearest(pieces, target, echoes)


def test_each_walk_is_told_where_the_later_visits_will_look() -> None:
    """A diary reading bookings as it goes reads there with the walk's first read (one
    statement, not one a visit): each later visit an interval after the one before, at the
    same wall-clock time, across a clock change too; the last visit's walk is told none."""
    first = local(date(2027, 3, 1), 9)  # the clocks go forward on the 28th
    days = [first + timedelta(days=28 * k) for k in range(3)]
    told = Told([local(day.astimezone(PARIS).date(), 9) for day in days])
    proposals, unplaced = propose_follow_ups(
        course=course(local(date(2027, 3, 1), 0)), free_starting=told, existing_starts=[]
    )
    assert unplaced == []
    visits = [p.slot.start for p in proposals]
    assert [v.astimezone(PARIS).time() for v in visits] == [time(9)] * 3
    midnight = local(date(2027, 3, 1), 0)
    assert told.told == [
        [same_time_days_later(midnight, 28, PARIS), same_time_days_later(midnight, 56, PARIS)],
        [visits[2]],
        [],
    ]


def test_a_tie_goes_to_the_earlier_slot() -> None:
    first = local(MONDAY, 12)
    target = first + timedelta(days=28)
    _, free = offering([first, target - 2 * HOUR, target + 2 * HOUR])
    proposals, _ = propose_follow_ups(
        course=course(local(MONDAY, 0), count=2), free_starting=free, existing_starts=[]
    )
    assert proposals[1].slot.start == target - 2 * HOUR


def test_the_tolerance_counts_whole_days_on_the_clinics_clock() -> None:
    # The previous visit was at 16:00: a 17:00 slot seven days after the target day is in
    # the window, though more than 7 x 24 hours after the target.
    first = local(MONDAY, 16)
    late = local(MONDAY + timedelta(days=28 + 7), 17)
    _, free = offering([first, late])
    proposals, unplaced = propose_follow_ups(
        course=course(local(MONDAY, 0), count=2), free_starting=free, existing_starts=[]
    )
    assert unplaced == []
    assert proposals[1].slot.start == late
    assert proposals[1].offset_days == 7


def test_a_visit_with_nothing_in_its_window_is_reported_not_moved() -> None:
    first = local(MONDAY, 9)
    third_target = first + timedelta(days=56)
    # Nothing around day 28; plenty on day 40 (outside ±7) and at the third target.
    _, free = offering([first, first + timedelta(days=40), third_target])
    proposals, unplaced = propose_follow_ups(
        course=course(local(MONDAY, 0)), free_starting=free, existing_starts=[]
    )
    assert [(u.sequence, u.target_date, u.reason) for u in unplaced] == [
        (2, MONDAY + timedelta(days=28), NO_FREE_SLOT)
    ]
    # The next visit still aims at the missing one's target + the interval.
    assert [(p.sequence, p.slot.start) for p in proposals] == [(1, first), (3, third_target)]


def test_a_late_first_visit_carries_the_whole_course_with_it() -> None:
    # The first free slot is ten weeks away: the later visits are looked for around it.
    first = local(MONDAY + timedelta(days=71), 9)
    later = [first + timedelta(days=28), first + timedelta(days=56)]
    asked, free = offering([first, *later])
    proposals, unplaced = propose_follow_ups(
        course=course(local(MONDAY, 0)), free_starting=free, existing_starts=[]
    )
    assert unplaced == []
    assert [p.slot.start for p in proposals] == [first, *later]
    assert all(
        window.end - window.start <= timedelta(days=15) for window in asked
    )  # never the whole horizon at once


def test_no_slot_within_the_first_visit_horizon() -> None:
    _, free = offering([local(MONDAY + timedelta(days=200), 9)])
    proposals, unplaced = propose_follow_ups(
        course=course(local(MONDAY, 0), count=1), free_starting=free, existing_starts=[]
    )
    assert proposals == []
    assert [(u.sequence, u.target_date, u.reason) for u in unplaced] == [(1, MONDAY, NO_FREE_SLOT)]


def test_visits_keep_the_minimum_gap_from_existing_sessions() -> None:
    existing = local(MONDAY + timedelta(days=3), 9)
    too_close = local(MONDAY + timedelta(days=16), 9)  # 13 days after the existing one
    ok = local(MONDAY + timedelta(days=17), 9)
    _, free = offering([too_close, ok])
    proposals, _ = propose_follow_ups(
        course=course(local(MONDAY, 0), count=1),
        free_starting=free,
        existing_starts=[existing],
    )
    assert [p.slot.start for p in proposals] == [ok]


def test_nothing_is_proposed_past_the_evaluations_validity() -> None:
    first = local(MONDAY, 9)
    valid_until = first + timedelta(days=40)
    _, free = offering([first, first + timedelta(days=28), first + timedelta(days=56)])
    proposals, unplaced = propose_follow_ups(
        course=course(local(MONDAY, 0), valid_until=valid_until),
        free_starting=free,
        existing_starts=[],
    )
    assert [p.sequence for p in proposals] == [1, 2]
    assert [u.sequence for u in unplaced] == [3]
    assert "evaluation" in unplaced[0].reason
    assert (valid_until.astimezone(PARIS).date().isoformat()) in unplaced[0].reason


def test_the_validity_is_blamed_only_when_it_is_what_stood_in_the_way() -> None:
    first = local(MONDAY, 9)
    valid_until = first + timedelta(days=34)
    # Nothing at all around day 28 (the practitioner is away): a new evaluation would not help.
    _, free = offering([first])
    _, unplaced = propose_follow_ups(
        course=course(local(MONDAY, 0), count=2, valid_until=valid_until),
        free_starting=free,
        existing_starts=[],
    )
    assert [(u.sequence, u.reason) for u in unplaced] == [(2, NO_FREE_SLOT)]
    # Free only on day 35, after the validity: that is the reason.
    _, free = offering([first, first + timedelta(days=35)])
    _, unplaced = propose_follow_ups(
        course=course(local(MONDAY, 0), count=2, valid_until=valid_until),
        free_starting=free,
        existing_starts=[],
    )
    assert [u.sequence for u in unplaced] == [2]
    assert "evaluation is valid until" in unplaced[0].reason


def test_a_course_under_way_aims_at_its_due_date() -> None:
    due = local(MONDAY + timedelta(days=10), 14)
    _, free = offering([local(MONDAY, 9), due - timedelta(days=1), due + HOUR])
    proposals, _ = propose_follow_ups(
        course=course(local(MONDAY, 0), count=1, first_sequence=2, first_target=due),
        free_starting=free,
        existing_starts=[],
    )
    assert [(p.sequence, p.slot.start) for p in proposals] == [(2, due + HOUR)]


# The last Sunday of March 2027 the clocks in Paris go forward: 02:00 -> 03:00.
BEFORE_SPRING = date(2027, 3, 22)


def test_targets_keep_the_wall_clock_time_across_daylight_saving() -> None:
    first = local(BEFORE_SPRING, 9)
    target = same_time_days_later(first, 14, PARIS)
    assert target.astimezone(PARIS).time() == time(9)
    assert target - first == timedelta(days=14) - HOUR
    _, free = offering([first, target, target + HOUR])
    proposals, _ = propose_follow_ups(
        course=course(local(BEFORE_SPRING, 0), count=2, interval_days=14),
        free_starting=free,
        existing_starts=[],
    )
    assert [p.slot.start for p in proposals] == [first, target]


def test_days_apart_counts_calendar_days_on_the_clinics_clock() -> None:
    first = local(BEFORE_SPRING, 9)
    assert days_apart(first, local(BEFORE_SPRING + timedelta(days=14), 9), PARIS) == 14
    assert days_apart(local(BEFORE_SPRING, 23, 30), local(BEFORE_SPRING, 0, 15), PARIS) == 0
    assert days_apart(local(BEFORE_SPRING, 23, 30), local(BEFORE_SPRING, 0, 15), UTC) == 1
