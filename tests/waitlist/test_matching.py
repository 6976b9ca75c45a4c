"""Who a freed slot suits and in which order they are asked: the pure rules, exhaustively."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.waitlist.matching import (
    Candidate,
    Preferences,
    SlotOnOffer,
    is_due,
    overdue_days,
    preferences_met,
    ranked,
    suits,
)

DAY = date(2027, 3, 10)  # a Wednesday
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
DOCTOR, OTHER = uuid.UUID(int=1), uuid.UUID(int=2)
SITE, ELSEWHERE = uuid.UUID(int=3), uuid.UUID(int=4)
SLOT = SlotOnOffer(DAY, DOCTOR, SITE)


def _window(**changes: object) -> Preferences:
    base = Preferences(earliest=DAY - timedelta(days=3), latest=DAY + timedelta(days=3))
    return replace(base, **changes)  # type: ignore[arg-type]


def _candidate(n: int, **changes: object) -> Candidate:
    base = Candidate(
        entry_id=uuid.UUID(int=100 + n),
        patient_id=uuid.UUID(int=200 + n),
        plan_id=None,
        waiting_since=NOW - timedelta(days=5),
        preferences=_window(),
        last_treated=None,
        interval_days=28,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_slot_suits_a_window_holding_its_day_ends_included() -> None:
    assert suits(_window(earliest=DAY, latest=DAY), SLOT)
    assert not suits(_window(earliest=DAY + timedelta(days=1)), SLOT)
    assert not suits(_window(latest=DAY - timedelta(days=1)), SLOT)


def test_a_slot_meets_every_stated_preference_or_suits_not() -> None:
    assert suits(_window(practitioner_ids=frozenset({OTHER, DOCTOR})), SLOT)
    assert not suits(_window(practitioner_ids=frozenset({OTHER})), SLOT)
    assert suits(_window(weekdays=frozenset({2})), SLOT)
    assert not suits(_window(weekdays=frozenset({0, 1, 3, 4, 5, 6})), SLOT)
    assert suits(_window(location_ids=frozenset({SITE})), SLOT)
    assert not suits(_window(location_ids=frozenset({ELSEWHERE})), SLOT)
    # A slot whose site is not known suits any: sessions have no site until rooms exist.
    assert suits(_window(location_ids=frozenset({ELSEWHERE})), replace(SLOT, location_id=None))


def test_preferences_met_counts_the_stated_ones() -> None:
    assert preferences_met(_window(), SLOT) == 0
    everything = _window(
        practitioner_ids=frozenset({DOCTOR}),
        location_ids=frozenset({SITE}),
        weekdays=frozenset({2}),
    )
    assert preferences_met(everything, SLOT) == 3
    assert preferences_met(everything, replace(SLOT, location_id=None)) == 2


def test_overdue_counts_from_the_last_treatment_and_the_course_s_interval() -> None:
    treated = _candidate(1, last_treated=DAY - timedelta(days=30), interval_days=28)
    assert overdue_days(treated, SLOT) == 2
    assert overdue_days(replace(treated, interval_days=35), SLOT) == -5
    never = _candidate(2, preferences=_window(earliest=DAY - timedelta(days=2)))
    assert overdue_days(never, SLOT) == 2  # from the first day of their window


def test_a_patient_is_offered_a_slot_no_more_than_a_week_before_their_visit_falls_due() -> None:
    treated = _candidate(1, last_treated=DAY - timedelta(days=21), interval_days=28)
    assert is_due(treated, SLOT, early_days=7)
    too_soon = replace(treated, last_treated=DAY - timedelta(days=20))
    assert not is_due(too_soon, SLOT, early_days=7)
    assert ranked([too_soon, treated], SLOT, NOW, early_days=7) == [treated]
    assert is_due(_candidate(2), SLOT, early_days=0)  # never treated: due from their window


def test_the_order_preferences_then_waiting_then_overdue_then_first_added() -> None:
    plain = _candidate(1)
    asked = _candidate(2, preferences=_window(weekdays=frozenset({2})))
    waited = _candidate(3, waiting_since=NOW - timedelta(days=9))
    overdue = _candidate(4, last_treated=DAY - timedelta(days=40))
    earlier_same_day = _candidate(5, waiting_since=plain.waiting_since - timedelta(hours=1))
    unsuited = _candidate(6, preferences=_window(practitioner_ids=frozenset({OTHER})))
    order = ranked(
        [plain, unsuited, overdue, waited, earlier_same_day, asked], SLOT, NOW, early_days=7
    )
    assert order == [asked, waited, overdue, earlier_same_day, plain]


def test_waiting_is_counted_in_whole_days_so_the_overdue_break_the_tie() -> None:
    first = _candidate(1, waiting_since=NOW - timedelta(days=5, hours=20))
    overdue = _candidate(2, waiting_since=NOW - timedelta(days=5, hours=1), last_treated=DAY)
    overdue = replace(overdue, last_treated=DAY - timedelta(days=35))
    assert ranked([first, overdue], SLOT, NOW, early_days=7) == [overdue, first]


_CANDIDATES = st.lists(
    st.builds(
        _candidate,
        st.integers(0, 10_000),
        waiting_since=st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2027, 3, 1), timezones=st.just(UTC)
        ),
        last_treated=st.none() | st.dates(date(2026, 1, 1), date(2027, 3, 1)),
        interval_days=st.integers(14, 56),
        preferences=st.builds(
            Preferences,
            earliest=st.dates(date(2027, 3, 1), date(2027, 3, 12)),
            latest=st.dates(date(2027, 3, 8), date(2027, 3, 20)),
            weekdays=st.frozensets(st.integers(0, 6)),
            practitioner_ids=st.frozensets(st.sampled_from([DOCTOR, OTHER])),
        ),
    ),
    unique_by=lambda c: c.entry_id,
    max_size=12,
)


@given(_CANDIDATES, st.randoms())
def test_the_order_is_total_and_keeps_exactly_those_the_slot_suits(
    candidates: list[Candidate], shuffler: random.Random
) -> None:
    order = ranked(candidates, SLOT, NOW, early_days=7)
    assert set(order) == {
        c for c in candidates if suits(c.preferences, SLOT) and is_due(c, SLOT, early_days=7)
    }
    shuffled = list(candidates)
    shuffler.shuffle(shuffled)
    assert ranked(shuffled, SLOT, NOW, early_days=7) == order  # whatever order they come in
