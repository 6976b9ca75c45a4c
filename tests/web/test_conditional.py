"""Conditional requests: every change to a record with an ETag honours If-Match (412 when the
record changed since it was read; 428 without it, when the server requires it), and a GET
honours If-None-Match (304)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.main import create_app
from tests.factories import (
    WEEKDAYS_9_TO_17,
    ApiClient,
    Clock,
    assert_problem,
    dispose,
    eligible_patient,
    new_patient,
    new_practitioner,
    next_weekday_at,
    record_evaluation,
    table_snapshot,
)

STALE = {"If-Match": 'W/"999"'}


def _booked(client: TestClient) -> dict[str, Any]:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    answer = client.post(
        "/api/v1/sessions",
        json={
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": next_weekday_at(2, 10).isoformat(),
        },
    )
    assert answer.status_code == 201, answer.text
    booked: dict[str, Any] = answer.json()
    return booked


def test_session_steps_refuse_a_stale_if_match_and_change_nothing(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    visit = _booked(client)
    path = f"/api/v1/sessions/{visit['id']}"
    before = table_snapshot(engine, "treatment_sessions", "session_events")
    moved = {"start": next_weekday_at(2, 14).isoformat()}
    for step, body in (
        ("reschedule", moved),
        ("cancel", {"reason": "Patient asked"}),
        ("entered-in-error", {"reason": "Wrong patient"}),
        ("check-in", None),
        (
            "complete",
            {
                "treated_sites": ["left-calf"],
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2,
            },
        ),
    ):
        refused = client.post(f"{path}/{step}", json=body, headers=STALE)
        assert_problem(refused, 412, "version-mismatch")
    assert table_snapshot(engine, "treatment_sessions", "session_events") == before
    etag = client.get(path).headers["etag"]
    assert (
        client.post(f"{path}/reschedule", json=moved, headers={"If-Match": etag}).status_code == 200
    )
    # The version moved on: the ETag read before the move is now stale.
    assert_problem(
        client.post(f"{path}/cancel", json={"reason": "x"}, headers={"If-Match": etag}),
        412,
        "version-mismatch",
    )


def test_clearance_and_archive_honour_if_match(client: TestClient) -> None:
    doctor = new_practitioner(client)
    patient = new_patient(client)
    evaluation = record_evaluation(
        client, patient["id"], doctor["id"], risks={"hormonal_contraception": True}
    )
    path = f"/api/v1/evaluations/{evaluation['id']}"
    read = client.get(path)
    assert read.headers["etag"] == 'W/"1"'  # not cleared yet
    clearance = {"practitioner_id": doctor["id"], "reason": "Pill stopped three months ago"}
    stale = client.post(f"{path}/clearance", json=clearance, headers={"If-Match": 'W/"2"'})
    assert_problem(stale, 412, "version-mismatch")
    cleared = client.post(f"{path}/clearance", json=clearance, headers={"If-Match": 'W/"1"'})
    assert (cleared.status_code, cleared.headers["etag"]) == (201, 'W/"2"')
    archive = f"/api/v1/patients/{patient['id']}"
    assert_problem(client.delete(archive, headers=STALE), 412, "version-mismatch")
    assert client.get(archive).json()["archived"] is False
    etag = client.get(archive).headers["etag"]
    assert client.delete(archive, headers={"If-Match": etag}).json()["archived"] is True


def test_a_server_that_requires_if_match_refuses_a_change_without_it(
    app: FastAPI, client: TestClient
) -> None:
    settings: Settings = app.state.settings
    strict = create_app(settings.model_copy(update={"require_if_match": True}))
    desk = ApiClient(strict, raise_server_exceptions=False, headers=client.headers)
    try:
        patient = new_patient(client)
        path = f"/api/v1/patients/{patient['id']}"
        assert_problem(desk.patch(path, json={"phone": "+33 1"}), 428, "precondition-required")
        assert_problem(desk.delete(path), 428, "precondition-required")
        etag = desk.get(path).headers["etag"]
        assert (
            desk.patch(path, json={"phone": "+33 1"}, headers={"If-Match": etag}).status_code == 200
        )
        assert (
            desk.post("/api/v1/patients", json={**patient_body()}).status_code == 201
        )  # no record yet
    finally:
        dispose(strict)


def patient_body() -> dict[str, str]:
    return {"given_name": "Ines", "family_name": "Roy", "birth_date": "1980-01-01", "sex": "female"}


def test_a_get_answers_304_to_the_etag_the_client_holds(client: TestClient) -> None:
    patient = new_patient(client)
    path = f"/api/v1/patients/{patient['id']}"
    etag = client.get(path).headers["etag"]
    same = client.get(path, headers={"If-None-Match": etag})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
    assert client.get(path, headers={"If-None-Match": f'"x", {etag}'}).status_code == 304
    assert client.head(path, headers={"If-None-Match": etag}).status_code == 304
    client.patch(path, json={"phone": "+33 1"})
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["phone"] == "+33 1"
