"""Bad evaluations are refused with a 4xx problem and store nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.evaluations.steps import FUTURE, NO_RISKS, evaluation_body
from tests.factories import assert_problem, count_rows


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"spider_vein_sites": ["left_elbow"]}, "spider_vein_sites"),
        ({"spider_vein_sites": []}, "spider_vein_sites"),
        ({"spider_vein_sites": ["left-calf", "left-calf"]}, "spider_vein_sites"),
        ({"ceap_class": "C9"}, "ceap_class"),
        ({"ceap_class": "c1"}, "ceap_class"),
        ({"performed_at": "2026-11-20T10:30:00"}, "performed_at"),
        ({"performed_at": FUTURE}, "performed_at"),
        ({"outcome": "eligible"}, "outcome"),
        ({"flags": []}, "flags"),
        ({"valid_until": "2030-01-01T00:00:00Z"}, "valid_until"),
        ({"varicose_veins": "treated"}, "body"),
        (
            {
                "varicose_veins": "absent",
                "varicose_treatment": {"kind": "surgery", "completed_on": "2026-01-01"},
            },
            "body",
        ),
        (
            {
                "varicose_veins": "treated",
                "varicose_treatment": {"kind": "laser", "completed_on": "2026-01-01"},
            },
            "varicose_treatment",
        ),
        ({"varicose_veins": "unsure"}, "varicose_veins"),
        ({"risks": {"hormonal_contraception": "yes"}}, "risk_factors"),
        ({"risks": {"hormonal_contraception": 1}}, "risk_factors"),
        ({"risks": {"smoking": True}}, "risk_factors"),
        ({"benefits_and_risks_explained": "true"}, "benefits_and_risks_explained"),
        ({"practitioner_id": "dr-who"}, "practitioner_id"),
        ({"notes": "x" * 4001}, "notes"),
        ({"weight_kg": -3}, "weight_kg"),
        ({"weight_kg": 0.5}, "weight_kg"),  # grams typed as kilograms?
        ({"weight_kg": 401}, "weight_kg"),
        (
            {
                "varicose_veins": "treated",
                "varicose_treatment": {"kind": "surgery", "completed_on": "1800-01-01"},
            },
            "varicose_treatment",
        ),
        (
            # Recorded as treated a year after the evaluation found them treated.
            {
                "performed_at": "2026-01-10T10:00:00+00:00",
                "varicose_veins": "treated",
                "varicose_treatment": {"kind": "surgery", "completed_on": "2026-06-01"},
            },
            "body",
        ),
    ],
)
def test_bad_evaluations_are_422_and_store_nothing(
    client: TestClient, engine: Engine, people: tuple[str, str], changes: dict[str, Any], field: str
) -> None:
    patient_id, practitioner_id = people
    body = {**evaluation_body(practitioner_id), **changes}
    if "risks" in changes:
        body["risk_factors"] = {**NO_RISKS, **body.pop("risks")}
    response = client.post(f"/api/v1/patients/{patient_id}/evaluations", json=body)
    problem = assert_problem(response, 422, "validation-error")
    if field == "body":  # a rule across fields: its message names the field at fault
        assert any("varicose_treatment" in e["msg"] for e in problem["errors"]), problem
    else:
        assert any(field in error["loc"] for error in problem["errors"]), problem["errors"]
    assert count_rows(engine, "evaluations") == 0


def test_unknown_references(client: TestClient, engine: Engine, people: tuple[str, str]) -> None:
    patient_id, practitioner_id = people
    body = evaluation_body(str(uuid.uuid4()))
    assert_problem(
        client.post(f"/api/v1/patients/{patient_id}/evaluations", json=body),
        422,
        "unknown-practitioner",
    )
    missing = uuid.uuid4()
    assert_problem(
        client.post(
            f"/api/v1/patients/{missing}/evaluations", json=evaluation_body(practitioner_id)
        ),
        404,
        "not-found",
    )
    assert_problem(client.get(f"/api/v1/patients/{missing}/evaluations"), 404, "not-found")
    assert_problem(client.get(f"/api/v1/patients/{missing}/eligibility"), 404, "not-found")
    assert_problem(client.get(f"/api/v1/evaluations/{missing}"), 404, "not-found")
    assert_problem(
        client.post(
            f"/api/v1/evaluations/{missing}/clearance",
            json={"practitioner_id": practitioner_id, "reason": "x"},
        ),
        404,
        "not-found",
    )
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM evaluations")).scalar_one() == 0
