"""Steps the accounts tests share: logging in through the API."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.access.credentials import Passwords
from tests.factories import TEST_PASSWORD, ApiClient, bearer

TOKEN = "/api/v1/auth/token"


def log_in(client: TestClient, username: str, password: str = TEST_PASSWORD) -> Any:
    return client.post(TOKEN, data={"username": username, "password": password})


def token_of(client: TestClient, username: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    response = log_in(client, username, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@contextmanager
def hashing_slots(app: FastAPI, at_once: int) -> Iterator[Passwords]:
    """The app checks at most `at_once` passwords at a time, for the `with` block."""
    policy = app.state.policy
    passwords = Passwords(policy.login.passwords.parameters, at_once=at_once)
    app.state.policy = replace(policy, login=replace(policy.login, passwords=passwords))
    try:
        yield passwords
    finally:
        app.state.policy = policy


def demote_each_other(app: FastAPI, first: uuid.UUID, second: uuid.UUID) -> list[int]:
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def demote(actor: uuid.UUID, target: uuid.UUID) -> None:
        with ApiClient(app, headers=bearer(app, actor)) as mine:
            barrier.wait()
            response = mine.patch(f"/api/v1/users/{target}", json={"role": "clinician"})
            statuses.append(response.status_code)

    threads = [
        threading.Thread(target=demote, args=(first, second)),
        threading.Thread(target=demote, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)
