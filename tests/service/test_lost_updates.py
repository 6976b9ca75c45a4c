"""The version counter: of two writers who read the same version, the second one fails."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.models import Patient
from tests.factories import new_patient


def test_second_writer_of_the_same_version_is_refused(
    db_sessions: sessionmaker[Session], client: TestClient
) -> None:
    patient_id = uuid.UUID(new_patient(client)["id"])
    sessions = db_sessions
    with sessions() as first, sessions() as second:
        mine = first.get(Patient, patient_id)
        theirs = second.get(Patient, patient_id)
        assert mine is not None
        assert theirs is not None
        assert mine.version == theirs.version == 1

        theirs.phone = "+33 1 00 00 00 01"
        second.commit()

        mine.phone = "+33 1 00 00 00 02"
        # PostgreSQL: the version check matches no row. SQLite: the database already refuses
        # a write from a transaction whose snapshot predates the other commit.
        with pytest.raises((StaleDataError, OperationalError)):
            first.commit()
    assert client.get(f"/api/v1/patients/{patient_id}").json()["phone"] == "+33 1 00 00 00 01"
