"""Clearances: a clinician's documented decision lifts relative contraindications only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.evaluations.steps import evaluation_body, record
from tests.factories import assert_problem, count_rows


def test_pill_needs_a_clearance_with_a_reason(client: TestClient, people: tuple[str, str]) -> None:
    patient_id, practitioner_id = people
    evaluation = record(
        client, patient_id, evaluation_body(practitioner_id, risks={"hormonal_contraception": True})
    )
    url = f"/api/v1/evaluations/{evaluation['id']}/clearance"
    assert client.get(f"/api/v1/patients/{patient_id}/eligibility").json()["bookable"] is False
    assert_problem(
        client.post(url, json={"practitioner_id": practitioner_id, "reason": "  "}),
        422,
        "validation-error",
    )
    assert_problem(
        client.post(url, json={"practitioner_id": practitioner_id}), 422, "validation-error"
    )
    assert_problem(
        client.post(url, json={"practitioner_id": practitioner_id, "reason": "\u200b"}),
        422,
        "validation-error",
    )
    assert_problem(
        client.post(url, json={"practitioner_id": str(uuid.uuid4()), "reason": "ok"}),
        422,
        "unknown-practitioner",
    )

    cleared = client.post(
        url, json={"practitioner_id": practitioner_id, "reason": "Low-dose pill, no other risk."}
    )
    assert cleared.status_code == 201
    body = cleared.json()
    assert body["outcome"] == "eligible"
    assert [f["code"] for f in body["flags"]] == ["hormonal-contraception"]  # still shown
    assert body["clearance"]["reason"] == "Low-dose pill, no other risk."
    assert body["clearance"]["practitioner_id"] == practitioner_id
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert standing["bookable"] is True
    assert standing["clearance"] == body["clearance"]
    again = client.post(url, json={"practitioner_id": practitioner_id, "reason": "twice"})
    assert_problem(again, 409, "already-cleared")


@pytest.mark.parametrize(
    "changes",
    [
        {"risks": {"sclerosant_allergy": True}},
        {"risks": {"hormonal_contraception": True, "acute_thrombosis": True}},
        {"varicose_veins": "present", "risks": {"hormonal_contraception": True}},
        {"benefits_and_risks_explained": False, "risks": {"history_of_blood_clots": True}},
        {"risks": {"hormonal_contraception": True, "pregnancy": None}},
        {},
    ],
)
def test_what_a_clearance_cannot_lift(
    client: TestClient, engine: Engine, people: tuple[str, str], changes: dict[str, Any]
) -> None:
    patient_id, practitioner_id = people
    evaluation = record(client, patient_id, evaluation_body(practitioner_id, **changes))
    response = client.post(
        f"/api/v1/evaluations/{evaluation['id']}/clearance",
        json={"practitioner_id": practitioner_id, "reason": "Trying anyway"},
    )
    body = assert_problem(response, 409, "not-clearable")
    assert body["outcome"] == evaluation["outcome"]
    assert count_rows(engine, "clearances") == 0
    evaluation.pop("affected_sessions")
    assert client.get(f"/api/v1/evaluations/{evaluation['id']}").json() == evaluation


def test_only_the_current_valid_evaluation_can_be_cleared(
    client: TestClient, engine: Engine, people: tuple[str, str]
) -> None:
    patient_id, practitioner_id = people
    pill = {"risks": {"hormonal_contraception": True}}
    clearance = {"practitioner_id": practitioner_id, "reason": "Reviewed with the patient."}

    long_ago = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    expired = record(client, patient_id, evaluation_body(practitioner_id, performed_at=long_ago))
    response = client.post(f"/api/v1/evaluations/{expired['id']}/clearance", json=clearance)
    assert_problem(response, 409, "not-clearable")

    older = record(
        client,
        patient_id,
        evaluation_body(
            practitioner_id,
            performed_at=(datetime.now(UTC) - timedelta(days=5)).isoformat(),
            **pill,
        ),
    )
    current = record(client, patient_id, evaluation_body(practitioner_id, **pill))
    response = client.post(f"/api/v1/evaluations/{older['id']}/clearance", json=clearance)
    body = assert_problem(response, 409, "not-clearable")
    assert body["current_evaluation_id"] == current["id"]
    assert count_rows(engine, "clearances") == 0

    client.delete(f"/api/v1/patients/{patient_id}")
    response = client.post(f"/api/v1/evaluations/{current['id']}/clearance", json=clearance)
    assert_problem(response, 409, "patient-archived")
    assert count_rows(engine, "clearances") == 0
