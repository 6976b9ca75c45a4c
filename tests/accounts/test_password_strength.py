"""Passwords an outside security test got accepted, refused on every way in (a new account,
an admin's reset, a change of one's own), and the strength estimate bounded in time."""

from __future__ import annotations

import json
import secrets
import time
from contextlib import suppress

import pytest
from fastapi.testclient import TestClient

from app.accounts.password_rules import WeakPassword, check_password_strength
from app.roles import Role
from tests.accounts.steps import token_of
from tests.factories import TEST_PASSWORD, UserFactory, assert_problem

PASSWORD = "/api/v1/auth/password"

# Each one was answered 201: keyboard rows, sequences, repeats with a character added, a
# word twice, and a NUL (a control character, which no keyboard types).
FOUND_WEAK = [
    "aaaaaaaaaaaa1",
    "aaaaaaaaaaaa!",
    "aaaaaaaaaaaa ",
    "aaaaaabbbbbb",
    "abcdefghijkl",
    "qwertyuiopas",
    "passwordpassword",
    "password password",
    "aaaaaaaaaaa\u0000",
    "correct horse\tbattery staple",
    # Outside runs: a common password with an invisible character inside, spaced out, or in
    # fullwidth or bold letters.
    "p\u200bassword1234",
    "p\u00adassword1234",
    "p a s s w o r d 1",
    "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff50\uff41\uff53\uff53",
    "\U0001d429\U0001d41a\U0001d42c\U0001d42c\U0001d430\U0001d428\U0001d42b\U0001d41d\U0001d429\U0001d41a\U0001d42c\U0001d42c",
]


@pytest.mark.parametrize("weak", FOUND_WEAK)
def test_a_new_account_with_a_weak_password_is_refused(client: TestClient, weak: str) -> None:
    response = client.post(
        "/api/v1/users", json={"username": "n.weak", "password": weak, "role": "clinician"}
    )
    assert_problem(response, 422, "weak-password")


@pytest.mark.parametrize("weak", FOUND_WEAK)
def test_an_admin_reset_to_a_weak_password_is_refused(
    client: TestClient, make_user: UserFactory, weak: str
) -> None:
    user = make_user(Role.RECEPTIONIST, "n.reset")
    assert_problem(
        client.patch(f"/api/v1/users/{user}", json={"password": weak}), 422, "weak-password"
    )


@pytest.mark.parametrize("weak", FOUND_WEAK)
def test_changing_one_s_own_password_to_a_weak_one_is_refused(
    anonymous: TestClient, make_user: UserFactory, weak: str
) -> None:
    make_user(Role.CLINICIAN, "n.own")
    mine = token_of(anonymous, "n.own")
    response = anonymous.post(
        PASSWORD, json={"current_password": TEST_PASSWORD, "new_password": weak}, headers=mine
    )
    assert_problem(response, 422, "weak-password")


def test_each_refusal_says_why(client: TestClient) -> None:
    reasons = {
        "aaaaaaaaaaa\u0000": "control character (U+0000)",
        "password password": "repeats one character, word or pattern",
        "qwertyuiopas": "too easy to guess",
        "abcdefghijkl": 'Sequences like "abc"',
    }
    for weak, reason in reasons.items():
        response = client.post(
            "/api/v1/users", json={"username": "n.why", "password": weak, "role": "clinician"}
        )
        assert reason in assert_problem(response, 422, "weak-password")["detail"]


def test_the_username_counts_as_a_word_the_attacker_knows(client: TestClient) -> None:
    """The same password passes for another user: zxcvbn tries the username first."""
    for username, status in (("durandmarie", 422), ("n.other", 201)):
        response = client.post(
            "/api/v1/users",
            json={"username": username, "password": "durandmarie dog", "role": "admin"},
        )
        assert response.status_code == status, response.text


def test_the_current_password_is_no_new_one(anonymous: TestClient, make_user: UserFactory) -> None:
    make_user(Role.CLINICIAN, "n.same")
    mine = token_of(anonymous, "n.same")
    same = {"current_password": TEST_PASSWORD, "new_password": TEST_PASSWORD}
    body = assert_problem(anonymous.post(PASSWORD, json=same, headers=mine), 422, "same-password")
    assert "current one" in body["detail"]
    document = anonymous.get("/openapi.json").json()
    assert "same-password" in json.dumps(document["paths"][PASSWORD]["post"]["responses"])


def test_good_passwords_and_random_ones_pass(client: TestClient) -> None:
    """Four unrelated words, and the demo users' `token_urlsafe(12)`."""
    good = ["violet kettle on the stairs", "Tr0ub4dor&3 lamp", secrets.token_urlsafe(12)]
    for i, password in enumerate(good):
        response = client.post(
            "/api/v1/users",
            json={"username": f"n.good{i}", "password": password, "role": "clinician"},
        )
        assert response.status_code == 201, response.text


def test_the_longest_password_is_checked_well_under_a_second() -> None:
    """zxcvbn alone takes 0.3-0.5 s on 256 characters: only the first 100 are estimated."""
    longest = [
        secrets.token_urlsafe(200)[:256],
        ("violet kettle on the stairs, " * 10)[:256],
    ]
    for password in longest:
        started = time.perf_counter()
        with suppress(WeakPassword):
            check_password_strength(password, username="n.long")
        assert time.perf_counter() - started < 0.5
