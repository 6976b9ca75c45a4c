"""`$book` under real concurrency, through two server processes sharing the database (SQLite's
one writer, or PostgreSQL's exclusion constraints): 20 EHR requests for one slot, one booking."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.factories import (
    WEEKDAYS_9_TO_17,
    eligible_patient,
    new_practitioner,
    next_weekday_at,
)
from tests.fhir.operations import BOOK, HOLD, proposal, with_appointment
from tests.servers import race

RACERS = 20


def test_twenty_books_of_one_slot_at_once_give_one_appointment(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patients = [eligible_patient(client, doctor["id"], given_name=f"R{i}") for i in range(RACERS)]
    monday = next_weekday_at(0, 10)
    bodies = [
        with_appointment(proposal(p["id"], doctor["id"], monday + timedelta(minutes=i)))
        for i, p in enumerate(patients)
    ]
    answers = race(two_servers, BOOK, bodies, client.headers["Authorization"])
    assert Counter(a.status_code for a in answers) == {200: 1, 409: RACERS - 1}, [
        a.text for a in answers if a.status_code not in (200, 409)
    ]
    refused = [a.json() for a in answers if a.status_code == 409]
    assert {r["resourceType"] for r in refused} == {"OperationOutcome"}
    assert {r["issue"][0]["details"]["coding"][0]["code"] for r in refused} == {"slot-taken"}
    calendar = client.get("/api/v1/sessions", params={"practitioner_id": doctor["id"]}).json()
    assert len(calendar["items"]) == 1


def test_twenty_books_of_one_hold_at_once_give_one_appointment(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    held = client.post(
        HOLD, json=with_appointment(proposal(patient["id"], doctor["id"], next_weekday_at(0, 11)))
    ).json()
    bodies = [with_appointment(held) for _ in range(RACERS)]
    answers = race(two_servers, BOOK, bodies, client.headers["Authorization"])
    assert Counter(a.status_code for a in answers) == {200: 1, 409: RACERS - 1}, [
        a.text for a in answers if a.status_code not in (200, 409)
    ]
    booked = next(a.json() for a in answers if a.status_code == 200)
    assert (booked["id"], booked["status"]) == (held["id"], "booked")
