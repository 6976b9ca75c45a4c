"""Booking: what is refused, the evaluation it needs, the 14-day rule, and the calendar's lists."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import (
    WEEKDAYS_9_TO_17,
    assert_problem,
    count_rows,
    eligible_patient,
    new_patient,
    new_practitioner,
    next_weekday_at,
    record_evaluation,
)
from tests.sessions.steps import (
    PARIS,
    at,
    book,
    booked,
    next_spring_forward_monday,
    ok,
)


def test_booking_refusals(client: TestClient, engine: Engine, doctor: dict[str, Any]) -> None:
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 9)
    first = booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    assert first["end"] == (monday + timedelta(minutes=45)).astimezone(UTC).isoformat().replace(
        "+00:00", "Z"
    )
    before = count_rows(engine, "treatment_sessions")

    def refused(status: int, code: str, **body: Any) -> None:
        assert_problem(
            book(client, **{"patient_id": patient["id"], "practitioner_id": doctor["id"], **body}),
            status,
            code,
        )

    refused(422, "outside-availability", start=monday.replace(hour=8))
    refused(422, "outside-availability", start=monday.replace(hour=16, minute=30))
    refused(422, "outside-availability", start=monday + timedelta(days=5))  # Saturday
    refused(422, "interval-too-short", start=monday + timedelta(days=10))  # Thursday week
    refused(422, "in-the-past", start=datetime.now(UTC) - timedelta(days=1))
    refused(422, "validation-error", start=monday + timedelta(days=21), duration_minutes=61)
    refused(422, "validation-error", start=(monday + timedelta(days=21)).replace(tzinfo=None))
    refused(422, "unknown-patient", start=monday + timedelta(days=21), patient_id=str(uuid.uuid4()))
    refused(
        422,
        "unknown-practitioner",
        start=monday + timedelta(days=21),
        practitioner_id=str(uuid.uuid4()),
    )
    refused(422, "unknown-plan", start=monday + timedelta(days=21), plan_id=str(uuid.uuid4()))
    # The same patient with another practitioner at an overlapping time.
    colleague = new_practitioner(client, name="Dr B", availability=WEEKDAYS_9_TO_17)
    refused(
        409, "slot-taken", start=monday + timedelta(minutes=30), practitioner_id=colleague["id"]
    )
    ok(
        client.post(
            f"/api/v1/practitioners/{doctor['id']}/time-off",
            json={
                "start": (monday + timedelta(days=21)).isoformat(),
                "end": (monday + timedelta(days=22)).isoformat(),
                "reason": "Leave",
            },
        )
    )
    refused(422, "outside-availability", start=monday + timedelta(days=21, hours=2))
    ok(client.patch(f"/api/v1/practitioners/{colleague['id']}", json={"active": False}))
    refused(
        422,
        "inactive-practitioner",
        start=monday + timedelta(days=28),
        practitioner_id=colleague["id"],
    )
    ok(client.delete(f"/api/v1/patients/{patient['id']}"))
    refused(409, "patient-archived", start=monday + timedelta(days=28))
    assert count_rows(engine, "treatment_sessions") == before


def test_booking_needs_an_evaluation_valid_through_the_session(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    patient = new_patient(client)
    monday = next_weekday_at(0, 9)
    body = assert_problem(
        book(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday),
        409,
        "eligibility-blocked",
    )
    assert body["flags"][0]["code"] == "evaluation-missing"
    eleven_months_ago = datetime.now(UTC) - timedelta(days=340)
    record_evaluation(
        client, patient["id"], doctor["id"], performed_at=eleven_months_ago.isoformat()
    )
    body = assert_problem(
        book(
            client,
            patient_id=patient["id"],
            practitioner_id=doctor["id"],
            start=next_weekday_at(0, 9, weeks_ahead=5),
        ),
        409,
        "eligibility-blocked",
    )
    assert body["flags"][0]["code"] == "evaluation-expires-before-session"
    # The refusal's text names the reason, not the evaluation's outcome (which is `eligible`).
    assert "evaluation-expires-before-session: The evaluation is valid until" in body["detail"]
    assert not body["detail"].endswith("eligible.")
    pill = new_patient(client, given_name="Pill")
    evaluation = record_evaluation(
        client, pill["id"], doctor["id"], risks={"hormonal_contraception": True}
    )
    body = assert_problem(
        book(client, patient_id=pill["id"], practitioner_id=doctor["id"], start=monday),
        409,
        "eligibility-blocked",
    )
    assert body["outcome"] == "clearance-required"
    ok(
        client.post(
            f"/api/v1/evaluations/{evaluation['id']}/clearance",
            json={"practitioner_id": doctor["id"], "reason": "Reviewed"},
        )
    )
    assert (
        book(client, patient_id=pill["id"], practitioner_id=doctor["id"], start=monday).status_code
        == 201
    )


def test_session_list_filters_and_pages(client: TestClient, doctor: dict[str, Any]) -> None:
    patients = [eligible_patient(client, doctor["id"], given_name=f"P{i}") for i in range(3)]
    monday = next_weekday_at(0, 9)
    made = [
        booked(
            client,
            patient_id=p["id"],
            practitioner_id=doctor["id"],
            start=monday + timedelta(hours=i),
        )
        for i, p in enumerate(patients)
    ]
    ok(client.post(f"/api/v1/sessions/{made[1]['id']}/cancel", json={"reason": "x"}))
    everything = client.get("/api/v1/sessions", params={"practitioner_id": doctor["id"]}).json()
    assert [s["id"] for s in everything["items"]] == [s["id"] for s in made]
    live = client.get("/api/v1/sessions", params={"status": "booked"}).json()["items"]
    assert [s["id"] for s in live] == [made[0]["id"], made[2]["id"]]
    mine = client.get("/api/v1/sessions", params={"patient_id": patients[2]["id"]}).json()["items"]
    assert [s["id"] for s in mine] == [made[2]["id"]]
    window = client.get(
        "/api/v1/sessions",
        params={
            "from": (monday + timedelta(minutes=50)).isoformat(),
            "to": (monday + timedelta(hours=2)).isoformat(),
        },
    ).json()
    assert [s["id"] for s in window["items"]] == [made[1]["id"]]
    page = client.get("/api/v1/sessions", params={"limit": 2}).json()
    rest = client.get("/api/v1/sessions", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [s["id"] for s in page["items"] + rest["items"]] == [s["id"] for s in made]
    assert_problem(
        client.get("/api/v1/sessions", params={"status": "maybe"}), 422, "validation-error"
    )


def test_fourteen_days_are_counted_on_the_clinics_calendar_across_daylight_saving(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    monday = next_spring_forward_monday()
    two_weeks_on = datetime.combine(monday.date() + timedelta(days=14), monday.time(), PARIS)
    elapsed = two_weeks_on.astimezone(UTC) - monday.astimezone(UTC)
    assert elapsed == timedelta(days=14, hours=-1)  # the clocks went forward meanwhile
    patient = eligible_patient(client, doctor["id"])
    booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=two_weeks_on)
    # Thirteen calendar days is still too soon.
    other = eligible_patient(client, doctor["id"], given_name="Other")
    tuesday = monday + timedelta(days=1, hours=1)
    booked(client, patient_id=other["id"], practitioner_id=doctor["id"], start=tuesday)
    too_soon = datetime.combine(tuesday.date() + timedelta(days=13), tuesday.time(), PARIS)
    assert_problem(
        book(client, patient_id=other["id"], practitioner_id=doctor["id"], start=too_soon),
        422,
        "interval-too-short",
    )


def test_a_refusal_names_the_session_in_the_way_and_a_move_is_not_in_its_own_way(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    first, second = (eligible_patient(client, doctor["id"]) for _ in range(2))
    monday = next_weekday_at(0, 9)
    taken = booked(client, patient_id=first["id"], practitioner_id=doctor["id"], start=monday)
    clash = assert_problem(
        book(
            client,
            patient_id=second["id"],
            practitioner_id=doctor["id"],
            start=monday + timedelta(minutes=30),
        ),
        409,
        "slot-taken",
    )
    assert clash["session_id"] == taken["id"]
    # Moved by a quarter of an hour: it overlaps its old time and is within 14 days of it.
    moved = client.post(
        f"/api/v1/sessions/{taken['id']}/reschedule",
        json={"start": (monday + timedelta(minutes=15)).isoformat()},
    )
    assert moved.status_code == 200, moved.text
    assert at(moved.json()["start"]) == monday + timedelta(minutes=15)
