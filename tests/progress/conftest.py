"""Fixtures of the review and summary tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.roles import Role
from tests.factories import ApiClient, Clock, UserFactory, bearer
from tests.progress.course import Course


@pytest.fixture
def course(client: TestClient, clock: Clock, doctor: dict[str, Any]) -> Callable[..., Course]:
    """A new patient's course of treatment (3 sessions unless told), nothing booked yet."""

    def make(planned_sessions: int = 3) -> Course:
        return Course(client, clock, doctor, planned_sessions)

    return make


@pytest.fixture
def clinician(app: FastAPI, make_user: UserFactory, doctor: dict[str, Any]) -> TestClient:
    """A clinician logged in, whose account is the doctor's."""
    user = make_user(Role.CLINICIAN, practitioner_id=doctor["id"])
    return ApiClient(app, raise_server_exceptions=False, headers=bearer(app, user))
