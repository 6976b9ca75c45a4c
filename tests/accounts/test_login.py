"""Logging in: tokens, failures and their pause, and what a refusal tells."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.access import credentials
from app.roles import Role
from tests.accounts.steps import TOKEN, hashing_slots, log_in, token_of
from tests.factories import TEST_PASSWORD, ApiClient, UserFactory, assert_problem


def test_a_user_logs_in_and_the_token_opens_the_api(
    anonymous: TestClient, make_user: UserFactory
) -> None:
    user = make_user(Role.RECEPTIONIST, "front.desk")
    response = log_in(anonymous, "Front.Desk")  # usernames are not case-sensitive
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    assert response.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = anonymous.get("/api/v1/auth/me", headers=headers).json()
    assert (me["kind"], me["id"], me["name"], me["role"]) == (
        "user",
        str(user),
        "front.desk",
        "receptionist",
    )
    assert "sessions:book" in me["permissions"]
    assert "sessions:complete" not in me["permissions"]
    assert anonymous.get("/api/v1/patients", headers=headers).status_code == 200


def test_no_answer_tells_whether_a_username_exists(
    anonymous: TestClient, make_user: UserFactory
) -> None:
    make_user(Role.CLINICIAN, "dr.known")
    make_user(Role.CLINICIAN, "dr.retired", active=False)
    answers = [
        log_in(anonymous, "dr.known", "wrong password"),
        log_in(anonymous, "dr.nobody", "wrong password"),
        log_in(anonymous, "dr.retired", TEST_PASSWORD),  # right password, account off
    ]
    seen = set()
    for response in answers:
        body = assert_problem(response, 401, "invalid-credentials")
        seen.add((body["detail"], response.headers["www-authenticate"]))
    assert len(seen) == 1


def test_five_failures_in_fifteen_minutes_pause_logins_for_that_username(
    anonymous: TestClient, make_user: UserFactory, engine: Engine
) -> None:
    make_user(Role.CLINICIAN, "dr.target")
    make_user(Role.CLINICIAN, "dr.bystander")
    for _ in range(5):
        assert_problem(log_in(anonymous, "dr.target", "guess"), 401, "invalid-credentials")
    paused = log_in(anonymous, "dr.target")  # even the right password now
    assert_problem(paused, 429, "too-many-login-attempts")
    assert 890 <= int(paused.headers["retry-after"]) <= 900
    assert log_in(anonymous, "dr.bystander").status_code == 200  # others are not affected
    # Unknown usernames are paused just the same (or the pause would reveal which exist).
    for _ in range(5):
        log_in(anonymous, "dr.ghost", "guess")
    assert_problem(log_in(anonymous, "dr.ghost", "guess"), 429, "too-many-login-attempts")
    # Fifteen minutes later the username may try again.
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE login_failures SET at = :then"),
            {"then": datetime.now(UTC) - timedelta(minutes=15, seconds=1)},
        )
    assert log_in(anonymous, "dr.target").status_code == 200


def test_a_successful_login_clears_earlier_failures(
    anonymous: TestClient, make_user: UserFactory
) -> None:
    make_user(Role.CLINICIAN, "dr.typo")
    for _ in range(4):
        log_in(anonymous, "dr.typo", "guess")
    assert log_in(anonymous, "dr.typo").status_code == 200
    for _ in range(4):
        log_in(anonymous, "dr.typo", "guess")
    assert log_in(anonymous, "dr.typo").status_code == 200


def test_tokens_expire_and_only_this_service_can_sign_them(
    app: FastAPI, anonymous: TestClient, make_user: UserFactory
) -> None:
    user = make_user(Role.ADMIN)
    old = credentials.issue_token(
        user_id=user,
        key=app.state.signing_key,
        now=datetime.now(UTC) - timedelta(minutes=31),
        lifetime=timedelta(minutes=30),
    )
    forged = credentials.issue_token(
        user_id=user,
        key="someone-elses-key-of-sufficient-length-0000",
        now=datetime.now(UTC),
        lifetime=timedelta(minutes=30),
    )
    for token in (old, forged, old + "x", "scl_not-a-key"):
        response = anonymous.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_problem(response, 401, "invalid-token")


def test_bad_login_forms_are_422(anonymous: TestClient) -> None:
    for form in (
        {"username": "x"},
        {"password": "y"},
        {"username": "x" * 65, "password": "y"},
        {"username": "x", "password": "y", "grant_type": "client_credentials"},
    ):
        assert_problem(anonymous.post(TOKEN, data=form), 422, "validation-error")
    assert_problem(anonymous.post(TOKEN, json={"username": "x"}), 422, "validation-error")


def test_parallel_guesses_cannot_slip_past_the_limit(
    app: FastAPI, make_user: UserFactory, engine: Engine
) -> None:
    make_user(Role.ADMIN, "dr.besieged")

    def guess(_: int) -> int:
        with ApiClient(app, raise_server_exceptions=False) as browser:
            status: int = log_in(browser, "dr.besieged", "guess").status_code
            return status

    with ThreadPoolExecutor(max_workers=12) as pool, hashing_slots(app, 12):
        statuses = Counter(pool.map(guess, range(12)))
    assert statuses == {401: 5, 429: 7}
    with engine.connect() as connection:
        counted = connection.execute(text("SELECT count(*) FROM login_failures")).scalar_one()
    assert counted == 5


def test_a_refused_credential_that_names_someone_is_in_the_audit_trail(
    client: TestClient, anonymous: TestClient, make_user: UserFactory
) -> None:
    user = make_user(Role.RECEPTIONIST, "leaving.soon")
    headers = token_of(anonymous, "leaving.soon")
    assert client.patch(f"/api/v1/users/{user}", json={"active": False}).status_code == 200
    patient = str(uuid.uuid4())
    assert_problem(
        anonymous.get(f"/api/v1/patients/{patient}", headers=headers), 401, "invalid-token"
    )
    # A forged token names nobody: nothing to record.
    assert_problem(
        anonymous.get("/api/v1/patients", headers={"Authorization": "Bearer forged"}),
        401,
        "invalid-token",
    )
    events = client.get(
        "/api/v1/audit-events", params={"actor_id": str(user), "outcome": "denied"}
    ).json()["items"]
    assert [
        (e["outcome"], e["resource_type"], e["resource_id"], e["patient_id"]) for e in events
    ] == [("denied", "patient", patient, patient)]
    assert "switched off" in events[0]["detail"]
