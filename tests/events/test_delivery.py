"""The worker delivers to a real receiver on loopback: every event type once, signed so that
`standardwebhooks` verifies it; one session's events in order; retries with growing waits, then
`failed`; and a delivery sent again on request."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from app.events.worker import Worker
from app.policy import WebhookRules
from app.vocabulary import EventType
from tests.events.outbox import events
from tests.events.receiver import Received, receiving
from tests.factories import assert_problem
from tests.sessions.clinic import DOSE_20_MG, Clinic, ok, paris_day


class WorkerClock:
    """The worker's clock: the real time, moved forward by the test."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _worker(engine: Engine, clock: WorkerClock | None = None) -> Worker:
    rules = WebhookRules(public_targets_only=False, timeout=timedelta(seconds=2))
    return Worker(engine=engine, rules=rules, clock=clock or WorkerClock())


def _drain(worker: Worker, rounds: int = 50) -> None:
    """Work until a round finds nothing to do."""
    for _ in range(rounds):
        if not worker.work_once():
            return
    raise AssertionError("the worker never ran out of work")


def _subscribe(client: TestClient, url: str, *types: str) -> dict[str, Any]:
    result: dict[str, Any] = ok(
        client.post("/api/v1/webhooks", json={"url": url, "event_types": list(types)})
    )
    return result


def _every_kind_of_event(clinic: Clinic) -> None:
    """One of each event type, through the API."""
    patient = clinic.patient()  # evaluation.recorded, eligibility.changed
    plan_url = f"/api/v1/patients/{patient}/treatment-plans"
    plan = ok(clinic.client.post(plan_url, json={"planned_sessions": 1}))
    visit = clinic.book(patient, paris_day(3, 10), plan_id=plan["id"])
    url = f"/api/v1/sessions/{visit['id']}"
    ok(clinic.client.post(f"{url}/reschedule", json={"start": paris_day(4, 10).isoformat()}))
    clinic.treat(ok(clinic.client.get(url)), **DOSE_20_MG)  # checked in, completed, plan
    ok(clinic.client.post(f"{url}/entered-in-error", json={"reason": "wrong leg"}))
    other = clinic.patient()
    cancelled = clinic.book(other, paris_day(40, 10))
    ok(clinic.client.post(f"/api/v1/sessions/{cancelled['id']}/cancel", json={"reason": "ill"}))
    missed = clinic.book(other, paris_day(60, 10))
    body = {"patient_id": other, "practitioner_id": clinic.doctor["id"]}
    ok(clinic.client.post("/api/v1/holds", json={**body, "start": paris_day(80, 9).isoformat()}))
    clinic.clock.travel_to(datetime.fromisoformat(missed["start"]) + timedelta(hours=1))
    ok(clinic.client.post(f"/api/v1/sessions/{missed['id']}/no-show"))
    _waitlist_events(clinic, paris_day(70, 10))
    clinic.book(other, paris_day(100, 10))  # its reminders, told once the worker is past them


def _waitlist_events(clinic: Clinic, slot: datetime) -> None:
    """A slot freed and offered round the waitlist: declined, expired, withdrawn, accepted."""
    window = {"earliest": (slot - timedelta(days=2)).date().isoformat()}
    window["latest"] = (slot + timedelta(days=2)).date().isoformat()
    entries = [
        ok(clinic.client.post("/api/v1/waitlist", json={"patient_id": clinic.patient(), **window}))
        for _ in range(4)
    ]
    freed = clinic.book(clinic.patient(), slot)
    ok(clinic.client.post(f"/api/v1/sessions/{freed['id']}/cancel", json={"reason": "ill"}))

    def standing() -> dict[str, Any]:
        (offer,) = ok(clinic.client.get("/api/v1/waitlist/offers?status=offered"))["items"]
        return dict(offer)

    ok(clinic.client.post(f"/api/v1/waitlist/offers/{standing()['id']}/decline"))
    clinic.clock.travel_to(datetime.fromisoformat(standing()["expires_at"]))  # expires
    removed = standing()["entry_id"]
    ok(clinic.client.delete(f"/api/v1/waitlist/{removed}", params={"reason": "other"}))
    ok(clinic.client.post(f"/api/v1/waitlist/offers/{standing()['id']}/accept"))
    assert removed in {entry["id"] for entry in entries}


def test_every_event_type_is_delivered_once_and_signed(clinic: Clinic, engine: Engine) -> None:
    with receiving() as receiver:
        everything = _subscribe(clinic.client, receiver.url)
        some = _subscribe(clinic.client, receiver.url, "session.booked", "plan.completed")
        _every_kind_of_event(clinic)
        written = events(engine)
        assert {e["type"] for e in written} == {t.value for t in EventType}
        past_every_reminder = WorkerClock()
        past_every_reminder.offset = timedelta(days=101)
        _drain(_worker(engine, past_every_reminder))
    everyone = Webhook(everything["secret"])
    for_some = Webhook(some["secret"])
    to_all: list[dict[str, Any]] = []
    to_some: list[dict[str, Any]] = []
    for got in receiver.received:
        try:
            to_all.append(everyone.verify(got.body, got.headers))
        except Exception:
            to_some.append(for_some.verify(got.body, got.headers))
    # Each event once to the subscription of every type; one session's in the order written.
    assert sorted(m["id"] for m in to_all) == sorted(str(e["id"]) for e in written)
    assert len(to_all) == len(written)
    for session_id in {e["session_id"] for e in written if e["session_id"]}:
        told = [m["type"] for m in to_all if m["data"].get("session_id") == session_id]
        assert told == [e["type"] for e in written if e["session_id"] == session_id]
    assert sorted(m["type"] for m in to_some) == sorted(
        e["type"] for e in written if e["type"] in {"session.booked", "plan.completed"}
    )
    first = written[0]
    (told_first,) = [m for m in to_all if m["id"] == str(first["id"])]
    assert told_first == {
        "id": str(first["id"]),
        "type": "evaluation.recorded",
        "timestamp": first["occurred_at"].isoformat(),
        "data": {"patient_id": first["patient_id"], "evaluation_id": first["evaluation_id"]},
    }
    # Thin: ids only, never a name.
    assert all("Claire" not in got.body.decode() for got in receiver.received)
    page = ok(clinic.client.get(f"/api/v1/webhooks/{everything['id']}/deliveries"))
    assert len(page["items"]) == len(written)
    assert {d["status"] for d in page["items"]} == {"delivered"}
    assert all(len(d["attempts"]) == 1 for d in page["items"])
    assert {d["attempts"][0]["status_code"] for d in page["items"]} == {204}


def test_one_sessions_events_wait_for_the_one_before(clinic: Clinic, engine: Engine) -> None:
    def first_refused(number: int, got: Received) -> int:
        return 500 if number == 0 else 204

    clock = WorkerClock()
    worker = _worker(engine, clock)
    with receiving(first_refused) as receiver:
        _subscribe(clinic.client, receiver.url, "session.booked", "session.cancelled")
        visit = clinic.book(clinic.patient(), paris_day(3, 10))
        ok(clinic.client.post(f"/api/v1/sessions/{visit['id']}/cancel", json={"reason": "x"}))
        _drain(worker)
        # Refused once: the booking waits for its retry, and the cancellation behind it.
        assert [json.loads(r.body)["type"] for r in receiver.received] == ["session.booked"]
        clock.offset = timedelta(minutes=5)
        _drain(worker)
    assert [json.loads(r.body)["type"] for r in receiver.received] == [
        "session.booked",
        "session.booked",
        "session.cancelled",
    ]
    assert receiver.received[0].webhook_id == receiver.received[1].webhook_id


def test_a_failing_receiver_gets_growing_waits_then_failed(clinic: Clinic, engine: Engine) -> None:
    clock = WorkerClock()
    worker = _worker(engine, clock)
    with receiving(lambda number, got: 500) as receiver:
        webhook = _subscribe(clinic.client, receiver.url, "session.booked")
        clinic.book(clinic.patient(), paris_day(3, 10))
        deliveries = f"/api/v1/webhooks/{webhook['id']}/deliveries"
        waits: list[timedelta] = []
        while True:
            _drain(worker)
            (delivery,) = ok(clinic.client.get(deliveries))["items"]
            if delivery["status"] != "pending":
                break
            due = datetime.fromisoformat(delivery["next_attempt_at"])
            waits.append(due - clock())
            clock.offset += due - clock() + timedelta(seconds=1)  # to when it is due
    assert delivery["status"] == "failed"
    assert len(receiver.received) == len(delivery["attempts"]) > 10
    assert len(set(receiver.ids())) == 1  # every try the same message
    assert {a["status_code"] for a in delivery["attempts"]} == {500}
    # Doubling (with jitter) up to an hour, then about an hour each, for 24 hours.
    growing = waits[: waits.index(max(waits[:10])) + 1]
    assert all(b > a for a, b in itertools.pairwise(growing)), waits
    assert max(waits) <= timedelta(hours=1.25)
    assert clock() - datetime.fromisoformat(delivery["created_at"]) > timedelta(hours=22)
    # Sent again on request: one more try, delivered this time.
    assert_problem(clinic.client.post(f"{deliveries}/{webhook['id']}/retry"), 404, "not-found")
    with receiving() as fixed:
        ok(clinic.client.patch(f"/api/v1/webhooks/{webhook['id']}", json={"url": fixed.url}))
        retried = clinic.client.post(f"{deliveries}/{delivery['id']}/retry")
        assert retried.status_code == 202, retried.text
        assert retried.json()["status"] == "pending"
        assert_problem(
            clinic.client.post(f"{deliveries}/{delivery['id']}/retry"), 409, "delivery-pending"
        )
        clock.offset = timedelta(0)
        _drain(worker)
    assert fixed.ids() == [receiver.ids()[0]]
    (delivery,) = ok(clinic.client.get(deliveries))["items"]
    assert delivery["status"] == "delivered"
