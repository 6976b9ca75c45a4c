"""An Appointment's room: shown as a participant `Location/<room id>` (its name the display)
wherever a session or hold is an Appointment, and taken from one on `$hold` and `$book`; a
participant that might name the room but names none of the clinic's is refused, never passed
over (a room ignored would book another)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import count_rows, eligible_patient, new_room, next_weekday_at
from tests.fhir.fhir import BASE, entries, fhir, outcome
from tests.fhir.operations import BOOK, HOLD, proposal, with_appointment
from tests.locations.sites import booked, new_location, practitioner_at


def _clinic(client: TestClient) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A site with two rooms (Room 1 made first, so taken by default), its practitioner and
    an eligible patient."""
    site = new_location(client)
    new_room(client, site["id"], name="Room 1")
    second = new_room(client, site["id"], name="Salle laser")
    doctor = practitioner_at(client, site)
    return second, doctor, eligible_patient(client, doctor["id"])


def _rooms(appointment: dict[str, Any]) -> list[dict[str, Any]]:
    """The Location participants of an Appointment."""
    return [
        p
        for p in appointment["participant"]
        if p["actor"].get("reference", "").startswith("Location/")
    ]


def test_a_session_and_a_hold_show_their_room_as_a_location(client: TestClient) -> None:
    room, doctor, patient = _clinic(client)
    monday = next_weekday_at(0, 10)
    visit = booked(client, patient, doctor, monday, room_id=room["id"])
    shown = {
        "actor": {"reference": f"Location/{room['id']}", "display": "Salle laser"},
        "required": "required",
        "status": "accepted",
    }
    # Read, found by a search, and as $book answers it (each parsed as R4B by `fhir`).
    assert _rooms(fhir(client.get(f"{BASE}/Appointment/{visit['id']}"))) == [shown]
    [found] = entries(fhir(client.get(f"{BASE}/Appointment", params={"patient": patient["id"]})))
    assert _rooms(found) == [shown]
    later = proposal(patient["id"], doctor["id"], monday + timedelta(weeks=3))
    later["participant"].append({"actor": {"reference": f"Location/{room['id']}"}})
    pending = fhir(client.post(HOLD, json=with_appointment(later)))
    assert _rooms(pending) == [shown]  # the hold keeps it
    done = fhir(client.post(BOOK, json=with_appointment(pending)))
    assert (done["status"], _rooms(done)) == ("booked", [shown])
    # Cancelled by PUT as read, room and all.
    url = f"{BASE}/Appointment/{done['id']}"
    read = fhir(client.get(url))
    cancelled = fhir(client.put(url, json={**read, "status": "cancelled"}))
    assert (cancelled["status"], _rooms(cancelled)) == ("cancelled", [shown])
    # A proposal names no room: one is chosen when it is booked.
    assert _rooms(proposal(patient["id"], doctor["id"], monday)) == []


def test_a_versioned_room_reference_books_that_room(client: TestClient) -> None:
    room, doctor, patient = _clinic(client)
    appointment = proposal(patient["id"], doctor["id"], next_weekday_at(0, 10))
    named = f"https://ehr.example.org/fhir/Location/{room['id']}/_history/3"
    appointment["participant"].append({"actor": {"reference": named, "type": "Location"}})
    done = fhir(client.post(BOOK, json=with_appointment(appointment)))
    assert client.get(f"/api/v1/sessions/{done['id']}").json()["room_id"] == room["id"]


def _location(reference: str | None = None, **more: Any) -> dict[str, Any]:
    actor = {**({"reference": reference} if reference is not None else {}), **more}
    return {"actor": actor, "status": "needs-action"}


NO_ROOM = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("participant", "code"),
    [
        # A Location that is no room of the clinic.
        (_location(f"Location/{NO_ROOM}"), "unknown-room"),
        (_location(f"Location/{NO_ROOM}/_history/1"), "unknown-room"),
        # What names no record here, or not by its type: refused, whatever it names.
        (_location(f"urn:uuid:{NO_ROOM}"), "validation-error"),
        (_location(f"urn:uuid:{NO_ROOM}", type="Location"), "validation-error"),
        (_location("#room-2"), "validation-error"),
        (_location(type="Location", identifier={"value": "Room 2"}), "validation-error"),
        (_location(type="Location", display="Room 2"), "validation-error"),
        (_location(f"Location/{NO_ROOM}", type="Device"), "validation-error"),
        (_location("Location/room-2"), "validation-error"),
        # A type spelled otherwise, or spaces around: not read as the room, nor passed over.
        (_location(f"location/{NO_ROOM}"), "validation-error"),
        (_location(f"LOCATION/{NO_ROOM}", type="Location"), "validation-error"),
        (_location(f" Location/{NO_ROOM} "), "validation-error"),
    ],
)
@pytest.mark.parametrize("operation", [HOLD, BOOK])
def test_a_participant_that_names_no_room_is_refused(
    client: TestClient,
    engine: Engine,
    participant: dict[str, Any],
    code: str,
    operation: str,
) -> None:
    _, doctor, patient = _clinic(client)
    appointment = proposal(patient["id"], doctor["id"], next_weekday_at(0, 10))
    appointment["participant"].append(participant)
    outcome(client.post(operation, json=with_appointment(appointment)), 422, code, "invalid")
    assert count_rows(engine, "treatment_sessions") == 0


def test_a_urn_to_a_real_room_is_refused_too(client: TestClient, engine: Engine) -> None:
    """A `urn:uuid:` names an entry of the sender's own Bundle, not a record here."""
    room, doctor, patient = _clinic(client)
    appointment = proposal(patient["id"], doctor["id"], next_weekday_at(0, 10))
    appointment["participant"].append(_location(f"urn:uuid:{room['id']}"))
    outcome(client.post(HOLD, json=with_appointment(appointment)), 422, "validation-error")
    assert count_rows(engine, "treatment_sessions") == 0


def test_a_hold_booked_with_a_room_that_does_not_exist_is_told_so(
    client: TestClient, engine: Engine
) -> None:
    _, doctor, patient = _clinic(client)
    start = next_weekday_at(0, 10)
    pending = fhir(
        client.post(HOLD, json=with_appointment(proposal(patient["id"], doctor["id"], start)))
    )
    [kept] = _rooms(pending)
    kept["actor"] = {"reference": f"Location/{NO_ROOM}"}
    outcome(client.post(BOOK, json=with_appointment(pending)), 422, "unknown-room")
    # Still a hold, bookable as it is.
    assert fhir(client.get(f"{BASE}/Appointment/{pending['id']}"))["status"] == "pending"
    pending["participant"] = [p for p in pending["participant"] if p not in _rooms(pending)]
    assert fhir(client.post(BOOK, json=with_appointment(pending)))["status"] == "booked"
    assert count_rows(engine, "treatment_sessions") == 1


def test_other_participants_are_still_passed_over(client: TestClient) -> None:
    """A device, or a person named in words only: nothing this clinic books."""
    _, doctor, patient = _clinic(client)
    appointment = proposal(patient["id"], doctor["id"], next_weekday_at(0, 10))
    appointment["participant"] += [
        _location(f"Device/{uuid.uuid4()}"),
        _location("#laser", type="Device"),
        _location(display="Interpreter"),
        {"type": [{"text": "Nurse"}], "status": "needs-action"},
    ]
    done = fhir(client.post(BOOK, json=with_appointment(appointment)))
    assert datetime.fromisoformat(done["start"]) == next_weekday_at(0, 10)


def test_a_cancelling_put_whose_participant_says_another_type_is_refused(
    client: TestClient,
) -> None:
    """A `PUT` sends the participants back as read: one whose `type` disagrees with its
    reference is refused, as `$hold` and `$book` refuse it, and nothing changes."""
    room, doctor, patient = _clinic(client)
    visit = booked(client, patient, doctor, next_weekday_at(0, 10), room_id=room["id"])
    url = f"{BASE}/Appointment/{visit['id']}"
    read = fhir(client.get(url))
    for participant in _rooms(read):
        participant["actor"]["type"] = "Device"
    outcome(client.put(url, json={**read, "status": "cancelled"}), 422, "validation-error")
    assert fhir(client.get(url))["status"] == "booked"
