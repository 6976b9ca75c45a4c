"""Holds: a slot kept for a patient while they confirm, taken for everyone else until it is
booked, released or expires, and refused exactly as booking it would be."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import (
    WEEKDAYS_9_TO_17,
    Clock,
    assert_problem,
    count_rows,
    eligible_patient,
    new_patient,
    new_practitioner,
    next_weekday_at,
    record_evaluation,
)
from tests.sessions.steps import book, booked, ok


def hold(client: TestClient, **body: Any) -> Any:
    if isinstance(body.get("start"), datetime):
        body["start"] = body["start"].isoformat()
    return client.post("/api/v1/holds", json=body)


def held(client: TestClient, **body: Any) -> dict[str, Any]:
    response = hold(client, **body)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/api/v1/holds/{response.json()['id']}"
    result: dict[str, Any] = response.json()
    return result


def free_starts(client: TestClient, doctor_id: str, day: datetime) -> set[datetime]:
    answer = ok(
        client.get(
            f"/api/v1/practitioners/{doctor_id}/slots",
            params={"from": day.isoformat(), "to": (day + timedelta(hours=3)).isoformat()},
        )
    )
    return {datetime.fromisoformat(s["start"]) for s in answer["slots"]}


def test_a_held_slot_is_taken_for_everyone_else_until_booked_with_its_hold(
    client: TestClient, engine: Engine
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    other = eligible_patient(client, doctor["id"], given_name="Other")
    monday = next_weekday_at(0, 10)
    assert monday in free_starts(client, doctor["id"], monday)

    kept = held(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    expires = datetime.fromisoformat(kept["expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    assert datetime.fromisoformat(kept["end"]) == monday + timedelta(minutes=45)
    assert ok(client.get(f"/api/v1/holds/{kept['id']}")) == kept

    # No one else gets it: slot search, another hold, a booking, even the patient's own
    # booking without the hold.
    assert monday not in free_starts(client, doctor["id"], monday)
    later = monday + timedelta(minutes=30)
    assert_problem(
        hold(client, patient_id=other["id"], practitioner_id=doctor["id"], start=later),
        409,
        "slot-taken",
    )
    for who in (other, patient):
        assert_problem(
            book(client, patient_id=who["id"], practitioner_id=doctor["id"], start=later),
            409,
            "slot-taken",
        )
    # The REST session routes never show a hold.
    assert_problem(client.get(f"/api/v1/sessions/{kept['id']}"), 404, "not-found")
    assert_problem(client.post(f"/api/v1/sessions/{kept['id']}/check-in"), 404, "not-found")
    assert ok(client.get("/api/v1/sessions", params={"practitioner_id": doctor["id"]})) == {
        "items": [],
        "next_cursor": None,
    }

    session = booked(client, hold_id=kept["id"])
    assert session["id"] == kept["id"]
    assert session["status"] == "booked"
    assert (session["patient_id"], session["practitioner_id"]) == (patient["id"], doctor["id"])
    assert datetime.fromisoformat(session["start"]) == monday
    assert [e["action"] for e in session["history"]] == ["book"]
    assert_problem(client.get(f"/api/v1/holds/{kept['id']}"), 404, "not-found")
    assert_problem(book(client, hold_id=kept["id"]), 409, "hold-expired")
    assert count_rows(engine, "treatment_sessions") == 1


def test_an_expired_hold_frees_its_slot_with_no_job_to_run(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    other = eligible_patient(client, doctor["id"], given_name="Other")
    monday = next_weekday_at(0, 10)
    kept = held(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)

    clock.travel_to(datetime.fromisoformat(kept["expires_at"]) + timedelta(seconds=1))
    assert monday in free_starts(client, doctor["id"], monday)
    assert_problem(client.get(f"/api/v1/holds/{kept['id']}"), 404, "not-found")
    # Someone else books over it: on PostgreSQL the exclusion constraint still counted the
    # expired row, so the booking removed it first.
    taken = booked(client, patient_id=other["id"], practitioner_id=doctor["id"], start=monday)
    assert taken["id"] != kept["id"]
    assert count_rows(engine, "treatment_sessions") == 1
    assert_problem(book(client, hold_id=kept["id"]), 409, "hold-expired")


def test_an_expired_hold_gives_way_to_a_new_hold_of_the_slot(
    client: TestClient, clock: Clock
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 10)
    first = held(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    clock.travel_to(datetime.fromisoformat(first["expires_at"]) + timedelta(minutes=1))
    again = held(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    assert again["id"] != first["id"]
    assert booked(client, hold_id=again["id"])["id"] == again["id"]


def test_a_hold_is_refused_as_booking_would_be(client: TestClient, engine: Engine) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 10)
    booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    before = count_rows(engine, "treatment_sessions")

    def refused(status: int, code: str, **body: Any) -> dict[str, Any]:
        sent = {"patient_id": patient["id"], "practitioner_id": doctor["id"], **body}
        return assert_problem(hold(client, **sent), status, code)

    near = refused(422, "interval-too-short", start=monday + timedelta(days=3))
    # The session in the way is named with its day, not the moment of anything done in it.
    assert near["detail"].endswith(f"is on {monday.date().isoformat()}.")
    refused(422, "outside-availability", start=monday.replace(hour=8))
    refused(422, "in-the-past", start=datetime.now(UTC) - timedelta(hours=1))
    refused(422, "unknown-patient", start=monday + timedelta(days=21), patient_id=str(uuid.uuid4()))
    refused(
        422,
        "unknown-practitioner",
        start=monday + timedelta(days=21),
        practitioner_id=str(uuid.uuid4()),
    )
    refused(422, "validation-error", start=monday + timedelta(days=21), duration_minutes=61)
    refused(422, "validation-error", start=(monday + timedelta(days=21)).replace(tzinfo=None))
    refused(422, "unknown-plan", start=monday + timedelta(days=21), plan_id=str(uuid.uuid4()))
    varicose = new_patient(client, given_name="Varicose")
    record_evaluation(
        client, varicose["id"], doctor["id"], ceap_class="C2", varicose_veins="present"
    )
    blocked = refused(
        409, "eligibility-blocked", start=monday + timedelta(days=21), patient_id=varicose["id"]
    )
    assert "varicose-treatment-first" in {flag["code"] for flag in blocked["flags"]}
    assert count_rows(engine, "treatment_sessions") == before


def test_booking_a_hold_checks_everything_again(client: TestClient, engine: Engine) -> None:
    """Between the hold and the booking the patient's evaluation may change: a hold is no
    pass around the eligibility rules."""
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 10)
    kept = held(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    record_evaluation(
        client, patient["id"], doctor["id"], ceap_class="C2", varicose_veins="present"
    )
    blocked = assert_problem(book(client, hold_id=kept["id"]), 409, "eligibility-blocked")
    assert "varicose-treatment-first" in {flag["code"] for flag in blocked["flags"]}
    assert ok(client.get(f"/api/v1/holds/{kept['id']}"))["id"] == kept["id"]  # still held
    assert count_rows(engine, "session_events") == 0


def test_booking_a_hold_takes_only_what_matches_it(client: TestClient) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 10)
    kept = held(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday,
        duration_minutes=30,
    )
    mismatch = assert_problem(
        book(client, hold_id=kept["id"], start=(monday + timedelta(minutes=15)).isoformat()),
        422,
        "hold-mismatch",
    )
    assert mismatch["fields"] == ["start"]
    assert_problem(book(client, hold_id=kept["id"], duration_minutes=45), 422, "hold-mismatch")
    assert_problem(book(client, hold_id=str(uuid.uuid4())), 409, "hold-expired")
    assert_problem(book(client, hold_id="not-a-uuid"), 422, "validation-error")
    assert_problem(book(client, practitioner_id=doctor["id"]), 422, "validation-error")
    session = booked(
        client,
        hold_id=kept["id"],
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday.isoformat(),
        duration_minutes=30,
    )
    assert datetime.fromisoformat(session["end"]) == monday + timedelta(minutes=30)


def test_a_released_hold_frees_its_slot(client: TestClient, engine: Engine) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 10)
    kept = held(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    response = client.delete(f"/api/v1/holds/{kept['id']}")
    assert response.status_code == 204, response.text
    assert monday in free_starts(client, doctor["id"], monday)
    assert count_rows(engine, "treatment_sessions") == 0
    assert_problem(client.delete(f"/api/v1/holds/{kept['id']}"), 404, "not-found")
    assert_problem(client.delete("/api/v1/holds/not-a-uuid"), 422, "validation-error")
    actions = [
        e["action"]
        for e in ok(client.get("/api/v1/audit-events", params={"resource_id": kept["id"]}))["items"]
    ]
    assert {"hold", "release"} <= set(actions)
