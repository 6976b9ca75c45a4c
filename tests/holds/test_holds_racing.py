"""Holds under real concurrency, through two server processes sharing the database (SQLite's
one writer, or PostgreSQL's exclusion constraints): one slot, one hold; one hold, one session."""

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
from tests.servers import race

RACERS = 20


def test_twenty_holds_of_one_slot_at_once_give_one_hold(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patients = [eligible_patient(client, doctor["id"], given_name=f"R{i}") for i in range(RACERS)]
    monday = next_weekday_at(0, 10)
    bodies = [
        {
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": (monday + timedelta(minutes=i)).isoformat(),
        }
        for i, patient in enumerate(patients)
    ]
    answers = race(two_servers, "/api/v1/holds", bodies, client.headers["Authorization"])
    assert Counter(a.status_code for a in answers) == {201: 1, 409: RACERS - 1}, [
        a.text for a in answers if a.status_code not in (201, 409)
    ]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"slot-taken"}


def test_one_hold_booked_twenty_times_at_once_gives_one_session(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    kept = client.post(
        "/api/v1/holds",
        json={
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": next_weekday_at(0, 11).isoformat(),
        },
    ).json()
    bodies = [{"hold_id": kept["id"]} for _ in range(RACERS)]
    answers = race(two_servers, "/api/v1/sessions", bodies, client.headers["Authorization"])
    assert Counter(a.status_code for a in answers) == {201: 1, 409: RACERS - 1}, [
        a.text for a in answers if a.status_code not in (201, 409)
    ]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"hold-expired"}
    calendar = client.get("/api/v1/sessions", params={"patient_id": patient["id"]}).json()
    assert [s["id"] for s in calendar["items"]] == [kept["id"]]


def test_one_hold_released_twenty_times_at_once_is_released_once(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    kept = client.post(
        "/api/v1/holds",
        json={
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": next_weekday_at(0, 11).isoformat(),
        },
    ).json()
    answers = race(
        two_servers,
        f"/api/v1/holds/{kept['id']}",
        [{} for _ in range(RACERS)],
        client.headers["Authorization"],
        method="DELETE",
    )
    assert Counter(a.status_code for a in answers) == {204: 1, 404: RACERS - 1}, [
        a.text for a in answers if a.status_code not in (204, 404)
    ]
