"""What an outside run found in webhooks and feeds, each held here: a URL no HTTP client can send
to is refused when subscribing and, stored anyway, fails alone without stalling the others; IPv6
forms that carry a private IPv4 address are not public; a subscriber hears only of what happens
after it subscribed; deliveries page; a feed token stays out of the logs on near-miss paths."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from app.events.targets import WebhookTargetRefused, check_target
from app.events.worker import Worker
from app.logging import logged_path
from app.models import WebhookSubscription
from app.policy import WebhookRules
from tests.events.receiver import receiving
from tests.factories import assert_problem
from tests.sessions.clinic import DOSE_20_MG, Clinic, ok, paris_day


def _worker(engine: Engine) -> Worker:
    rules = WebhookRules(public_targets_only=False, timeout=timedelta(seconds=2))
    return Worker(engine=engine, rules=rules, clock=lambda: datetime.now(UTC))


def _drain(worker: Worker) -> None:
    for _ in range(50):
        if not worker.work_once():
            return
    raise AssertionError("the worker never ran out of work")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9911/a\r\nX-Injected: 1",
        "http://127.0.0.1:9911/\x00",
        "http://" + "".join(chr(0xFF00 + ord(c) - 0x20) for c in "localhost") + ":9911/a",
        "http://127.0.0.1:9911/a b",
    ],
)
def test_a_url_no_client_can_send_to_is_refused(client: TestClient, url: str) -> None:
    refused = client.post("/api/v1/webhooks", json={"url": url})
    assert_problem(refused, 422, "webhook-target-refused")
    assert ok(client.get("/api/v1/webhooks"))["items"] == []


def test_ipv6_forms_that_carry_a_private_ipv4_address_are_refused() -> None:
    carried = [
        "64:ff9b::7f00:1",  # NAT64, 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64, 169.254.169.254
        "64:ff9b:1::a00:5",  # local-use NAT64, 10.0.0.5
        "2002:7f00:1::",  # 6to4, 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:0:7f00:1",  # IPv4-translated
        "192.0.0.8",  # IETF protocol assignments
    ]
    for address in carried:
        with pytest.raises(WebhookTargetRefused):
            check_target(
                "https://h.example.org/h", public_only=True, resolver=lambda h, p, a=address: [a]
            )
    # A public IPv4 address through NAT64 or 6to4 is public.
    for address in ("64:ff9b::808:808", "2002:808:808::1", "2001:4860:4860::8888"):
        check_target(
            "https://h.example.org/h", public_only=True, resolver=lambda h, p, a=address: [a]
        )


def test_a_bad_stored_url_fails_alone_and_the_others_are_delivered(
    clinic: Clinic, engine: Engine
) -> None:
    with receiving() as receiver:
        good = ok(clinic.client.post("/api/v1/webhooks", json={"url": receiver.url}))
        # Stored before the checks refused it (or by hand): no client can send to it.
        with engine.begin() as connection:
            connection.execute(
                insert(WebhookSubscription.__table__),
                {
                    "id": uuid.uuid4(),
                    "url": "http://127.0.0.1:1/a\r\nX: 1",
                    "event_types": [],
                    "secret": "whsec_" + "A" * 32,
                    "active": True,
                    "created_at": datetime.now(UTC) - timedelta(minutes=1),
                    "updated_at": datetime.now(UTC),
                    "version": 1,
                },
            )
        patient = clinic.patient()
        clinic.book(patient, paris_day(3, 10))
        _drain(_worker(engine))
        types = [json.loads(r.body)["type"] for r in receiver.received]
        assert "session.booked" in types
    deliveries = ok(clinic.client.get(f"/api/v1/webhooks/{good['id']}/deliveries"))["items"]
    assert {d["status"] for d in deliveries} == {"delivered"}


def test_a_subscriber_hears_only_of_what_happens_after_it_subscribed(
    clinic: Clinic, engine: Engine
) -> None:
    before = clinic.patient()  # evaluation.recorded, eligibility.changed: before subscribing
    with receiving() as receiver:
        ok(clinic.client.post("/api/v1/webhooks", json={"url": receiver.url}))
        clinic.book(before, paris_day(3, 10))
        _drain(_worker(engine))
        assert [json.loads(r.body)["type"] for r in receiver.received] == ["session.booked"]


def test_deliveries_page_with_a_cursor(clinic: Clinic, engine: Engine) -> None:
    with receiving() as receiver:
        hook = ok(clinic.client.post("/api/v1/webhooks", json={"url": receiver.url}))
        patient = clinic.patient()
        clinic.book(patient, paris_day(3, 10))
        clinic.book(clinic.patient(), paris_day(5, 10))
        _drain(_worker(engine))
    url = f"/api/v1/webhooks/{hook['id']}/deliveries"
    seen: list[str] = []
    page: dict[str, Any] = ok(clinic.client.get(url, params={"limit": 1}))
    while True:
        seen += [d["id"] for d in page["items"]]
        if page["next_cursor"] is None:
            break
        page = ok(clinic.client.get(url, params={"limit": 1, "cursor": page["next_cursor"]}))
    assert len(seen) == len(set(seen)) >= 2


def test_a_feed_token_stays_out_of_the_logs_on_near_miss_paths() -> None:
    token = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"
    for path in (
        f"/api/v1/calendar/{token}.ics",
        f"//api/v1/calendar/{token}.ics",
        f"/api/v1/Calendar/{token}.ics",
        f"/api/v1/{token}.ics",
        f"/api/v1/calendar/%2e%2e/calendar/{token}.ics",
    ):
        assert token not in logged_path(path), path
    assert logged_path("/api/v1/patients/7b0c1f7e-0f64-4a55-9a54-5b4f0d2b3c1d") == (
        "/api/v1/patients/7b0c1f7e-0f64-4a55-9a54-5b4f0d2b3c1d"
    )


def test_a_plan_completed_arrives_after_the_events_of_the_session_that_completed_it(
    clinic: Clinic, engine: Engine
) -> None:
    with receiving() as receiver:
        ok(clinic.client.post("/api/v1/webhooks", json={"url": receiver.url}))
        patient = clinic.patient()
        plan_url = f"/api/v1/patients/{patient}/treatment-plans"
        plan = ok(clinic.client.post(plan_url, json={"planned_sessions": 1}))
        visit = clinic.book(patient, paris_day(3, 10), plan_id=plan["id"])
        clinic.treat(ok(clinic.client.get(f"/api/v1/sessions/{visit['id']}")), **DOSE_20_MG)
        _drain(_worker(engine))
        types = [json.loads(r.body)["type"] for r in receiver.received]
    assert types.index("plan.completed") > types.index("session.completed")
    assert types.index("session.completed") > types.index("session.checked-in")
