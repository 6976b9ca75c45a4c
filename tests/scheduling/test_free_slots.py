"""Free slots through the API: bookings and time off taken out, bad queries refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import (
    assert_problem,
    eligible_patient,
    new_patient,
    next_weekday_at,
    record_evaluation,
)
from tests.sessions.steps import (
    PARIS,
    at,
    booked,
    ok,
)


def test_free_slots_avoid_bookings_and_time_off(client: TestClient, doctor: dict[str, Any]) -> None:
    monday = next_weekday_at(0, 9)
    patient = eligible_patient(client, doctor["id"])
    booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday + timedelta(hours=1),
    )
    ok(
        client.post(
            f"/api/v1/practitioners/{doctor['id']}/time-off",
            json={
                "start": (monday + timedelta(hours=5)).isoformat(),
                "end": (monday + timedelta(hours=8)).isoformat(),
                "reason": "Training",
            },
        )
    )
    response = client.get(
        f"/api/v1/practitioners/{doctor['id']}/slots",
        params={
            "from": monday.isoformat(),
            "to": (monday + timedelta(hours=8)).isoformat(),
            "duration_minutes": 60,
        },
    )
    body = response.json()
    assert body["time_zone"] == "Europe/Paris"
    walls = [at(s["start"]).astimezone(PARIS).strftime("%H:%M") for s in body["slots"]]
    assert walls == [
        "09:00",
        "10:45",  # right after the 10:00-10:45 booking
        "11:00",
        "11:15",
        "11:30",
        "11:45",
        "12:00",
        "12:15",
        "12:30",
        "12:45",
        "13:00",
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2027-01-01T00:00:00Z", "to": "2027-02-05T00:00:00Z"},
        {"from": "2027-01-05T00:00:00Z", "to": "2027-01-01T00:00:00Z"},
        {"from": "2027-01-01T00:00:00Z", "to": "2027-01-02T00:00:00Z", "duration_minutes": 90},
        {"from": "2027-01-01T00:00:00", "to": "2027-01-02T00:00:00Z"},
        {"to": "2027-01-02T00:00:00Z"},
    ],
)
def test_bad_slot_queries(
    client: TestClient, doctor: dict[str, Any], params: dict[str, Any]
) -> None:
    response = client.get(f"/api/v1/practitioners/{doctor['id']}/slots", params=params)
    assert response.status_code == 422
    assert response.json()["code"] in {"invalid-range", "validation-error"}


def test_proposals_stop_where_the_evaluation_stops_being_valid(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    patient = new_patient(client)
    performed = datetime.now(UTC) - timedelta(days=350)  # valid for about 15 more days
    evaluation = record_evaluation(
        client, patient["id"], doctor["id"], performed_at=performed.isoformat()
    )
    result = ok(
        client.post(
            "/api/v1/scheduling/proposals",
            json={
                "patient_id": patient["id"],
                "earliest": datetime.now(PARIS).date().isoformat(),
                "sessions": 3,
            },
        )
    )
    assert result["blocked"] is False
    valid_until = at(evaluation["valid_until"])
    assert all(at(p["end"]) <= valid_until for p in result["proposals"])
    assert [u["sequence"] for u in result["unplaced"]] == [2, 3]
    assert all("evaluation" in u["reason"] for u in result["unplaced"])
    for proposal in result["proposals"]:  # what is proposed can be booked
        booked(
            client,
            patient_id=patient["id"],
            practitioner_id=proposal["practitioner_id"],
            start=proposal["start"],
        )


@pytest.mark.parametrize("earliest", ["9999-12-20", "1000-01-01", "2027-13-01", "tomorrow"])
def test_proposals_refuse_an_implausible_earliest_day(
    client: TestClient, doctor: dict[str, Any], earliest: str
) -> None:
    patient = eligible_patient(client, doctor["id"])
    response = client.post(
        "/api/v1/scheduling/proposals", json={"patient_id": patient["id"], "earliest": earliest}
    )
    assert_problem(response, 422, "validation-error")
