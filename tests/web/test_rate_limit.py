"""The per-credential rate limit: past the setting's requests a minute, 429 with how long to
wait, counted in the database across API processes; each credential counts apart."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from app.roles import Role
from tests.factories import (
    TEST_SECRET_KEY,
    UserFactory,
    assert_problem,
    bearer,
    within_one_minute,
)
from tests.servers import running_server


def test_past_the_limit_a_credential_waits_and_another_does_not(
    database_url: str, app: FastAPI, make_user: UserFactory
) -> None:
    desk = bearer(app, make_user(Role.RECEPTIONIST))
    other = bearer(app, make_user(Role.RECEPTIONIST))
    settings = {"secret_key": TEST_SECRET_KEY, "requests_per_minute": "6"}
    with (
        running_server(database_url, **settings) as first,
        running_server(database_url, **settings) as second,
    ):
        within_one_minute()  # the servers took seconds to start
        answers = []
        for index in range(7):  # alternately through both servers: they count together
            with httpx.Client(base_url=(first, second)[index % 2], headers=desk) as http:
                answers.append(http.get("/api/v1/patients"))
        assert [a.status_code for a in answers[:6]] == [200] * 6
        refused = answers[6]
        body = assert_problem(refused, 429, "too-many-requests")
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 61
        assert refused.headers["ratelimit-policy"] == '"per-credential";q=6;w=60'
        assert refused.headers["ratelimit"] == f'"per-credential";r=0;t={wait}'
        assert "6 requests a minute" in body["detail"]
        with httpx.Client(base_url=first, headers=other) as http:
            assert http.get("/api/v1/patients").status_code == 200  # its own count
        with httpx.Client(base_url=second) as http:
            assert http.get("/health/live").status_code == 200  # no credential, no count
