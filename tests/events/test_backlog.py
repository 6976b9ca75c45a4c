"""`GET /health/ready` reports what the webhook worker still has to send."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.events.receiver import receiving
from tests.events.test_delivery import WorkerClock, _drain, _subscribe, _worker
from tests.sessions.clinic import Clinic, paris_day


def test_readiness_shows_the_backlog_until_it_is_delivered(
    clinic: Clinic, anonymous: TestClient, engine: Engine
) -> None:
    assert anonymous.get("/health/ready").json() == {"status": "ok"}
    clock = WorkerClock()
    worker = _worker(engine, clock)
    answers = iter([500, 500, 500])

    with receiving(lambda number, got: next(answers, 204)) as receiver:
        _subscribe(clinic.client, receiver.url)
        clinic.book(clinic.patient(), paris_day(3, 10))
        # Three events not yet fanned out: the evaluation, the eligibility, the booking.
        ready = anonymous.get("/health/ready").json()
        assert ready["status"] == "ok"
        assert ready["outbox_backlog"] == 3
        assert 0 <= ready["oldest_undelivered_seconds"] < 60
        _drain(worker)  # each refused once: three deliveries pending
        assert anonymous.get("/health/ready").json()["outbox_backlog"] == 3
        clock.offset = timedelta(minutes=5)
        _drain(worker)
    assert len(receiver.received) == 6
    assert anonymous.get("/health/ready").json() == {"status": "ok"}
