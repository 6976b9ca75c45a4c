"""The scheduling operations keep the practitioner's buffer and minimum notice as the REST
booking does: `$find` proposes past them, `$hold` and `$book` refuse inside them with the REST
codes, and what `$find` proposed holds and books."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from app.roles import Role
from tests.factories import (
    WEEKDAYS_9_TO_17,
    ClientFactory,
    Clock,
    eligible_patient,
    new_practitioner,
    next_weekday_at,
)
from tests.fhir.fhir import fhir, outcome
from tests.fhir.operations import BOOK, FIND, HOLD, find_body, proposal, with_appointment
from tests.sessions.steps import PARIS, at, booked


def test_find_hold_and_book_keep_the_buffer_and_the_notice(
    client: TestClient, client_as: ClientFactory, clock: Clock
) -> None:
    doctor = new_practitioner(
        client, availability=WEEKDAYS_9_TO_17, buffer_minutes=15, min_notice_minutes=60
    )
    monday = next_weekday_at(0, 9)
    first = eligible_patient(client, doctor["id"], given_name="First")
    booked(
        client,
        patient_id=first["id"],
        practitioner_id=doctor["id"],
        start=monday + timedelta(hours=2),
    )
    clock.travel_to(monday - timedelta(minutes=31))  # 08:29: nothing before 09:29
    ehr = client_as(Role.INTEGRATION)
    patient = eligible_patient(client, doctor["id"])

    def refused(operation: str, hour: int, minute: int, status: int, code: str, kind: str) -> None:
        start = monday.replace(hour=hour, minute=minute)
        body = with_appointment(proposal(patient["id"], doctor["id"], start))
        outcome(ehr.post(operation, json=body), status, code, kind)

    for operation in (HOLD, BOOK):
        refused(operation, 9, 0, 422, "too-short-notice", "business-rule")
        # 11:00-11:45 booked, 15 minutes kept free either side.
        refused(operation, 10, 15, 409, "buffer-conflict", "conflict")
        refused(operation, 11, 45, 409, "buffer-conflict", "conflict")
    window = find_body(
        patient["id"],
        monday.date().isoformat(),
        (monday + timedelta(days=1)).date().isoformat(),
        doctor["id"],
    )
    bundle = fhir(ehr.post(FIND, json=window))
    found = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert found
    first_visit = found[0]
    assert at(first_visit["start"]).astimezone(PARIS).strftime("%H:%M") == "09:30"
    held = fhir(ehr.post(HOLD, json=with_appointment(first_visit)))
    assert held["status"] == "pending"
    assert fhir(ehr.post(BOOK, json=with_appointment(held)))["status"] == "booked"
