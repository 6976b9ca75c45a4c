"""Real worker processes: one killed mid-delivery loses nothing (the delivery is sent again,
same `webhook-id`), and two on PostgreSQL share 1,000 events with none sent by both."""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from app.events.outbox import OUTBOX, event_row
from app.vocabulary import EventType
from tests.events.outbox import events
from tests.events.receiver import Received, receiving
from tests.events.test_delivery import _subscribe
from tests.events.workers import running_worker, wait_until_delivered
from tests.sessions.clinic import Clinic, paris_day


def test_a_worker_killed_mid_delivery_loses_nothing(
    clinic: Clinic, engine: Engine, database_url: str
) -> None:
    release = threading.Event()

    def first_hangs(number: int, got: Received) -> int:
        if number == 0:
            release.wait(30)  # the worker dies waiting for this answer
        return 204

    with receiving(first_hangs) as receiver:
        _subscribe(clinic.client, receiver.url)
        clinic.book(clinic.patient(), paris_day(3, 10))
        # Its reminders are not due yet: not told.
        written = {str(e["id"]) for e in events(engine) if e["type"] != "session.reminder"}
        assert len(written) == 3
        with running_worker(database_url) as first:
            assert receiver.wait_for(1, timeout=30), first.output()
            first.kill()
        with running_worker(database_url) as second:
            wait_until_delivered(engine, 3, timeout=60)
            output = second.output() + first.output()
        release.set()
    ids = receiver.ids()
    assert set(ids) == written  # nothing lost
    assert ids.count(ids[0]) == 2  # the one in flight sent again, same webhook-id
    assert len(ids) == 4
    # The workers' logs name ids only.
    assert "Claire" not in output
    assert "Dubois" not in output
    assert "webhook delivery" in output


def test_two_workers_share_a_thousand_events_none_sent_twice(
    client: TestClient, engine: Engine, database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several workers share the work on PostgreSQL only (SQLite: one worker)")
    sessions = [uuid.uuid4() for _ in range(100)]
    with receiving() as receiver:
        _subscribe(client, receiver.url)
        # Written after the subscription: a subscriber hears of what happens from then on.
        rows = [
            event_row(EventType.SESSION_RESCHEDULED, at=datetime.now(UTC), session_id=session)
            for _ in range(10)
            for session in sessions
        ]
        with running_worker(database_url) as one, running_worker(database_url) as two:
            one.wait_until_running()
            two.wait_until_running()
            with engine.begin() as connection:
                connection.execute(insert(OUTBOX), rows)
            wait_until_delivered(engine, 1000, timeout=120)
            logs = [one.output(), two.output()]
    ids = receiver.ids()
    assert len(ids) == 1000
    assert set(ids) == {str(row["id"]) for row in rows}  # each once, none by both
    # Both did their share.
    assert all(log.count("-> delivered") > 0 for log in logs), logs
    # One session's events arrived in the order written.
    arrived: dict[str, list[str]] = defaultdict(list)
    session_of = {str(row["id"]): str(row["session_id"]) for row in rows}
    for message in ids:
        arrived[session_of[message]].append(message)
    for session in sessions:
        written = [str(row["id"]) for row in rows if row["session_id"] == session]
        assert arrived[str(session)] == written
