"""Reminders: one `session.reminder` per offset (48 h and 2 h before the start by default),
told by the worker to a real receiver at its time and not before, once; they follow a
reschedule, are never told for a session that will not take place, and a late booking gets
only those still ahead. The clock is driven by the tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from app.events.outbox import OUTBOX
from app.events.reminders import reminder_rows
from app.vocabulary import EventType
from tests.events.outbox import events, types
from tests.events.receiver import receiving
from tests.events.reminding import (
    SetClock,
    reminder_worker,
    run_at,
    start_of,
    subscribe_to_reminders,
    told,
    told_as,
)
from tests.factories import assert_problem
from tests.sessions.clinic import Clinic, ok, paris_day

MINUTE = timedelta(minutes=1)
H48, H2 = timedelta(hours=48), timedelta(hours=2)


def _utc(visit: dict[str, Any]) -> str:
    return start_of(visit).astimezone(UTC).isoformat()


def test_each_offset_is_told_once_at_its_time_not_before(clinic: Clinic, engine: Engine) -> None:
    visit = clinic.book(clinic.patient(), paris_day(5, 10))
    start = start_of(visit)
    clock = SetClock(start - H48 - MINUTE)
    worker = reminder_worker(engine, clock)
    with receiving() as receiver:
        webhook = subscribe_to_reminders(clinic.client, receiver.url)
        run_at(worker, clock, start - H48 - MINUTE)
        assert told(receiver, webhook) == []  # not before its time
        run_at(worker, clock, start - H48)
        assert told_as(told(receiver, webhook)) == [(visit["id"], 48, _utc(visit))]
        run_at(worker, clock, start - H2 - MINUTE)
        run_at(worker, clock, start - H2 - MINUTE)  # nothing twice
        assert len(receiver.received) == 1
        run_at(worker, clock, start - H2 + MINUTE)
        run_at(worker, clock, start + timedelta(days=30))
    messages = told(receiver, webhook)
    assert told_as(messages) == [(visit["id"], 48, _utc(visit)), (visit["id"], 2, _utc(visit))]
    # Thin: the ids, the offset and the start; stamped with the time it is told for.
    assert set(messages[1]["data"]) == {"session_id", "patient_id", "offset_hours", "start"}
    assert messages[1]["data"]["patient_id"] == visit["patient_id"]
    assert messages[1]["timestamp"] == (start - H2).astimezone(UTC).isoformat()
    assert "Claire" not in b"".join(got.body for got in receiver.received).decode()
    assert types(engine, session_id=visit["id"]).count("session.reminder") == 2


def test_reminders_follow_a_reschedule(clinic: Clinic, engine: Engine) -> None:
    visit = clinic.book(clinic.patient(), paris_day(5, 10))
    old = start_of(visit)
    clock = SetClock(old - H48)
    worker = reminder_worker(engine, clock)
    with receiving() as receiver:
        webhook = subscribe_to_reminders(clinic.client, receiver.url)
        run_at(worker, clock, old - H48)  # the first 48 h reminder is told
        clinic.clock.travel_to(old - timedelta(hours=30))
        url = f"/api/v1/sessions/{visit['id']}/reschedule"
        moved = ok(clinic.client.post(url, json={"start": paris_day(9, 15).isoformat()}))
        new = start_of(moved)
        run_at(worker, clock, old - H2 + MINUTE)  # the old time's 2 h reminder: gone
        run_at(worker, clock, old + timedelta(hours=1))
        assert len(receiver.received) == 1
        run_at(worker, clock, new - H48)
        run_at(worker, clock, new - H2)
        run_at(worker, clock, new + timedelta(days=1))
    assert told_as(told(receiver, webhook)) == [
        (visit["id"], 48, _utc(visit)),
        (visit["id"], 48, _utc(moved)),
        (visit["id"], 2, _utc(moved)),
    ]
    # The outbox keeps the one told and the new time's two: the old 2 h one was withdrawn.
    reminders = [e for e in events(engine) if e["session_id"] == visit["id"] and e["due_at"]]
    assert sorted(e["due_at"] for e in reminders) == [old - H48, new - H48, new - H2]


def test_moving_a_session_twice_leaves_one_reminder_per_offset(
    clinic: Clinic, engine: Engine
) -> None:
    visit = clinic.book(clinic.patient(), paris_day(6, 10))
    url = f"/api/v1/sessions/{visit['id']}/reschedule"
    for day in (8, 6):  # away and back to the first time
        ok(clinic.client.post(url, json={"start": paris_day(day, 10).isoformat()}))
    reminders = [e for e in events(engine) if e["session_id"] == visit["id"] and e["due_at"]]
    start = start_of(visit)
    assert sorted(e["due_at"] for e in reminders) == [start - H48, start - H2]


def test_no_reminder_for_a_session_that_will_not_take_place(clinic: Clinic, engine: Engine) -> None:
    patient = clinic.patient()
    cancelled = clinic.book(patient, paris_day(5, 10))
    erroneous = clinic.book(clinic.patient(), paris_day(5, 12))
    clock = SetClock(start_of(cancelled) - timedelta(hours=50))
    worker = reminder_worker(engine, clock)
    with receiving() as receiver:
        subscribe_to_reminders(clinic.client, receiver.url)
        ok(clinic.client.post(f"/api/v1/sessions/{cancelled['id']}/cancel", json={"reason": "ill"}))
        ok(
            clinic.client.post(
                f"/api/v1/sessions/{erroneous['id']}/entered-in-error", json={"reason": "typo"}
            )
        )
        for hours in (48, 2, 0):
            run_at(worker, clock, start_of(cancelled) - timedelta(hours=hours))
        run_at(worker, clock, start_of(cancelled) + timedelta(days=30))
    assert receiver.received == []
    for visit in (cancelled, erroneous):
        assert "session.reminder" not in types(engine, session_id=visit["id"])


def test_a_late_booking_gets_only_the_reminders_still_ahead(clinic: Clinic, engine: Engine) -> None:
    start = paris_day(5, 10)
    clinic.clock.travel_to(start - timedelta(hours=24))
    late = clinic.book(clinic.patient(), start)
    clinic.clock.travel_to(start - timedelta(hours=1))
    very_late = clinic.book(clinic.patient(), paris_day(5, 11, 30) - timedelta(minutes=30))
    clock = SetClock(start - H48)
    worker = reminder_worker(engine, clock)
    with receiving() as receiver:
        webhook = subscribe_to_reminders(clinic.client, receiver.url)
        run_at(worker, clock, start + timedelta(days=2))
    assert told_as(told(receiver, webhook)) == [(late["id"], 2, _utc(late))]
    assert types(engine, session_id=very_late["id"]) == ["session.booked"]


def test_a_refused_booking_leaves_no_reminder(clinic: Clinic, engine: Engine) -> None:
    blocked = clinic.patient(varicose_veins="present", ceap_class="C2")
    taken = clinic.book(clinic.patient(), paris_day(4, 14))
    before = events(engine)
    assert_problem(clinic.try_book(blocked, paris_day(4, 10)), 409, "eligibility-blocked")
    assert_problem(clinic.try_book(clinic.patient(), paris_day(4, 14)), 409, "slot-taken")
    after = events(engine)
    assert [e for e in after if e["type"] == "session.reminder"] == [
        e for e in before if e["type"] == "session.reminder"
    ]
    assert types(engine, session_id=taken["id"]).count("session.reminder") == 2


def test_the_database_refuses_a_second_reminder_for_an_offset(
    clinic: Clinic, engine: Engine
) -> None:
    visit = clinic.book(clinic.patient(), paris_day(5, 10))
    start = start_of(visit)

    def reminder_at(session_start: datetime) -> list[dict[str, Any]]:
        return reminder_rows(
            session_id=uuid.UUID(visit["id"]),
            patient_id=uuid.UUID(visit["patient_id"]),
            plan_id=None,
            start=session_start,
            offsets_hours=[48],
            now=start - timedelta(days=4),
        )

    # The same reminder again; another time for the offset while the first is still to tell.
    for rows in (reminder_at(start), reminder_at(start + timedelta(hours=1))):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert(OUTBOX), rows)
    assert types(engine, session_id=visit["id"]).count(EventType.SESSION_REMINDER.value) == 2
