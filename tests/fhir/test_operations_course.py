"""What the operations say beyond one booking: a course's follow-ups about 28 days apart, a
hold that expires frees its slot by itself, a pending Appointment cancelled is a hold
released, and the CapabilityStatement names the three IHE operations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.fhir.scheduling.service import BOOK_DEFINITION, FIND_DEFINITION, HOLD_DEFINITION
from tests.factories import (
    Clock,
    count_rows,
    eligible_patient,
    next_weekday_at,
)
from tests.fhir.fhir import BASE, fhir, outcome
from tests.fhir.operations import BOOK, FIND, HOLD, find_body, proposal, with_appointment
from tests.sessions.steps import booked


def test_find_continues_the_patients_course(client: TestClient, doctor: dict[str, Any]) -> None:
    patient = eligible_patient(client, doctor["id"])
    evaluation = client.get(f"/api/v1/patients/{patient['id']}/evaluations").json()["items"][0]
    plan = client.post(
        f"/api/v1/patients/{patient['id']}/treatment-plans",
        json={"evaluation_id": evaluation["id"], "planned_sessions": 3, "interval_days": 21},
    ).json()
    monday = next_weekday_at(0, 9)
    booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday,
        plan_id=plan["id"],
    )
    window = find_body(
        patient["id"],
        (monday + timedelta(days=1)).isoformat(),
        (monday + timedelta(days=60)).isoformat(),
    )
    proposed = [e["resource"] for e in fhir(client.post(FIND, json=window))["entry"]]
    # The two visits the plan has left, every 21 days from the one booked.
    assert [datetime.fromisoformat(a["start"]) for a in proposed] == [
        monday + timedelta(days=21),
        monday + timedelta(days=42),
    ]
    # A window too short for the course names the visit after it, as a warning.
    short = find_body(
        patient["id"],
        (monday + timedelta(days=1)).isoformat(),
        (monday + timedelta(days=30)).isoformat(),
    )
    entries = fhir(client.post(FIND, json=short))["entry"]
    assert [e["search"]["mode"] for e in entries] == ["match", "outcome"]
    assert "after the window" in entries[1]["resource"]["issue"][0]["diagnostics"]


def test_an_expired_hold_frees_its_slot_and_is_no_longer_booked(
    client: TestClient, doctor: dict[str, Any], engine: Engine, clock: Clock
) -> None:
    first = eligible_patient(client, doctor["id"])
    second = eligible_patient(client, doctor["id"], given_name="Second")
    monday = next_weekday_at(0, 10)
    held = fhir(
        client.post(HOLD, json=with_appointment(proposal(first["id"], doctor["id"], monday)))
    )
    outcome(
        client.post(BOOK, json=with_appointment(proposal(second["id"], doctor["id"], monday))),
        409,
        "slot-taken",
    )
    clock.travel_to(
        datetime.fromisoformat(held["extension"][0]["valueInstant"]) + timedelta(seconds=1)
    )
    outcome(client.get(f"{BASE}/Appointment/{held['id']}"), 404, "not-found")
    outcome(client.post(BOOK, json=with_appointment(held)), 409, "hold-expired")
    taken = fhir(
        client.post(BOOK, json=with_appointment(proposal(second["id"], doctor["id"], monday)))
    )
    assert taken["status"] == "booked"
    assert count_rows(engine, "treatment_sessions") == 1


def test_cancelling_a_pending_appointment_releases_the_hold(
    client: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 10)
    held = fhir(
        client.post(HOLD, json=with_appointment(proposal(patient["id"], doctor["id"], monday)))
    )
    assert fhir(client.get(f"{BASE}/Appointment/{held['id']}"))["status"] == "pending"
    released = fhir(
        client.put(
            f"{BASE}/Appointment/{held['id']}",
            json={**held, "status": "cancelled"},
            headers={"If-Match": 'W/"1"'},
        )
    )
    assert released["status"] == "cancelled"
    assert count_rows(engine, "treatment_sessions") == 0
    outcome(client.get(f"{BASE}/Appointment/{held['id']}"), 404, "not-found")


def test_the_capability_statement_names_the_scheduling_operations(anonymous: TestClient) -> None:
    statement = fhir(anonymous.get(f"{BASE}/metadata"))
    appointment = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Appointment")
    assert appointment["operation"] == [
        {"name": "book", "definition": BOOK_DEFINITION},
        {"name": "find", "definition": FIND_DEFINITION},
        {"name": "hold", "definition": HOLD_DEFINITION},
    ]
    assert {"code": "update"} in appointment["interaction"]


def test_a_hold_for_a_course_is_booked_into_it(client: TestClient, doctor: dict[str, Any]) -> None:
    patient = eligible_patient(client, doctor["id"])
    other = eligible_patient(client, doctor["id"], given_name="Other")
    evaluation = client.get(f"/api/v1/patients/{patient['id']}/evaluations").json()["items"][0]
    plan = client.post(
        f"/api/v1/patients/{patient['id']}/treatment-plans",
        json={"evaluation_id": evaluation["id"]},
    ).json()
    monday = next_weekday_at(0, 9)
    offered = proposal(patient["id"], doctor["id"], monday)
    course = [{"reference": f"CarePlan/{plan['id']}"}]
    # Another patient's course is refused when held, as when booked.
    outcome(
        client.post(
            HOLD,
            json=with_appointment(
                {**proposal(other["id"], doctor["id"], monday), "supportingInformation": course}
            ),
        ),
        422,
        "unknown-plan",
    )
    held = fhir(
        client.post(HOLD, json=with_appointment({**offered, "supportingInformation": course}))
    )
    assert held["supportingInformation"] == course
    booked_one = fhir(client.post(BOOK, json=with_appointment(held)))
    assert booked_one["supportingInformation"] == course
    sessions = client.get(f"/api/v1/treatment-plans/{plan['id']}").json()
    assert str(sessions).count(held["id"]) >= 1
