"""Who may read a calendar feed: whoever holds its live URL, and nobody once it is rotated or
revoked; every read on record with the feed as its actor; the token kept out of the database
(a hash) and out of the logs."""

from __future__ import annotations

import hashlib
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from app.models import CalendarFeed
from tests.calendar_feeds.feeds import book, events, fetch, issue, path_of, uid
from tests.factories import assert_problem, next_weekday_at, within_one_minute


def _feeds(engine: Engine, practitioner_id: str) -> list[Any]:
    feeds = CalendarFeed.__table__
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(feeds.c.id, feeds.c.token_hash, feeds.c.revoked_at)
                .where(feeds.c.practitioner_id == uuid.UUID(practitioner_id))
                .order_by(feeds.c.created_at)
            )
        )


def test_rotating_and_revoking_end_the_old_url_at_once(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    _, session = book(client, doctor["id"], next_weekday_at(1, 9))
    first = issue(client, doctor["id"])
    assert uid(session) in events(fetch(anonymous, first))
    second = issue(client, doctor["id"])
    assert second["token"] != first["token"]
    assert_problem(fetch(anonymous, first), 404, "not-found")
    assert uid(session) in events(fetch(anonymous, second))
    # Only hashes are kept; the old one marked revoked.
    stored = _feeds(engine, doctor["id"])
    assert [row.token_hash for row in stored] == [
        hashlib.sha256(issued["token"].encode()).hexdigest() for issued in (first, second)
    ]
    assert stored[0].revoked_at is not None
    assert stored[1].revoked_at is None
    revoked = client.delete(f"/api/v1/practitioners/{doctor['id']}/calendar-feed")
    assert revoked.status_code == 204
    for gone in (first, second):
        assert_problem(fetch(anonymous, gone), 404, "not-found")
    again = client.delete(f"/api/v1/practitioners/{doctor['id']}/calendar-feed")
    assert again.status_code == 204  # harmless
    assert uid(session) in events(fetch(anonymous, issue(client, doctor["id"])))


def test_rotations_at_once_leave_one_live_feed(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    url = f"/api/v1/practitioners/{doctor['id']}/calendar-feed"
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: client.post(url), range(6)))
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    live = [row for row in _feeds(engine, doctor["id"]) if row.revoked_at is None]
    assert len(live) == 1
    working = [a.json() for a in answers if fetch(anonymous, a.json()).status_code == 200]
    assert len(working) == 1
    assert hashlib.sha256(working[0]["token"].encode()).hexdigest() == live[0].token_hash


def test_each_read_is_audited_with_the_feed_as_actor_and_the_patients_it_showed(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    issued = issue(client, doctor["id"])
    assert fetch(anonymous, issued).status_code == 200  # empty: still a read on record
    first_patient, first = book(client, doctor["id"], next_weekday_at(1, 9))
    second_patient, second = book(client, doctor["id"], next_weekday_at(1, 10))
    tag = fetch(anonymous, issued).headers["etag"]
    assert fetch(anonymous, issued, **{"If-None-Match": tag}).status_code == 304
    (feed,) = _feeds(engine, doctor["id"])
    trail = client.get("/api/v1/audit-events", params={"actor_id": str(feed.id)})
    assert trail.status_code == 200, trail.text
    reads = sorted(trail.json()["items"], key=lambda e: e["at"])
    assert [e["action"] for e in reads] == ["read-calendar-feed", "list", "list"]
    for event in reads:
        assert event["actor_kind"] == "calendar-feed"
        assert event["actor_name"] == f"calendar feed of {doctor['name']}"
        assert event["role"] is None
        assert event["outcome"] == "success"
    assert (reads[0]["resource_type"], reads[0]["resource_id"]) == ("practitioner", doctor["id"])
    for listed in reads[1:]:
        assert listed["resource_type"] == "session"
        assert set(listed["resource_ids"]) == {first["id"], second["id"]}
        assert set(listed["patient_ids"]) == {first_patient["id"], second_patient["id"]}
    # The list is found by each patient it showed; issuing and revoking are on record too.
    by_patient = client.get("/api/v1/audit-events", params={"patient_id": first_patient["id"]})
    assert any(e["actor_kind"] == "calendar-feed" for e in by_patient.json()["items"])
    client.delete(f"/api/v1/practitioners/{doctor['id']}/calendar-feed")
    about = client.get(
        "/api/v1/audit-events",
        params={"resource_type": "practitioner", "resource_id": doctor["id"]},
    )
    actions = {e["action"] for e in about.json()["items"] if e["actor_kind"] == "user"}
    assert {"issue-calendar-feed", "revoke-calendar-feed"} <= actions


def test_garbage_tokens_of_any_length_are_a_plain_404(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    old = issue(client, doctor["id"])
    client.delete(f"/api/v1/practitioners/{doctor['id']}/calendar-feed")
    revoked = assert_problem(fetch(anonymous, old), 404, "not-found")
    issued = issue(client, doctor["id"])
    token = issued["token"]
    before = _count_events(engine)
    for garbage in (
        "x",
        "-",
        token[:-1],
        token + "A",
        token.swapcase(),
        "A" * 43,
        "A" * 5000,
        "%00" * 43,
        "%FF%FE",
        "%E2%80%AE" + token[3:],
        "'%20OR%201=1--",
        "é" * 43,
    ):
        answer = anonymous.get(f"/api/v1/calendar/{garbage}.ics")
        # The same answer as a revoked token's: nothing tells a near miss from a far one.
        assert assert_problem(answer, 404, "not-found")["detail"] == revoked["detail"]
    assert_problem(anonymous.get(f"/api/v1/calendar/{'A' * 9000}.ics"), 414, "uri-too-long")
    assert_problem(anonymous.get("/api/v1/calendar/.ics"), 404, "not-found")
    assert_problem(anonymous.get("/api/v1/calendar/..%2F..%2Fhealth.ics"), 404, "not-found")
    assert_problem(anonymous.get(f"/api/v1/calendar/{token}"), 404, "not-found")
    # Another credential does not help, nor hurt.
    assert_problem(client.get(f"/api/v1/calendar/{'B' * 43}.ics"), 404, "not-found")
    assert client.get(path_of(issued)).status_code == 200
    assert _count_events(engine) == before + 1  # the one good read; refusals name nobody


def test_wrong_methods_and_bad_practitioners_are_problems(
    client: TestClient, anonymous: TestClient, doctor: dict[str, Any]
) -> None:
    issued = issue(client, doctor["id"])
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        answer = anonymous.request(method, path_of(issued))
        assert_problem(answer, 405, "method-not-allowed")
        assert "GET" in answer.headers["allow"]
    head = anonymous.head(path_of(issued))
    assert head.status_code == 200
    assert head.content == b""
    feed = f"/api/v1/practitioners/{doctor['id']}/calendar-feed"
    for method in ("GET", "PUT", "PATCH"):
        assert_problem(client.request(method, feed), 405, "method-not-allowed")
    for method in ("POST", "DELETE"):
        unknown = client.request(method, f"/api/v1/practitioners/{uuid.uuid4()}/calendar-feed")
        assert_problem(unknown, 404, "not-found")
        for bad in ("not-a-uuid", "1", "%00"):
            answer = client.request(method, f"/api/v1/practitioners/{bad}/calendar-feed")
            assert_problem(answer, 422, "validation-error")
    # The token is shown once: its answer is never kept for a retry.
    keyed = client.post(feed, headers={"Idempotency-Key": "feed-1"})
    assert_problem(keyed, 400, "idempotency-key-not-taken")
    assert fetch(anonymous, issued).status_code == 200  # nothing rotated


def test_the_token_stays_out_of_the_logs(
    client: TestClient,
    anonymous: TestClient,
    doctor: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued = issue(client, doctor["id"])
    with caplog.at_level(logging.INFO, logger="sclerosched.access"):
        assert fetch(anonymous, issued).status_code == 200
        anonymous.get(f"/api/v1/calendar/{issued['token']}x.ics")
    lines = [r.getMessage() for r in caplog.records if r.name == "sclerosched.access"]
    assert len(lines) == 2
    assert all("GET /api/v1/calendar/<token> " in line for line in lines), lines
    assert issued["token"] not in caplog.text


def test_a_feed_is_rate_limited_as_a_credential_is(
    app: FastAPI, client: TestClient, anonymous: TestClient, doctor: dict[str, Any]
) -> None:
    issued, other = issue(client, doctor["id"]), None
    within_one_minute()
    limit = app.state.requests_per_minute
    app.state.requests_per_minute = 2
    try:
        answers = [fetch(anonymous, issued) for _ in range(3)]
        other = fetch(anonymous, issue_again := issue(client, doctor["id"]))
    finally:
        app.state.requests_per_minute = limit
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_problem(answers[2], 429, "too-many-requests")
    assert int(answers[2].headers["retry-after"]) >= 1
    assert other.status_code == 200, issue_again  # a new token counts apart


def _count_events(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one())
