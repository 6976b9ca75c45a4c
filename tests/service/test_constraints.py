"""What the database itself holds every row to, whatever writes it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.models import LONGEST_SESSION, TreatmentSession
from app.vocabulary import SessionStatus
from tests.factories import new_patient, new_practitioner, room_of


def test_the_database_refuses_a_session_over_an_hour(
    db_sessions: sessionmaker[Session], client: TestClient
) -> None:
    """Overlap searches bound a session's start by the longest session: the database holds
    every row to that bound, whatever writes it."""
    doctor = new_practitioner(client)
    room = room_of(client, doctor)
    patient = new_patient(client)
    start = datetime(2027, 3, 1, 9, tzinfo=UTC)
    row = {
        "patient_id": uuid.UUID(patient["id"]),
        "practitioner_id": uuid.UUID(doctor["id"]),
        "location_id": uuid.UUID(room["location_id"]),
        "room_id": uuid.UUID(room["id"]),
        "start_at": start,
        "time_zone": "UTC",
        "status": SessionStatus.BOOKED,
    }
    with db_sessions.begin() as db:
        db.add(TreatmentSession(**row, end_at=start + LONGEST_SESSION))
    later = start + timedelta(days=1)
    too_long = TreatmentSession(
        **{**row, "start_at": later}, end_at=later + LONGEST_SESSION + timedelta(seconds=1)
    )
    with db_sessions() as db:
        db.add(too_long)
        with pytest.raises(IntegrityError):
            db.commit()
