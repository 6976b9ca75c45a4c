"""Bad consents and withdrawals are refused with a 4xx problem naming the field, and store
nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import (
    RISKS_EXPLAINED,
    assert_problem,
    consent_body,
    consented,
    count_rows,
    new_patient,
    new_practitioner,
    table_snapshot,
)

FOAM = ["visual-disturbance", "neurological-disturbance"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"procedure": "foam-sclerotherapy"}, "procedure"),
        ({"procedure": "Micro-Sclerotherapy"}, "procedure"),
        ({"procedure": None}, "procedure"),
        ({"risks_explained": [*RISKS_EXPLAINED, "bruising"]}, "risks_explained"),
        ({"risks_explained": [*RISKS_EXPLAINED, "matting"]}, "risks_explained"),
        ({"risks_explained": RISKS_EXPLAINED[1:]}, "risks_explained"),  # no hyperpigmentation
        ({"risks_explained": FOAM}, "risks_explained"),
        ({"risks_explained": []}, "risks_explained"),
        ({"risks_explained": "matting"}, "risks_explained"),
        ({"obtained_at": "2026-11-20T10:30:00"}, "obtained_at"),  # no offset
        ({"obtained_at": "20/11/2026"}, "obtained_at"),
        ({"obtained_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, "obtained_at"),
        ({"obtained_at": "1975-05-01T10:00:00+00:00"}, "obtained_at"),  # before the birth
        ({"document_version": ""}, "document_version"),
        ({"document_version": "   "}, "document_version"),
        ({"document_version": "v" * 65}, "document_version"),
        ({"document_version": "v4\u202e"}, "document_version"),
        ({"document_version": 4}, "document_version"),
        ({"practitioner_id": "dr-who"}, "practitioner_id"),
        ({"status": "active"}, "status"),
        ({"withdrawn_at": "2026-11-20T10:30:00+00:00"}, "withdrawn_at"),
    ],
)
def test_bad_consents_are_422_and_store_nothing(
    client: TestClient, engine: Engine, changes: dict[str, Any], field: str
) -> None:
    patient = new_patient(client, birth_date="1984-03-12")["id"]
    doctor = new_practitioner(client)["id"]
    body = {**consent_body(doctor), **changes}
    answer = client.post(f"/api/v1/patients/{patient}/consents", json=body)
    problem = assert_problem(answer, 422, "validation-error")
    assert any(field in error["loc"] for error in problem["errors"]), problem["errors"]
    assert count_rows(engine, "consents") == 0


def test_a_risk_missing_is_named(client: TestClient) -> None:
    patient = new_patient(client)["id"]
    doctor = new_practitioner(client)["id"]
    body = consent_body(doctor, risks_explained=["hyperpigmentation", "matting", *FOAM])
    answer = client.post(f"/api/v1/patients/{patient}/consents", json=body)
    [error] = assert_problem(answer, 422, "validation-error")["errors"]
    assert "allergic-reaction, extravasation, ulceration" in error["msg"]
    # Foam's risks may be explained beside the others.
    assert consented(client, patient, doctor, risks_explained=[*RISKS_EXPLAINED, *FOAM])


def test_a_body_that_is_not_a_consent_is_a_problem(client: TestClient, engine: Engine) -> None:
    patient = new_patient(client)["id"]
    url = f"/api/v1/patients/{patient}/consents"
    json = {"Content-Type": "application/json"}
    assert_problem(client.post(url, content=b"\xff\xfe\x00", headers=json), 400, "malformed-body")
    assert_problem(client.post(url, content=b"{not json", headers=json), 422, "validation-error")
    assert_problem(client.post(url, json=[]), 422, "validation-error")
    missing = assert_problem(client.post(url, json={}), 422, "validation-error")
    assert {error["loc"][-1] for error in missing["errors"]} == {
        "document_version",
        "procedure",
        "risks_explained",
        "obtained_at",
    }
    assert count_rows(engine, "consents") == 0


def test_a_consent_names_a_known_practising_practitioner(
    client: TestClient, engine: Engine
) -> None:
    patient = new_patient(client)["id"]
    unknown = str(uuid.uuid4())
    url = f"/api/v1/patients/{patient}/consents"
    problem = assert_problem(
        client.post(url, json=consent_body(unknown)), 422, "unknown-practitioner"
    )
    assert problem["field"] == "practitioner_id"
    gone = new_practitioner(client, active=False)["id"]
    assert_problem(client.post(url, json=consent_body(gone)), 422, "inactive-practitioner")
    assert count_rows(engine, "consents") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"withdrawn_at": "2026-12-01T16:00:00"}, "withdrawn_at"),
        ({"withdrawn_at": "yesterday"}, "withdrawn_at"),
        ({"withdrawn_at": None, "reason": "x" * 4001}, "reason"),
        ({"reason": "Changed\x00her mind"}, "reason"),
        ({"reason": 12}, "reason"),
        ({"status": "withdrawn"}, "status"),
    ],
)
def test_bad_withdrawals_are_422_and_change_nothing(
    client: TestClient, engine: Engine, body: dict[str, Any], field: str
) -> None:
    patient = new_patient(client)["id"]
    consent = consented(client, patient, new_practitioner(client)["id"])
    before = table_snapshot(engine, "consents")
    answer = client.post(f"/api/v1/consents/{consent['id']}/withdraw", json=body)
    problem = assert_problem(answer, 422, "validation-error")
    assert any(field in error["loc"] for error in problem["errors"]), problem["errors"]
    assert table_snapshot(engine, "consents") == before
