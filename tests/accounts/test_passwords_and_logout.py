"""Passwords worth having (NIST SP 800-63B), users changing their own, logging out for good
(across processes), and tokens only for this API (`aud`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.access.credentials import TOKEN_ALGORITHM
from app.accounts.password_rules import common_passwords
from app.roles import Role
from tests.accounts.steps import log_in, token_of
from tests.factories import TEST_PASSWORD, TEST_SECRET_KEY, UserFactory, assert_problem
from tests.servers import running_server

PASSWORD = "/api/v1/auth/password"
LOGOUT = "/api/v1/auth/logout"

WEAK = [
    " " * 12,
    "a" * 12,
    "password1234",
    "Password1234!",
    "PASSWORD1234",
    "abababababab",
    "123123123123",
    "qwerty123456",
    "iloveyou2024!",
    "sclerosched2024",
]


def test_the_shipped_list_holds_thousands_of_common_passwords() -> None:
    common = common_passwords()
    assert len(common) >= 5000
    assert {"password", "123456", "qwerty", "iloveyou", "dragon"} <= common


@pytest.mark.parametrize("weak", WEAK)
def test_weak_passwords_are_refused_for_a_new_account(client: TestClient, weak: str) -> None:
    response = client.post(
        "/api/v1/users", json={"username": "n.weak", "password": weak, "role": "clinician"}
    )
    assert_problem(response, 422, "weak-password")


def test_the_username_is_no_password_and_a_good_one_passes(client: TestClient) -> None:
    for password in ("m.durand.2024", "M.Durand2024!!"):
        response = client.post(
            "/api/v1/users",
            json={"username": "m.durand", "password": password, "role": "clinician"},
        )
        body = assert_problem(response, 422, "weak-password")
        assert "username" in body["detail"]
    response = client.post(
        "/api/v1/users",
        json={"username": "m.durand", "password": "violet kettle on the stairs", "role": "admin"},
    )
    assert response.status_code == 201


def test_an_admin_reset_to_a_weak_password_is_refused(
    client: TestClient, make_user: UserFactory
) -> None:
    user = make_user(Role.RECEPTIONIST, "n.reset")
    response = client.patch(f"/api/v1/users/{user}", json={"password": "aaaaaaaaaaaa"})
    assert_problem(response, 422, "weak-password")


def test_a_user_changes_their_own_password_and_every_older_token_ends(
    client: TestClient, anonymous: TestClient, make_user: UserFactory
) -> None:
    user = make_user(Role.RECEPTIONIST, "n.change")
    phone = token_of(anonymous, "n.change")
    desk = token_of(anonymous, "n.change")
    new = "plum tree by the north window"
    wrong = anonymous.post(
        PASSWORD, json={"current_password": "not it", "new_password": new}, headers=desk
    )
    assert_problem(wrong, 403, "wrong-password")
    weak = anonymous.post(
        PASSWORD,
        json={"current_password": TEST_PASSWORD, "new_password": "password1234"},
        headers=desk,
    )
    assert_problem(weak, 422, "weak-password")
    changed = anonymous.post(
        PASSWORD, json={"current_password": TEST_PASSWORD, "new_password": new}, headers=desk
    )
    assert changed.status_code == 200, changed.text
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert anonymous.get("/api/v1/auth/me", headers=fresh).json()["id"] == str(user)
    for ended in (phone, desk):
        assert_problem(anonymous.get("/api/v1/auth/me", headers=ended), 401, "invalid-token")
    assert_problem(log_in(anonymous, "n.change"), 401, "invalid-credentials")
    assert log_in(anonymous, "n.change", new).status_code == 200
    events = client.get("/api/v1/audit-events", params={"actor_id": str(user)}).json()["items"]
    actions = {(e["action"], e["outcome"]) for e in events}
    assert {("change-password", "success"), ("change-password", "denied")} <= actions


def test_wrong_current_passwords_count_as_failed_logins(
    anonymous: TestClient, make_user: UserFactory
) -> None:
    make_user(Role.CLINICIAN, "n.stolen")
    stolen = token_of(anonymous, "n.stolen")
    guess = {"current_password": "guess", "new_password": "plum tree by the north window"}
    for _ in range(5):
        assert_problem(anonymous.post(PASSWORD, json=guess, headers=stolen), 403, "wrong-password")
    assert_problem(
        anonymous.post(PASSWORD, json=guess, headers=stolen), 429, "too-many-login-attempts"
    )
    assert_problem(log_in(anonymous, "n.stolen"), 429, "too-many-login-attempts")


def test_logging_out_ends_that_token_only(
    anonymous: TestClient, make_user: UserFactory, engine: Engine
) -> None:
    make_user(Role.CLINICIAN, "n.leaving")
    # A logged-out token long expired is forgotten when someone next logs out.
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO revoked_tokens (token_id, expires_at) VALUES ('old', :at)"),
            {"at": datetime.now(UTC) - timedelta(days=1)},
        )
    kept = token_of(anonymous, "n.leaving")
    ended = token_of(anonymous, "n.leaving")
    assert anonymous.post(LOGOUT, headers=ended).status_code == 204
    assert_problem(anonymous.get("/api/v1/auth/me", headers=ended), 401, "invalid-token")
    assert_problem(anonymous.post(LOGOUT, headers=ended), 401, "invalid-token")
    assert anonymous.get("/api/v1/auth/me", headers=kept).status_code == 200
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT token_id, expires_at FROM revoked_tokens")).all()
    assert len(rows) == 1
    assert (
        rows[0][0]
        == jwt.decode(ended["Authorization"].split()[1], options={"verify_signature": False})["jti"]
    )


def test_an_api_key_is_not_logged_out(client: TestClient, anonymous: TestClient) -> None:
    key = client.post("/api/v1/api-keys", json={"name": "Lab"}).json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    assert_problem(anonymous.post(LOGOUT, headers=headers), 400, "not-a-login-token")
    assert anonymous.get("/api/v1/auth/me", headers=headers).status_code == 200


def test_a_logged_out_token_is_refused_by_another_server_process(
    database_url: str, anonymous: TestClient, make_user: UserFactory
) -> None:
    make_user(Role.RECEPTIONIST, "n.elsewhere")
    with (
        running_server(database_url, secret_key=TEST_SECRET_KEY) as other,
        httpx.Client(base_url=other) as http,
    ):
        token = log_in(http, "n.elsewhere")  # type: ignore[arg-type]
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert http.get("/api/v1/auth/me", headers=headers).status_code == 200
        assert anonymous.post(LOGOUT, headers=headers).status_code == 204  # this process
        assert_problem(http.get("/api/v1/auth/me", headers=headers), 401, "invalid-token")


def test_a_token_must_be_for_this_api(
    app: FastAPI, anonymous: TestClient, make_user: UserFactory
) -> None:
    user = make_user(Role.ADMIN)
    now = datetime.now(UTC)
    base = {
        "iss": "sclerosched",
        "sub": str(user),
        "iat": now.timestamp(),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": uuid.uuid4().hex,
        "aud": "sclerosched",
    }
    key = app.state.signing_key

    def me(claims: dict[str, object]) -> int:
        token = jwt.encode(claims, key, algorithm=TOKEN_ALGORITHM)
        response = anonymous.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        status: int = response.status_code
        return status

    assert me(base) == 200
    without_audience = {k: v for k, v in base.items() if k != "aud"}
    without_id = {k: v for k, v in base.items() if k != "jti"}
    for claims in (without_audience, {**base, "aud": "another-app"}, without_id):
        assert me(claims) == 401
