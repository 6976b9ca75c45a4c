"""Fixtures of the waitlist tests: a clinic driven through the API, and its waitlist."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import ClientFactory, Clock
from tests.sessions.clinic import Clinic
from tests.waitlist.steps import Waitlist


@pytest.fixture
def clinic(
    app: FastAPI, client: TestClient, clock: Clock, client_as: ClientFactory, engine: Engine
) -> Clinic:
    return Clinic(app, client, clock, client_as, engine)


@pytest.fixture
def waitlist(clinic: Clinic) -> Waitlist:
    return Waitlist(clinic)
