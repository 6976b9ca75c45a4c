"""Slot arithmetic, including daylight-saving changes, with examples and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.practitioners.hours import Interval, WeeklyHours, local_instant, within_weekly_hours
from app.scheduling.slots import BusyIndex, days_apart, far_enough, free_slots

PARIS = ZoneInfo("Europe/Paris")
MONDAY_9_TO_17 = [WeeklyHours(0, time(9), time(17))]
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_monday_nine_oclock_stays_nine_oclock_across_the_spring_change() -> None:
    # Europe/Paris moves to summer time on Sunday 28 March 2027.
    slots = free_slots(
        weekly_hours=MONDAY_9_TO_17,
        zone=PARIS,
        busy=[],
        duration=timedelta(minutes=45),
        window=Interval(utc(2027, 3, 20), utc(2027, 4, 1)),
    )
    mondays = sorted({s.start.astimezone(PARIS).date() for s in slots})
    assert mondays == [date(2027, 3, 22), date(2027, 3, 29)]
    first_each_day = [
        min(s.start for s in slots if s.start.astimezone(PARIS).date() == d) for d in mondays
    ]
    assert first_each_day == [utc(2027, 3, 22, 8), utc(2027, 3, 29, 7)]  # 09:00 CET, 09:00 CEST
    assert all(s.start.astimezone(PARIS).time() >= time(9) for s in slots)
    assert all(s.end.astimezone(PARIS).time() <= time(17) for s in slots)
    assert len(slots) == 2 * 30  # 09:00, 09:15 ... 16:15 (the last to end by 17:00), each Monday


def test_autumn_change_keeps_wall_clock_hours() -> None:
    # Back to winter time on Sunday 31 October 2027.
    slots = free_slots(
        weekly_hours=MONDAY_9_TO_17,
        zone=PARIS,
        busy=[],
        duration=HOUR,
        window=Interval(utc(2027, 10, 25), utc(2027, 11, 2)),
    )
    assert slots[0].start == utc(2027, 10, 25, 7)  # 09:00 CEST
    assert slots[-1].end == utc(2027, 11, 1, 16)  # 17:00 CET


def test_skipped_and_repeated_wall_times_are_never_offered() -> None:
    night = [WeeklyHours(6, time(1), time(4))]  # Sunday 01:00-04:00, through the change
    spring = free_slots(
        weekly_hours=night,
        zone=PARIS,
        busy=[],
        duration=timedelta(minutes=30),
        window=Interval(utc(2027, 3, 27), utc(2027, 3, 29)),
    )
    spring_walls = [s.start.astimezone(PARIS).strftime("%H:%M") for s in spring]
    assert not any(w.startswith("02:") for w in spring_walls)  # 02:00-03:00 does not exist
    assert "01:15" not in spring_walls or all(
        s.end - s.start == timedelta(minutes=30) for s in spring
    )
    assert all(s.end - s.start == timedelta(minutes=30) for s in spring)
    assert "01:00" in spring_walls
    assert "03:00" in spring_walls
    autumn = free_slots(
        weekly_hours=night,
        zone=PARIS,
        busy=[],
        duration=timedelta(minutes=30),
        window=Interval(utc(2027, 10, 30), utc(2027, 11, 1)),
    )
    autumn_walls = [s.start.astimezone(PARIS).strftime("%H:%M") for s in autumn]
    assert not any(w.startswith("02:") for w in autumn_walls)  # 02:00-03:00 happens twice
    assert len(autumn_walls) == len(set(autumn_walls))


def test_local_instant() -> None:
    assert local_instant(date(2027, 3, 28), time(2, 30), PARIS) is None
    assert local_instant(date(2027, 10, 31), time(2, 30), PARIS) is None
    assert local_instant(date(2027, 10, 31), time(3, 30), PARIS) == utc(2027, 10, 31, 2, 30)


def test_busy_time_and_time_off_are_avoided_and_the_grid_is_kept() -> None:
    booked = Interval(utc(2027, 1, 4, 9, 10), utc(2027, 1, 4, 9, 55))  # 10:10-10:55 Paris
    slots = free_slots(
        weekly_hours=[WeeklyHours(0, time(9, 5), time(12))],
        zone=PARIS,
        busy=[booked],
        duration=timedelta(minutes=45),
        window=Interval(utc(2027, 1, 4), utc(2027, 1, 5)),
    )
    walls = [s.start.astimezone(PARIS).strftime("%H:%M") for s in slots]
    assert walls == ["09:15", "11:00", "11:15"]


def test_window_clips_and_results_are_deterministic() -> None:
    kwargs = {
        "weekly_hours": [WeeklyHours(d, time(8), time(18)) for d in range(5)],
        "zone": ZoneInfo("America/New_York"),
        "busy": [],
        "duration": timedelta(minutes=30),
        "window": Interval(utc(2027, 3, 10, 15, 7), utc(2027, 3, 10, 17)),
    }
    first = free_slots(**kwargs)  # type: ignore[arg-type]
    assert first == free_slots(**kwargs)  # type: ignore[arg-type]
    assert first[0].start == utc(2027, 3, 10, 15, 15)
    assert first[-1].end == utc(2027, 3, 10, 17)


def test_within_weekly_hours() -> None:
    hours = MONDAY_9_TO_17
    assert within_weekly_hours(
        Interval(utc(2027, 1, 4, 8), utc(2027, 1, 4, 8, 45)), weekly_hours=hours, zone=PARIS
    )
    assert within_weekly_hours(
        Interval(utc(2027, 1, 4, 15), utc(2027, 1, 4, 16)), weekly_hours=hours, zone=PARIS
    )
    assert not within_weekly_hours(
        Interval(utc(2027, 1, 4, 15, 30), utc(2027, 1, 4, 16, 30)), weekly_hours=hours, zone=PARIS
    )
    assert not within_weekly_hours(
        Interval(utc(2027, 1, 5, 8), utc(2027, 1, 5, 9)), weekly_hours=hours, zone=PARIS
    )
    assert not within_weekly_hours(
        Interval(utc(2027, 1, 4, 7, 30), utc(2027, 1, 4, 8, 30)), weekly_hours=hours, zone=PARIS
    )


ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
    "America/Sao_Paulo",
]
TRANSITION_DAYS = [
    utc(2027, 3, 26),
    utc(2027, 10, 29),
    utc(2027, 4, 2),
    utc(2027, 3, 12),
    utc(2027, 11, 5),
]


@st.composite
def weekly_hours(draw: st.DrawFn) -> list[WeeklyHours]:
    blocks = []
    for weekday in draw(st.sets(st.integers(0, 6), min_size=1, max_size=7)):
        start = draw(st.integers(0, 22 * 4)) * 15
        end = draw(st.integers(start // 15 + 1, 24 * 4 - 1)) * 15
        blocks.append(
            WeeklyHours(weekday, time(start // 60, start % 60), time(end // 60, end % 60))
        )
    return blocks


@st.composite
def busy_intervals(draw: st.DrawFn, origin: datetime) -> list[Interval]:
    result = []
    for _ in range(draw(st.integers(0, 12))):
        start = origin + timedelta(minutes=draw(st.integers(0, 9 * 24 * 60)))
        result.append(Interval(start, start + timedelta(minutes=draw(st.integers(1, 600)))))
    return result


@settings(max_examples=150, deadline=None)
@given(
    hours=weekly_hours(),
    zone_name=st.sampled_from(ZONES),
    origin=st.sampled_from(TRANSITION_DAYS),
    data=st.data(),
    minutes=st.sampled_from([15, 30, 45, 60]),
)
def test_slot_properties(
    hours: list[WeeklyHours], zone_name: str, origin: datetime, data: st.DataObject, minutes: int
) -> None:
    zone = ZoneInfo(zone_name)
    busy = data.draw(busy_intervals(origin))
    window = Interval(origin, origin + timedelta(days=8))
    duration = timedelta(minutes=minutes)
    slots = free_slots(weekly_hours=hours, zone=zone, busy=busy, duration=duration, window=window)

    assert slots == sorted(set(slots))
    assert slots == free_slots(
        weekly_hours=hours, zone=zone, busy=busy, duration=duration, window=window
    )
    for slot in slots:
        assert window.start <= slot.start
        assert slot.end <= window.end
        assert not any(slot.overlaps(b) for b in busy)
        assert within_weekly_hours(slot, weekly_hours=hours, zone=zone)
        assert slot.start.astimezone(zone).minute % 15 == 0
    # And nothing is missing: every start a brute-force walk finds free is offered.
    assert slots == _free_by_brute_force(hours, zone, busy, duration, window)


def _free_by_brute_force(
    hours: list[WeeklyHours],
    zone: ZoneInfo,
    busy: list[Interval],
    duration: timedelta,
    window: Interval,
) -> list[Interval]:
    """Every quarter hour of the window (every zone's offset is whole quarter hours, so these
    are the local grid's starts), kept when the slot is free, inside weekly hours, and no
    clock change falls inside it (its wall-clock length is its real length)."""
    found = []
    start = window.start
    while start + duration <= window.end:
        slot = Interval(start, start + duration)
        local_start, local_end = start.astimezone(zone), slot.end.astimezone(zone)
        wall_length = local_end.replace(tzinfo=None) - local_start.replace(tzinfo=None)
        if (
            wall_length == duration
            and within_weekly_hours(slot, weekly_hours=hours, zone=zone)
            and not any(slot.overlaps(b) for b in busy)
        ):
            found.append(slot)
        start += timedelta(minutes=15)
    return found


@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(1, 60)), max_size=20),
    st.integers(0, 560),
    st.integers(1, 60),
)
def test_busy_index_agrees_with_a_linear_scan(
    raw: list[tuple[int, int]], at: int, length: int
) -> None:
    base = utc(2027, 1, 1)
    intervals = [
        Interval(base + timedelta(minutes=s), base + timedelta(minutes=s + n)) for s, n in raw
    ]
    probe = Interval(base + timedelta(minutes=at), base + timedelta(minutes=at + length))
    assert BusyIndex(intervals).overlaps(probe) == any(probe.overlaps(i) for i in intervals)


def test_the_interval_rule_counts_calendar_days_and_never_less_than_their_hours() -> None:
    # Monday 09:00 to Monday 09:00 two weeks on, across the spring change (28 March 2027):
    # 14 calendar days in 13 days and 23 hours: enough.
    monday = datetime(2027, 3, 22, 9, tzinfo=PARIS)
    two_weeks_on = datetime(2027, 4, 5, 9, tzinfo=PARIS)
    assert two_weeks_on.astimezone(UTC) - monday.astimezone(UTC) == timedelta(days=14) - HOUR
    assert far_enough(monday, two_weeks_on, min_days=14, zone=PARIS)
    assert far_enough(two_weeks_on, monday, min_days=14, zone=PARIS)
    # A minute less is still 14 calendar days, but less time than any 14 days can be.
    assert days_apart(monday, two_weeks_on - timedelta(minutes=1), PARIS) == 14
    assert not far_enough(monday, two_weeks_on - timedelta(minutes=1), min_days=14, zone=PARIS)
    # Late one evening to just after midnight two weeks on: 14 calendar days, 13 days 45 min.
    late = datetime(2027, 1, 4, 23, 30, tzinfo=PARIS)
    assert not far_enough(late, datetime(2027, 1, 18, 0, 15, tzinfo=PARIS), min_days=14, zone=PARIS)
    # Counted where the session takes place: 14 days in Paris are 13 in Kathmandu.
    kathmandu = ZoneInfo("Asia/Kathmandu")
    first = datetime(2027, 1, 5, 1, tzinfo=kathmandu)
    second = datetime(2027, 1, 18, 23, tzinfo=kathmandu)
    assert days_apart(first, second, PARIS) == 14
    assert not far_enough(first, second, min_days=14, zone=kathmandu)
    assert far_enough(first, second, min_days=0, zone=kathmandu)
