"""A session's room through the changes around it: moved, held then booked, its room closed
or taken out of use (the session stays booked, flagged for review), its practitioner's hours
moved to another site."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import (
    assert_problem,
    count_rows,
    eligible_patient,
    new_room,
    next_weekday_at,
)
from tests.fhir.fhir import fhir, outcome
from tests.fhir.operations import BOOK, HOLD, proposal, with_appointment
from tests.locations.sites import book, booked, new_location, practitioner_at


def _reasons(client: TestClient, session: dict[str, Any]) -> list[str]:
    read = client.get(f"/api/v1/sessions/{session['id']}").json()
    return [reason["code"] for reason in read["review_reasons"]]


def test_a_moved_session_keeps_its_room_where_it_is_free_else_takes_another(
    client: TestClient,
) -> None:
    site = new_location(client)
    first, second = (new_room(client, site["id"], name=f"Room {n}") for n in (1, 2))
    laurent = practitioner_at(client, site)
    weber = practitioner_at(client, site, name="Dr Jonas Weber")
    claire = eligible_patient(client, laurent["id"])
    sofia = eligible_patient(client, weber["id"], given_name="Sofia")
    monday = next_weekday_at(0, 10)
    visit = booked(client, claire, laurent, monday, room_id=second["id"])
    url = f"/api/v1/sessions/{visit['id']}/reschedule"
    moved = client.post(url, json={"start": (monday + timedelta(hours=2)).isoformat()})
    assert moved.json()["room_id"] == second["id"], moved.text  # free then: kept
    taken = booked(client, sofia, weber, monday + timedelta(hours=4), room_id=second["id"])
    again = client.post(url, json={"start": (monday + timedelta(hours=4)).isoformat()})
    assert again.json()["room_id"] == first["id"], again.text  # its room taken: another
    named = client.post(
        url, json={"start": taken["start"], "room_id": second["id"], "reason": "Laser"}
    )
    assert assert_problem(named, 409, "room-taken")["session_id"] == taken["id"]
    assert client.get(f"/api/v1/sessions/{visit['id']}").json()["room_id"] == first["id"]


def test_a_hold_keeps_its_room_and_its_booking_takes_it(client: TestClient, engine: Engine) -> None:
    site = new_location(client)
    only = new_room(client, site["id"], name="Room 1")
    laurent = practitioner_at(client, site)
    weber = practitioner_at(client, site, name="Dr Jonas Weber")
    claire = eligible_patient(client, laurent["id"])
    sofia = eligible_patient(client, weber["id"], given_name="Sofia")
    monday = next_weekday_at(0, 10)
    hold = client.post(
        "/api/v1/holds",
        json={
            "patient_id": claire["id"],
            "practitioner_id": laurent["id"],
            "start": monday.isoformat(),
        },
    ).json()
    assert (hold["room_id"], hold["location_id"]) == (only["id"], site["id"])
    assert client.get(f"/api/v1/holds/{hold['id']}").json()["room_id"] == only["id"]
    # Held, the room is taken for everyone else.
    assert_problem(book(client, sofia, weber, monday), 409, "room-taken")
    other = new_room(client, site["id"], name="Room 2")
    mismatch = client.post("/api/v1/sessions", json={"hold_id": hold["id"], "room_id": other["id"]})
    assert assert_problem(mismatch, 422, "hold-mismatch")["fields"] == ["room_id"]
    done = client.post("/api/v1/sessions", json={"hold_id": hold["id"], "room_id": only["id"]})
    assert (done.status_code, done.json()["id"], done.json()["room_id"]) == (
        201,
        hold["id"],
        only["id"],
    )
    assert booked(client, sofia, weber, monday)["room_id"] == other["id"]
    assert count_rows(engine, "treatment_sessions") == 2


def test_a_closure_or_an_unused_room_leaves_its_sessions_booked_for_review(
    client: TestClient,
) -> None:
    site = new_location(client)
    room = new_room(client, site["id"], name="Room 1")
    doctor = practitioner_at(client, site)
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 10)
    visit = booked(client, patient, doctor, monday)
    later = booked(client, patient, doctor, monday + timedelta(weeks=3))
    assert _reasons(client, visit) == []
    url = f"/api/v1/locations/{site['id']}/rooms/{room['id']}"
    closure = client.post(
        f"{url}/closures",
        json={
            "start": (monday - timedelta(hours=1)).isoformat(),
            "end": (monday + timedelta(hours=1)).isoformat(),
            "reason": "Water leak",
        },
    ).json()
    assert [s["id"] for s in closure["affected_sessions"]] == [visit["id"]]
    assert _reasons(client, visit) == ["room-closed"]
    assert _reasons(client, later) == []
    review = client.get("/api/v1/sessions", params={"needs_review": True}).json()["items"]
    assert [s["id"] for s in review] == [visit["id"]]
    assert client.delete(f"{url}/closures/{closure['id']}").status_code == 204
    assert _reasons(client, visit) == []
    off = client.patch(url, json={"active": False}).json()
    assert [s["id"] for s in off["affected_sessions"]] == [visit["id"], later["id"]]
    assert _reasons(client, visit) == _reasons(client, later) == ["inactive-room"]
    # Back in use, nothing to review; a move checks the room as a booking does.
    client.patch(url, json={"active": True})
    assert _reasons(client, later) == []


def test_hours_moved_to_another_site_strand_the_sessions_booked_at_the_first(
    client: TestClient,
) -> None:
    site, annexe = new_location(client), new_location(client, name="Annexe")
    for place in (site, annexe):
        new_room(client, place["id"], name="Room 1")
    doctor = practitioner_at(client, site)
    patient = eligible_patient(client, doctor["id"])
    visit = booked(client, patient, doctor, next_weekday_at(2, 10))
    hours = [{**h, "location_id": annexe["id"]} for h in doctor["availability"]]
    changed = client.patch(f"/api/v1/practitioners/{doctor['id']}", json={"availability": hours})
    assert changed.status_code == 200, changed.text
    assert [s["id"] for s in changed.json()["affected_sessions"]] == [visit["id"]]
    assert _reasons(client, visit) == ["outside-availability"]
    # Moved to the annexe (a room there, the same time), it goes ahead.
    moved = client.post(
        f"/api/v1/sessions/{visit['id']}/reschedule", json={"start": visit["start"]}
    )
    assert (moved.status_code, moved.json()["location_id"]) == (200, annexe["id"]), moved.text
    assert _reasons(client, visit) == []


def test_an_ehr_holds_and_books_a_room_over_fhir(client: TestClient) -> None:
    """`$hold` and `$book` name the room as a participant `Location/<room id>`."""
    site = new_location(client)
    first, second = (new_room(client, site["id"], name=f"Room {n}") for n in (1, 2))
    doctor = practitioner_at(client, site)
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 10)
    appointment = proposal(patient["id"], doctor["id"], monday)
    appointment["participant"].append({"actor": {"reference": f"Location/{second['id']}"}})
    pending = fhir(client.post(HOLD, json=with_appointment(appointment)))
    hold = client.get(f"/api/v1/holds/{pending['id']}").json()
    assert hold["room_id"] == second["id"]
    done = fhir(client.post(BOOK, json=with_appointment(pending)))
    assert client.get(f"/api/v1/sessions/{done['id']}").json()["room_id"] == second["id"]
    # A room taken, or of no location, is refused as the REST booking refuses it.
    later = proposal(patient["id"], doctor["id"], monday + timedelta(weeks=3))
    later["participant"].append({"actor": {"reference": f"Location/{first['id']}"}})
    closure = {"start": later["start"], "end": later["end"], "reason": "Laser maintenance"}
    client.post(f"/api/v1/locations/{site['id']}/rooms/{first['id']}/closures", json=closure)
    outcome(client.post(BOOK, json=with_appointment(later)), 422, "room-closed", "business-rule")
    later["participant"][-1] = {"actor": {"reference": f"Location/{doctor['id']}"}}
    outcome(client.post(HOLD, json=with_appointment(later)), 422, "unknown-room")
