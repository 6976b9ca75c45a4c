"""Fixtures of the consent tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.roles import Role
from tests.factories import ApiClient, ClientFactory, Clock, UserFactory, bearer
from tests.sessions.clinic import Clinic


@pytest.fixture
def clinic(
    app: FastAPI, client: TestClient, clock: Clock, client_as: ClientFactory, engine: Engine
) -> Clinic:
    """One doctor available every day, 07:00 to 21:00 in Paris, and the clinic's clock."""
    return Clinic(app, client, clock, client_as, engine)


ClinicianFactory = Callable[[str | None], tuple[uuid.UUID, TestClient]]


@pytest.fixture
def clinician(app: FastAPI, make_user: UserFactory) -> ClinicianFactory:
    """A clinician's account (its id and client), linked to the practitioner given."""

    def make(practitioner_id: str | None) -> tuple[uuid.UUID, TestClient]:
        user_id = make_user(Role.CLINICIAN, practitioner_id=practitioner_id)
        return user_id, ApiClient(app, raise_server_exceptions=False, headers=bearer(app, user_id))

    return make
