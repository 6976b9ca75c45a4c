"""Fixtures of the events tests: a clinic driven through the API."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import ClientFactory, Clock
from tests.sessions.clinic import Clinic


@pytest.fixture
def clinic(
    app: FastAPI, client: TestClient, clock: Clock, client_as: ClientFactory, engine: Engine
) -> Clinic:
    return Clinic(app, client, clock, client_as, engine)
