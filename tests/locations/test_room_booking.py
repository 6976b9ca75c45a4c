"""Booking takes a room: the one named, or a free one of the location whose hours hold the
slot; a room holds one session at a time, whoever the practitioner; a refusal stores
nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import (
    assert_problem,
    count_rows,
    eligible_patient,
    new_room,
    next_weekday_at,
    table_snapshot,
)
from tests.locations.sites import book, booked, new_location, practitioner_at

_CALENDAR = ("treatment_sessions", "session_events", "outbox_events")


def test_two_practitioners_one_room_the_second_at_that_time_is_refused_room_taken(
    client: TestClient, engine: Engine
) -> None:
    site = new_location(client)
    room = new_room(client, site["id"], name="The one room")
    laurent = practitioner_at(client, site)
    weber = practitioner_at(client, site, name="Dr Jonas Weber")
    claire = eligible_patient(client, laurent["id"])
    sofia = eligible_patient(client, weber["id"], given_name="Sofia")
    monday = next_weekday_at(0, 10)
    first = booked(client, claire, laurent, monday)
    assert (first["room_id"], first["location_id"]) == (room["id"], site["id"])
    assert first["time_zone"] == site["time_zone"]
    assert client.get(f"/api/v1/sessions/{first['id']}").json()["room_id"] == room["id"]
    before = table_snapshot(engine, *_CALENDAR)
    for start in (monday, monday + timedelta(minutes=30), monday - timedelta(minutes=30)):
        refused = assert_problem(book(client, sofia, weber, start), 409, "room-taken")
        assert refused["detail"].startswith(f"No room of location {site['id']} is free then")
    named = book(client, sofia, weber, monday, room_id=room["id"])
    assert assert_problem(named, 409, "room-taken")["session_id"] == first["id"]
    assert table_snapshot(engine, *_CALENDAR) == before
    # Once the first session ends, the room is free for the other practitioner.
    after = booked(client, sofia, weber, monday + timedelta(minutes=45))
    assert after["room_id"] == room["id"]


def test_a_booking_takes_the_first_free_room_and_passes_over_closed_and_unused_ones(
    client: TestClient,
) -> None:
    site = new_location(client)
    rooms = [new_room(client, site["id"], name=f"Room {n}") for n in (1, 2, 3, 4)]
    monday = next_weekday_at(0, 10)
    closure = {
        "start": monday.isoformat(),
        "end": (monday + timedelta(hours=1)).isoformat(),
        "reason": "Laser maintenance",
    }
    url = f"/api/v1/locations/{site['id']}/rooms"
    assert client.post(f"{url}/{rooms[0]['id']}/closures", json=closure).status_code == 201
    assert client.patch(f"{url}/{rooms[1]['id']}", json={"active": False}).status_code == 200
    doctors = [practitioner_at(client, site, name=f"Dr {n}") for n in range(3)]
    patients = [
        eligible_patient(client, d["id"], given_name=f"P{n}") for n, d in enumerate(doctors)
    ]
    taken = [
        booked(client, p, d, monday)["room_id"]
        for p, d in zip(patients[:2], doctors[:2], strict=True)
    ]
    assert taken == [rooms[2]["id"], rooms[3]["id"]]  # made first, and free
    assert_problem(book(client, patients[2], doctors[2], monday), 409, "room-taken")
    # Before the closure, room 1 is free again, and made first.
    earlier = booked(client, patients[2], doctors[2], monday - timedelta(hours=1))
    assert earlier["room_id"] == rooms[0]["id"]


def test_a_room_named_is_checked_and_a_refusal_stores_nothing(
    client: TestClient, engine: Engine
) -> None:
    site, annexe = new_location(client), new_location(client, name="Annexe")
    here = new_room(client, site["id"], name="Here")
    there = new_room(client, annexe["id"], name="There")
    unused = new_room(client, site["id"], name="Unused", active=False)
    closed = new_room(client, site["id"], name="Closed")
    doctor = practitioner_at(client, site)
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 10)
    client.post(
        f"/api/v1/locations/{site['id']}/rooms/{closed['id']}/closures",
        json={
            "start": (monday - timedelta(days=1)).isoformat(),
            "end": (monday + timedelta(days=1)).isoformat(),
            "reason": "Renovation",
        },
    )
    before = table_snapshot(engine, *_CALENDAR)
    refusals: list[tuple[Any, int, str]] = [
        (uuid.uuid4(), 422, "unknown-room"),
        (there["id"], 422, "room-elsewhere"),
        (unused["id"], 422, "inactive-room"),
        (closed["id"], 422, "room-closed"),
    ]
    for room_id, status, code in refusals:
        body = assert_problem(
            book(client, patient, doctor, monday, room_id=str(room_id)), status, code
        )
        if code == "unknown-room":
            assert body["field"] == "room_id"
        held = client.post(
            "/api/v1/holds",
            json={
                "patient_id": patient["id"],
                "practitioner_id": doctor["id"],
                "start": monday.isoformat(),
                "room_id": str(room_id),
            },
        )
        assert_problem(held, status, code)
    assert_problem(book(client, patient, doctor, monday, room_id="room-1"), 422, "validation-error")
    assert table_snapshot(engine, *_CALENDAR) == before
    assert booked(client, patient, doctor, monday, room_id=here["id"])["room_id"] == here["id"]


def test_hours_are_per_location_and_a_session_keeps_its_locations_zone(
    client: TestClient,
) -> None:
    """A Paris practitioner who sees patients in London on Mondays: 09:00 there is 09:00 on
    London's clock, and the session's day is London's."""
    london = new_location(client, name="London", time_zone="Europe/London")
    paris = new_location(client, name="Paris", time_zone="Europe/Paris")
    for site in (london, paris):
        new_room(client, site["id"], name="Room 1")
    hours = [
        {"weekday": 0, "start": "09:00", "end": "12:00", "location_id": london["id"]},
        {"weekday": 1, "start": "09:00", "end": "12:00", "location_id": paris["id"]},
    ]
    response = client.post(
        "/api/v1/practitioners",
        json={"name": "Dr Laurent", "time_zone": "Europe/Paris", "availability": hours},
    )
    doctor = response.json()
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 9).replace(tzinfo=ZoneInfo("Europe/London"))
    assert_problem(
        book(client, patient, doctor, monday - timedelta(hours=1)), 422, "outside-availability"
    )
    in_london = booked(client, patient, doctor, monday)
    assert (in_london["location_id"], in_london["time_zone"]) == (london["id"], "Europe/London")
    tuesday = next_weekday_at(1, 9, weeks_ahead=4)
    in_paris = booked(client, patient, doctor, tuesday)
    assert (in_paris["location_id"], in_paris["time_zone"]) == (paris["id"], "Europe/Paris")
    # A room of the other site is elsewhere, even one the practitioner works at other days.
    [paris_room] = client.get(f"/api/v1/locations/{paris['id']}/rooms").json()["items"]
    later = monday + timedelta(weeks=8)
    refused = book(client, patient, doctor, later, room_id=paris_room["id"])
    assert_problem(refused, 422, "room-elsewhere")
    assert _sessions_of(client, patient) == 2


def _sessions_of(client: TestClient, patient: dict[str, Any]) -> int:
    listed = client.get("/api/v1/sessions", params={"patient_id": patient["id"]}).json()
    return len(listed["items"])


def test_a_location_without_rooms_takes_no_session(client: TestClient, engine: Engine) -> None:
    site = new_location(client)
    doctor = practitioner_at(client, site)
    patient = eligible_patient(client, doctor["id"])
    refused = book(client, patient, doctor, next_weekday_at(0, 10))
    assert "No room" in assert_problem(refused, 409, "room-taken")["detail"]
    assert count_rows(engine, "treatment_sessions") == 0
