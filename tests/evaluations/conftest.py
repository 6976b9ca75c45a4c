"""Fixtures of the evaluation tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import new_patient, new_practitioner


@pytest.fixture
def people(client: TestClient) -> tuple[str, str]:
    return new_patient(client)["id"], new_practitioner(client)["id"]
