"""A patient's standing read for many at once (`standings`: a calendar's review) is the one
read for one (`current_eligibility`: booking, completion, proposals): two statements, one set
of rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.evaluations.service import current_eligibility, standings
from tests.evaluations.steps import evaluation_body, record
from tests.factories import new_patient, new_practitioner


def _ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def test_the_standing_of_many_is_each_ones_own(client: TestClient, engine: Engine) -> None:
    doctor = new_practitioner(client)["id"]
    ids = [new_patient(client, given_name=f"P{i}")["id"] for i in range(7)]
    none, eligible, pill, cleared, backdated, expired, archived = ids
    record(client, eligible, evaluation_body(doctor))
    record(client, pill, evaluation_body(doctor, risks={"hormonal_contraception": True}))
    on_pill = record(
        client, cleared, evaluation_body(doctor, risks={"hormonal_contraception": True})
    )
    clearance = {"practitioner_id": doctor, "reason": "Low-dose pill, no other risk."}
    response = client.post(f"/api/v1/evaluations/{on_pill['id']}/clearance", json=clearance)
    assert response.status_code == 201, response.text
    record(client, backdated, evaluation_body(doctor))
    record(
        client,
        backdated,
        evaluation_body(doctor, performed_at=_ago(20), risks={"immobility": True}),
    )
    record(client, expired, evaluation_body(doctor, performed_at=_ago(800)))
    record(client, archived, evaluation_body(doctor))
    assert client.delete(f"/api/v1/patients/{archived}").status_code == 200

    asked = [uuid.UUID(i) for i in ids] + [uuid.uuid4()]  # an unknown id is left out
    now = datetime.now(UTC)
    with Session(engine) as db:
        full = standings(db=db, patient_ids=asked, now=now)
        each = {p: current_eligibility(db=db, patient_id=p, now=now) for p in full}
    assert set(full) == set(asked[:-1])
    for patient_id, standing in full.items():
        seen = each[patient_id]
        assert (seen.bookable, seen.outcome, seen.flags) == (
            standing.bookable,
            standing.outcome,
            standing.flags,
        )
        assert (seen.evaluation_id, seen.valid_until) == (
            standing.evaluation_id,
            standing.valid_until,
        )
        for until in (now, now + timedelta(days=30), now + timedelta(days=400)):
            assert seen.obstacles(until) == standing.obstacles(until)
    outcomes = {str(i): full[uuid.UUID(i)].outcome.value for i in ids}
    assert outcomes == {
        none: "evaluation-missing",
        eligible: "eligible",
        pill: "clearance-required",
        cleared: "eligible",
        backdated: "contraindicated",
        expired: "evaluation-expired",
        archived: "patient-archived",
    }
