"""A session's life cycle: each step the status allows, and those it refuses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.factories import (
    Clock,
    assert_problem,
    new_patient,
    next_weekday_at,
    record_evaluation,
)
from tests.sessions.steps import (
    at,
    booked,
    checked_in,
)


def test_life_cycle(
    client: TestClient, engine: Engine, doctor: dict[str, Any], clock: Clock
) -> None:
    patient = new_patient(client)
    record_evaluation(client, patient["id"], doctor["id"], weight_kg=60)
    monday = next_weekday_at(0, 10)
    visit = booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    url = f"/api/v1/sessions/{visit['id']}"

    moved = client.post(
        f"{url}/reschedule",
        json={"start": (monday + timedelta(days=1)).isoformat(), "reason": "Asked"},
    )
    assert moved.status_code == 200
    history = moved.json()["history"]
    assert [h["action"] for h in history] == ["book", "reschedule"]
    assert at(history[1]["old_start"]) == monday
    assert at(moved.json()["start"]) == monday + timedelta(days=1)

    assert_problem(client.post(f"{url}/no-show"), 409, "invalid-transition")  # not started yet
    assert_problem(
        client.post(
            f"{url}/complete",
            json={
                "treated_sites": ["left-calf"],
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2,
            },
        ),
        409,
        "invalid-transition",
    )
    assert checked_in(client, clock, url)["status"] == "arrived"
    assert_problem(client.post(f"{url}/check-in"), 409, "invalid-transition")
    assert_problem(client.post(f"{url}/cancel", json={"reason": "late"}), 409, "invalid-transition")
    assert_problem(
        client.post(f"{url}/reschedule", json={"start": (monday + timedelta(days=2)).isoformat()}),
        409,
        "invalid-transition",
    )

    done = client.post(
        f"{url}/complete",
        json={
            "treated_sites": ["left-calf", "right-thigh"],
            "sclerosant": "polidocanol",
            "concentration_percent": 0.5,
            "volume_ml": 4,
            "complications": ["pain"],
        },
    )
    assert done.status_code == 200, done.text
    result = done.json()
    completion = result["session"]["completion"]
    assert result["session"]["status"] == "fulfilled"
    assert completion["dose_mg"] == 20.0
    assert completion["anaesthetic"] == "none"
    assert completion["compression"] is False
    assert completion["aftercare"] == ["walk", "avoid-prolonged-standing-or-sitting"]
    assert result["warnings"] == []
    assert result["next_follow_up"] is None  # not part of a plan
    assert_problem(client.post(f"{url}/cancel", json={"reason": "x"}), 409, "invalid-transition")
    assert (
        client.post(f"{url}/entered-in-error", json={"reason": "Wrong patient"}).json()["status"]
        == "entered-in-error"
    )
    assert_problem(
        client.post(f"{url}/entered-in-error", json={"reason": "again"}), 409, "invalid-transition"
    )

    second = booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday + timedelta(days=28),
    )
    for no_reason in ({}, {"reason": ""}, {"reason": " \n\t "}):
        assert_problem(
            client.post(f"/api/v1/sessions/{second['id']}/cancel", json=no_reason),
            422,
            "validation-error",
        )
    cancelled = client.post(
        f"/api/v1/sessions/{second['id']}/cancel", json={"reason": "Holiday"}
    ).json()
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "Holiday")
    # A cancelled session frees its time.
    booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday + timedelta(days=28),
    )

    third = booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday + timedelta(days=56),
    )
    two_hours_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)
    with engine.begin() as connection:  # let its start time pass
        connection.execute(
            text("UPDATE treatment_sessions SET start_at = :s, end_at = :e WHERE id = :id"),
            {
                "s": two_hours_ago,
                "e": two_hours_ago + timedelta(minutes=45),
                "id": uuid.UUID(third["id"]).hex
                if engine.dialect.name == "sqlite"
                else uuid.UUID(third["id"]),
            },
        )
    assert client.post(f"/api/v1/sessions/{third['id']}/no-show").json()["status"] == "noshow"
    assert_problem(client.post(f"/api/v1/sessions/{uuid.uuid4()}/check-in"), 404, "not-found")
