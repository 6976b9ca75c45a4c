"""A change to a room's use racing a booking into it, through two server processes sharing the
database. Closing the room or taking it out of use waits for the bookings under way, and a
booking for the change (PostgreSQL: an advisory lock the change takes alone and bookings
share; SQLite: the one writer): either the booking is refused, or the change names the session
it leaves needing review. Never both through with the session left out."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.factories import eligible_patient, new_room, next_weekday_at
from tests.locations.sites import new_location, practitioner_at

ROUNDS = 6  # races, each on a day of its own


def _at_once(bases: tuple[str, str], credential: str, *requests: tuple[str, str, Any]) -> list[Any]:
    """Send each (method, path, body) at once, the first to one server, the next to the
    other."""
    barrier = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)

    def send(index: int) -> None:
        method, path, body = requests[index]
        headers = {"Authorization": credential}
        with httpx.Client(base_url=bases[index % 2], timeout=60, headers=headers) as http:
            barrier.wait()
            answers[index] = http.request(method, path, json=body)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _site(client: TestClient) -> tuple[dict[str, Any], dict[str, Any], str]:
    site = new_location(client)
    room = new_room(client, site["id"], name="Room 1")["id"]
    return site, practitioner_at(client, site), room


def _booking(
    patient: dict[str, Any], doctor: dict[str, Any], start: datetime, room: str
) -> tuple[str, str, Any]:
    body = {
        "patient_id": patient["id"],
        "practitioner_id": doctor["id"],
        "start": start.isoformat(),
        "room_id": room,
    }
    return "POST", "/api/v1/sessions", body


def _settled(booking: Any, change: Any, refusal: str) -> str:
    """What the race came to; the one outcome it must never come to is both through with the
    session left out of the change's answer."""
    assert change.status_code in (200, 201), change.text
    affected = [s["id"] for s in change.json()["affected_sessions"]]
    if booking.status_code == 201:
        assert affected == [booking.json()["id"]], (booking.text, change.text)
        return "booked, then named"
    assert booking.status_code == 422, booking.text
    assert booking.json()["code"] == refusal
    assert affected == []
    return "refused"


def test_a_closure_racing_a_booking_names_it_or_refuses_it(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    site, doctor, room = _site(client)
    closures = f"/api/v1/locations/{site['id']}/rooms/{room}/closures"
    credential = client.headers["Authorization"]
    for day in range(ROUNDS):
        start = next_weekday_at(day % 5, 10, weeks_ahead=1 + day // 5)
        patient = eligible_patient(client, doctor["id"], given_name=f"Racer{day}")
        booking, closure = _at_once(
            two_servers,
            credential,
            _booking(patient, doctor, start, room),
            (
                "POST",
                closures,
                {
                    "start": (start - timedelta(hours=1)).isoformat(),
                    "end": (start + timedelta(hours=2)).isoformat(),
                    "reason": "Laser maintenance",
                },
            ),
        )
        _settled(booking, closure, "room-closed")


def test_taking_a_room_out_of_use_racing_a_booking_names_it_or_refuses_it(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    site, doctor, _ = _site(client)
    credential = client.headers["Authorization"]
    for day in range(ROUNDS):
        room = new_room(client, site["id"], name=f"Room {day + 2}")["id"]
        start = next_weekday_at(day % 5, 11, weeks_ahead=1 + day // 5)
        patient = eligible_patient(client, doctor["id"], given_name=f"Racer{day}")
        booking, change = _at_once(
            two_servers,
            credential,
            _booking(patient, doctor, start, room),
            ("PATCH", f"/api/v1/locations/{site['id']}/rooms/{room}", {"active": False}),
        )
        _settled(booking, change, "inactive-room")
