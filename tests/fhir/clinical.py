"""What the tests of the clinical resources (Appointment, Flag, Procedure, CarePlan) share: a
clinic driven through the API, the database as the interface reads it, and every resource
parsed by fhir.resources' R4B models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import ClientFactory, Clock
from tests.fhir.fhir import MODELS, entries
from tests.sessions.clinic import Clinic


def parsed(resource: dict[str, Any]) -> Any:
    """The resource as fhir.resources' R4B model reads it (a `ValidationError` if it is not
    valid R4B: an unknown element, a wrong type, a missing required one)."""
    return MODELS[resource["resourceType"]].model_validate(resource)


def instant(moment: str | datetime) -> datetime:
    return datetime.fromisoformat(moment) if isinstance(moment, str) else moment


@pytest.fixture
def clinic(
    app: FastAPI, client: TestClient, clock: Clock, client_as: ClientFactory, engine: Engine
) -> Clinic:
    """One doctor available every day, 07:00 to 21:00 in Paris, and the clinic's clock."""
    return Clinic(app, client, clock, client_as, engine)


@pytest.fixture
def db(db_sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A database session of the test's own, reading what the API stored."""
    with db_sessions() as session:
        yield session


def events_of(client: TestClient, patient_id: str) -> list[dict[str, Any]]:
    """The audit trail's events naming the patient, newest first (an admin's client)."""
    answer = client.get("/api/v1/audit-events", params={"patient_id": patient_id, "limit": 200})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def ids(bundle: dict[str, Any]) -> list[str]:
    """The ids of a searchset Bundle's resources, in its order."""
    return [resource["id"] for resource in entries(bundle)]
