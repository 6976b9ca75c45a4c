"""Slot search, proposals and the FHIR Slot need a free room as well as a free practitioner:
a room taken by another practitioner's session, closed or out of use offers nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import eligible_patient, new_room, next_weekday_at
from tests.fhir.fhir import BASE, entries, fhir
from tests.locations.sites import booked, new_location, practitioner_at
from tests.sessions.steps import PARIS, at


def _walls(client: TestClient, doctor: dict[str, Any], start: datetime, hours: int) -> list[str]:
    found = client.get(
        f"/api/v1/practitioners/{doctor['id']}/slots",
        params={
            "from": start.isoformat(),
            "to": (start + timedelta(hours=hours)).isoformat(),
            "duration_minutes": 60,
        },
    )
    assert found.status_code == 200, found.text
    return [at(s["start"]).astimezone(PARIS).strftime("%H:%M") for s in found.json()["slots"]]


def test_free_slots_need_a_free_room(client: TestClient) -> None:
    site = new_location(client)
    room = new_room(client, site["id"], name="Room 1")
    laurent = practitioner_at(client, site)
    weber = practitioner_at(client, site, name="Dr Jonas Weber")
    claire = eligible_patient(client, laurent["id"])
    monday = next_weekday_at(0, 9)
    slots = client.get(
        f"/api/v1/practitioners/{weber['id']}/slots",
        params={"from": monday.isoformat(), "to": (monday + timedelta(hours=2)).isoformat()},
    ).json()["slots"]
    assert {s["location_id"] for s in slots} == {site["id"]}
    # Dr Laurent's session takes the one room from 10:00 to 10:45: Dr Weber, free, has no room.
    booked(client, claire, laurent, monday + timedelta(hours=1))
    assert _walls(client, weber, monday, 3) == ["09:00", "10:45", "11:00"]
    client.post(
        f"/api/v1/locations/{site['id']}/rooms/{room['id']}/closures",
        json={
            "start": (monday + timedelta(hours=2)).isoformat(),
            "end": (monday + timedelta(hours=3)).isoformat(),
            "reason": "Laser maintenance",
        },
    )
    assert _walls(client, weber, monday, 4) == ["09:00", "12:00"]
    # A second room frees what the first cannot hold; out of use, it holds nothing.
    second = new_room(client, site["id"], name="Room 2")
    assert _walls(client, weber, monday, 3)[:3] == ["09:00", "09:15", "09:30"]
    url = f"/api/v1/locations/{site['id']}/rooms/{second['id']}"
    assert client.patch(url, json={"active": False}).status_code == 200
    assert _walls(client, weber, monday, 4) == ["09:00", "12:00"]


def test_proposals_pass_over_a_taken_or_closed_room(client: TestClient) -> None:
    site = new_location(client)
    room = new_room(client, site["id"], name="Room 1")
    laurent = practitioner_at(client, site)
    weber = practitioner_at(client, site, name="Dr Jonas Weber")
    claire = eligible_patient(client, laurent["id"])
    sofia = eligible_patient(client, weber["id"], given_name="Sofia")
    monday = next_weekday_at(0, 9)
    # The one room is closed from 09:00 to 12:00 on Monday, and Dr Laurent takes 12:00-13:00.
    client.post(
        f"/api/v1/locations/{site['id']}/rooms/{room['id']}/closures",
        json={
            "start": monday.isoformat(),
            "end": (monday + timedelta(hours=3)).isoformat(),
            "reason": "Laser maintenance",
        },
    )
    booked(client, claire, laurent, monday + timedelta(hours=3), duration_minutes=60)
    proposed = client.post(
        "/api/v1/scheduling/proposals",
        json={
            "patient_id": sofia["id"],
            "practitioner_id": weber["id"],
            "sessions": 1,
            "earliest": monday.date().isoformat(),
        },
    )
    assert proposed.status_code == 200, proposed.text
    [first] = proposed.json()["proposals"]
    assert (at(first["start"]), first["location_id"]) == (monday + timedelta(hours=4), site["id"])
    # Any practitioner: the same, as the room is the clinic's only one.
    anyone = client.post(
        "/api/v1/scheduling/proposals",
        json={"patient_id": sofia["id"], "sessions": 1, "earliest": monday.date().isoformat()},
    ).json()["proposals"]
    assert [at(p["start"]) for p in anyone] == [monday + timedelta(hours=4)]


def test_a_fhir_slot_is_busy_when_its_room_is_taken(client: TestClient) -> None:
    site = new_location(client)
    new_room(client, site["id"], name="Room 1")
    laurent = practitioner_at(client, site)
    weber = practitioner_at(client, site, name="Dr Jonas Weber")
    claire = eligible_patient(client, laurent["id"])
    monday = next_weekday_at(0, 9)
    booked(client, claire, laurent, monday + timedelta(hours=1))
    window = [f"ge{monday.isoformat()}", f"lt{(monday + timedelta(hours=2)).isoformat()}"]
    found = entries(
        fhir(client.get(f"{BASE}/Slot", params={"schedule": weber["id"], "start": window}))
    )
    busy = [
        at(s["start"]).astimezone(PARIS).strftime("%H:%M") for s in found if s["status"] == "busy"
    ]
    assert busy == ["09:30", "09:45", "10:00", "10:15", "10:30"]
