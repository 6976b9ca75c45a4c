"""Logging in cannot be turned against the server: refusals during a pause are counted, not
each written to the audit trail; one client address guessing many usernames is paused; proxy
headers are believed only from a trusted proxy; at most so many passwords are hashed at once;
Argon2id runs with the clinic's parameters, and older hashes are renewed on login."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.config import Settings
from app.main import create_app
from app.policy import ClinicPolicy
from app.roles import Role
from tests.accounts.steps import hashing_slots, log_in
from tests.factories import TEST_SECRET_KEY, ApiClient, UserFactory, assert_problem, dispose


def _login_events(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT outcome, detail FROM audit_events WHERE action = 'log-in' ORDER BY id")
        )
        return [(str(outcome), str(detail)) for outcome, detail in rows]


def test_refusals_during_a_pause_are_counted_not_each_audited(
    anonymous: TestClient, make_user: UserFactory, engine: Engine
) -> None:
    make_user(Role.CLINICIAN, "dr.flooded")
    for _ in range(5):
        assert_problem(log_in(anonymous, "dr.flooded", "guess"), 401, "invalid-credentials")
    for _ in range(100):
        assert_problem(log_in(anonymous, "dr.flooded", "guess"), 429, "too-many-login-attempts")
    events = _login_events(engine)
    failures = [detail for _, detail in events if detail.startswith("invalid-credentials")]
    refusals = [detail for _, detail in events if detail.startswith("too-many-login-attempts")]
    assert len(failures) == 5
    assert all(detail == "invalid-credentials from testclient" for detail in failures)
    # The first refusal of the pause, then the 10th and the 100th: the count, not 100 rows.
    assert [d.split(": ")[1].split(" refused")[0] for d in refusals] == ["1", "10", "100"]
    assert "for username:dr.flooded since" in refusals[-1]
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM login_failures")) == 5


def test_random_usernames_from_one_address_are_paused(app: FastAPI, make_user: UserFactory) -> None:
    make_user(Role.ADMIN, "dr.admin")
    attacker = ApiClient(app, raise_server_exceptions=False, client=("198.51.100.7", 4000))
    for _ in range(30):
        name = f"guess-{uuid.uuid4().hex[:8]}"
        assert_problem(log_in(attacker, name, "guess"), 401, "invalid-credentials")
    paused = log_in(attacker, f"guess-{uuid.uuid4().hex[:8]}", "guess")
    body = assert_problem(paused, 429, "too-many-login-attempts")
    assert "this address" in body["detail"]
    assert 890 <= int(paused.headers["retry-after"]) <= 900
    # Its claims about where the request came from are not believed (no trusted proxy).
    spoofed = {"X-Forwarded-For": "203.0.113.99"}
    assert_problem(
        attacker.post(
            "/api/v1/auth/token", data={"username": "dr.admin", "password": "x"}, headers=spoofed
        ),
        429,
        "too-many-login-attempts",
    )
    # Another address logs in as usual.
    desk = ApiClient(app, raise_server_exceptions=False, client=("192.0.2.10", 4000))
    assert log_in(desk, "dr.admin").status_code == 200


@pytest.fixture
def behind_a_proxy(database_url: str) -> Iterator[FastAPI]:
    """The API behind a reverse proxy at 10.0.0.5, which it trusts; 3 failures an address."""
    settings = Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        trusted_proxies=["10.0.0.0/24"],
        login_max_failures_per_address=3,
    )
    app = create_app(settings)
    yield app
    dispose(app)


def test_the_client_address_comes_from_a_trusted_proxy_only(
    behind_a_proxy: FastAPI, make_user: UserFactory
) -> None:
    make_user(Role.RECEPTIONIST, "front.desk")
    proxy = ApiClient(behind_a_proxy, raise_server_exceptions=False, client=("10.0.0.5", 80))

    def through_proxy(address: str, username: str, password: str) -> int:
        response = proxy.post(
            "/api/v1/auth/token",
            data={"username": username, "password": password},
            headers={"X-Forwarded-For": f"{address}, 10.0.0.5"},
        )
        status: int = response.status_code
        return status

    assert [through_proxy("203.0.113.7", f"u{i}.guess", "guess") for i in range(4)] == [
        401,
        401,
        401,
        429,
    ]
    # The proxy itself, and the clinic's other clients behind it, are not paused.
    assert through_proxy("203.0.113.8", "front.desk", "correct horse battery staple") == 200
    # A client not among the trusted proxies cannot name another address.
    stranger = ApiClient(behind_a_proxy, raise_server_exceptions=False, client=("192.0.2.9", 1))
    for i in range(3):
        stranger.post(
            "/api/v1/auth/token",
            data={"username": f"s{i}.guess", "password": "guess"},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        )
    assert_problem(log_in(stranger, "front.desk"), 429, "too-many-login-attempts")


def test_an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4(
    behind_a_proxy: FastAPI,
) -> None:
    proxy = ApiClient(behind_a_proxy, raise_server_exceptions=False, client=("10.0.0.5", 80))

    def through_proxy(address: str, username: str) -> int:
        response = proxy.post(
            "/api/v1/auth/token",
            data={"username": username, "password": "guess"},
            headers={"X-Forwarded-For": address},
        )
        status: int = response.status_code
        return status

    # One subscriber's network, a new address each try: paused after 3, as one address is.
    tries = [through_proxy(f"2001:db8:1:2::{i + 1:x}", f"v6.{i}") for i in range(4)]
    assert tries == [401, 401, 401, 429]
    assert through_proxy("2001:db8:1:3::1", "v6.next-network") == 401
    # An IPv4 address written as IPv6 is that IPv4 address.
    assert [through_proxy("198.51.100.20", f"v4.{i}") for i in range(3)] == [401] * 3
    assert through_proxy("::ffff:198.51.100.20", "v4.mapped") == 429


def test_beyond_the_hashing_slots_a_login_is_turned_away_at_once(
    app: FastAPI, anonymous: TestClient, make_user: UserFactory
) -> None:
    make_user(Role.CLINICIAN, "dr.waiting")
    with hashing_slots(app, 1) as passwords, passwords.slot():  # the one slot is busy
        busy = log_in(anonymous, "dr.waiting")
        assert_problem(busy, 503, "too-many-logins-at-once")
        assert busy.headers["retry-after"] == "1"
    assert log_in(anonymous, "dr.waiting").status_code == 200


def test_a_flood_of_concurrent_logins_gets_503_beyond_the_cap(app: FastAPI, engine: Engine) -> None:
    barrier = threading.Barrier(16)

    def guess(index: int) -> tuple[int, str | None]:
        with ApiClient(app, raise_server_exceptions=False, client=(f"192.0.2.{index}", 1)) as c:
            barrier.wait()
            response = log_in(c, f"flood-{index}", "guess")
            return response.status_code, response.headers.get("retry-after")

    with hashing_slots(app, 2), ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(guess, range(16)))
    statuses = Counter(status for status, _ in answers)
    assert set(statuses) <= {401, 503}, statuses
    assert statuses[503] >= 1, statuses  # 16 at once, 2 slots
    assert all(wait == "1" for status, wait in answers if status == 503)
    with engine.connect() as connection:  # a turned-away login is not a failure
        assert connection.scalar(text("SELECT count(*) FROM login_failures")) == statuses[401]


def test_argon2id_has_the_owasp_parameters_unless_set(database_url: str) -> None:
    defaults = Settings(database_url=database_url)
    hashed = ClinicPolicy.from_settings(defaults).login.passwords.hash("a long passphrase")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    tuned = Settings(
        database_url=database_url,
        password_hash_memory_kib=65536,
        password_hash_iterations=3,
        password_hash_parallelism=4,
    )
    hashed = ClinicPolicy.from_settings(tuned).login.passwords.hash("a long passphrase")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_a_hash_with_other_parameters_still_logs_in_and_is_renewed(
    anonymous: TestClient, make_user: UserFactory, engine: Engine
) -> None:
    make_user(Role.CLINICIAN, "dr.oldhash")
    # argon2-cffi's own defaults, which the service used before: 64 MiB, 3 passes, 4 lanes.
    older = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE users SET password_hash = :h"),
            {"h": older.hash("correct horse battery staple")},
        )
    assert log_in(anonymous, "dr.oldhash").status_code == 200
    with engine.connect() as connection:
        renewed = connection.scalar(text("SELECT password_hash FROM users"))
    assert str(renewed).startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert log_in(anonymous, "dr.oldhash").status_code == 200
