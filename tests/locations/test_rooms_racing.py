"""Rooms under real concurrency, through two server processes sharing the database (SQLite's
one writer; PostgreSQL's exclusion constraint over each room's time, and the lock bookings of
one clock hour take before they pick a room): one room, one session at a time, whoever the
practitioners."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import eligible_patient, new_room, next_weekday_at
from tests.locations.sites import new_location, practitioner_at
from tests.servers import race

RACERS = 20


def _bodies(client: TestClient, rooms: int, **more: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """A location with `rooms` rooms and `RACERS` practitioners, each with a patient, and a
    booking each, all overlapping (a minute apart) on a Monday morning."""
    site = new_location(client)
    made = [new_room(client, site["id"], name=f"Room {n}")["id"] for n in range(rooms)]
    monday = next_weekday_at(0, 10)
    bodies = []
    for n in range(RACERS):
        doctor = practitioner_at(client, site, name=f"Dr {n:02d}")
        patient = eligible_patient(client, doctor["id"], given_name=f"Racer{n}")
        bodies.append(
            {
                "patient_id": patient["id"],
                "practitioner_id": doctor["id"],
                "start": (monday + timedelta(minutes=n)).isoformat(),
                **more,
            }
        )
    return bodies, made


def _outcome(answers: list[Any]) -> Counter[tuple[int, str]]:
    return Counter(
        (a.status_code, a.json()["code"] if a.status_code >= 400 else "booked") for a in answers
    )


def test_twenty_practitioners_booking_one_room_at_once_give_one_session(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    bodies, [room] = _bodies(client, rooms=1)
    answers = race(two_servers, "/api/v1/sessions", bodies, client.headers["Authorization"])
    assert _outcome(answers) == {(201, "booked"): 1, (409, "room-taken"): RACERS - 1}, [
        a.text for a in answers if a.status_code not in (201, 409)
    ]
    [won] = [a.json() for a in answers if a.status_code == 201]
    assert won["room_id"] == room
    listed = client.get("/api/v1/sessions", params={"limit": 100}).json()["items"]
    assert [s["id"] for s in listed] == [won["id"]]


def test_twenty_bookings_naming_one_room_at_once_give_one_session(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    bodies, made = _bodies(client, rooms=2)
    named = [{**body, "room_id": made[1]} for body in bodies]
    answers = race(two_servers, "/api/v1/sessions", named, client.headers["Authorization"])
    assert _outcome(answers) == {(201, "booked"): 1, (409, "room-taken"): RACERS - 1}
    assert [a.json()["room_id"] for a in answers if a.status_code == 201] == [made[1]]


def test_twenty_bookings_at_once_fill_each_of_two_rooms_once(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    """Each booking picks its room by reading: they wait for each other, so the second finds
    the room the first took, and takes the other (none is refused while a room stands free)."""
    bodies, made = _bodies(client, rooms=2)
    answers = race(two_servers, "/api/v1/sessions", bodies, client.headers["Authorization"])
    assert _outcome(answers) == {(201, "booked"): 2, (409, "room-taken"): RACERS - 2}, [
        a.text for a in answers if a.status_code not in (201, 409)
    ]
    assert sorted(a.json()["room_id"] for a in answers if a.status_code == 201) == sorted(made)
