"""An evaluation's flags and outcome through HTTP, as the rules compute them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.auditing import AuditTrail, command_line
from app.demo import demo_id, seed_demo_clinic
from app.evaluations.schemas import RiskFactors
from app.vocabulary import RiskFactor
from tests.evaluations.steps import SEVERITY, evaluation_body, record


def test_risk_factor_fields_are_the_rules_vocabulary() -> None:
    assert set(RiskFactors.model_fields) == {factor.value for factor in RiskFactor}


def test_clean_evaluation_is_eligible_and_bookable(
    client: TestClient, people: tuple[str, str]
) -> None:
    patient_id, practitioner_id = people
    body = evaluation_body(practitioner_id, weight_kg=61.5, notes="Line 1\nLine 2")
    created = client.post(f"/api/v1/patients/{patient_id}/evaluations", json=body)
    assert created.status_code == 201
    evaluation = created.json()
    assert created.headers["location"] == f"/api/v1/evaluations/{evaluation['id']}"
    assert evaluation["outcome"] == "eligible"
    assert evaluation["flags"] == []
    assert evaluation["clearance"] is None
    assert evaluation["weight_kg"] == 61.5
    assert evaluation["notes"] == "Line 1\nLine 2"
    performed = datetime.fromisoformat(evaluation["performed_at"])
    valid_until = datetime.fromisoformat(evaluation["valid_until"])
    assert valid_until.year == performed.year + 1
    leap_day = (performed.month, performed.day) == (2, 29)  # a year later: 28 February
    expected_day = (2, 28) if leap_day else (performed.month, performed.day)
    assert (valid_until.month, valid_until.day) == expected_day
    assert valid_until.time() == performed.time()
    assert evaluation.pop("affected_sessions") == []
    assert client.get(f"/api/v1/evaluations/{evaluation['id']}").json() == evaluation

    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert standing == {
        "bookable": True,
        "outcome": "eligible",
        "flags": [],
        "evaluation_id": evaluation["id"],
        "valid_until": evaluation["valid_until"],
        "clearance": None,
    }


@pytest.mark.parametrize(
    ("changes", "outcome", "codes"),
    [
        (
            {"varicose_veins": "present", "ceap_class": "C2"},
            "varicose-treatment-first",
            ["varicose-treatment-first"],
        ),
        ({"ceap_class": "C3"}, "varicose-treatment-first", ["varicose-treatment-first"]),
        (
            {
                "ceap_class": "C2",
                "varicose_veins": "treated",
                "varicose_treatment": {
                    "kind": "endovenous-thermal-ablation",
                    "completed_on": "2026-05-04",
                },
            },
            "eligible",
            [],
        ),
        ({"spider_vein_sites": ["face"]}, "not-suitable", ["facial-veins-excluded"]),
        ({"spider_vein_sites": ["face", "left-knee"]}, "eligible", ["facial-veins-excluded"]),
        (
            {"spider_vein_sites": ["face", "left-knee"], "risks": {"thrombophilia": True}},
            "clearance-required",
            ["facial-veins-excluded", "thrombophilia"],
        ),
        ({"benefits_and_risks_explained": False}, "incomplete", ["counselling-incomplete"]),
        ({"risks": {"pregnancy": None}}, "incomplete", ["risk-factor-unknown"]),
        (
            {"risks": {"hormonal_contraception": True}},
            "clearance-required",
            ["hormonal-contraception"],
        ),
        (
            {"risks": {"history_of_blood_clots": True}},
            "clearance-required",
            ["history-of-blood-clots"],
        ),
        ({"risks": {"thrombophilia": True}}, "clearance-required", ["thrombophilia"]),
        (
            {"risks": {"hormone_replacement_therapy": True}},
            "clearance-required",
            ["hormone-replacement-therapy"],
        ),
        ({"risks": {"pregnancy": True}}, "clearance-required", ["pregnancy"]),
        ({"risks": {"breastfeeding": True}}, "clearance-required", ["breastfeeding"]),
        (
            {"risks": {"peripheral_arterial_disease": True}},
            "clearance-required",
            ["peripheral-arterial-disease"],
        ),
        ({"risks": {"sclerosant_allergy": True}}, "contraindicated", ["sclerosant-allergy"]),
        ({"risks": {"acute_thrombosis": True}}, "contraindicated", ["acute-thrombosis"]),
        ({"risks": {"local_infection": True}}, "contraindicated", ["local-infection"]),
        ({"risks": {"immobility": True}}, "contraindicated", ["immobility"]),
        ({"risks": {"right_to_left_shunt": True}}, "contraindicated", ["right-to-left-shunt"]),
        (
            {
                "spider_vein_sites": ["face"],
                "varicose_veins": "present",
                "risks": {"immobility": True},
            },
            "contraindicated",
            ["varicose-treatment-first", "facial-veins-excluded", "immobility"],
        ),
        (
            {
                "varicose_veins": "present",
                "benefits_and_risks_explained": False,
                "risks": {"hormonal_contraception": True},
            },
            "varicose-treatment-first",
            ["varicose-treatment-first", "counselling-incomplete", "hormonal-contraception"],
        ),
        # not-suitable > varicose-treatment-first, incomplete and clearance-required
        (
            {"spider_vein_sites": ["face"], "varicose_veins": "present", "ceap_class": "C2"},
            "not-suitable",
            ["varicose-treatment-first", "facial-veins-excluded"],
        ),
        (
            {"spider_vein_sites": ["face"], "risks": {"hormonal_contraception": True}},
            "not-suitable",
            ["facial-veins-excluded", "hormonal-contraception"],
        ),
        # incomplete > clearance-required
        (
            {"benefits_and_risks_explained": False, "risks": {"pregnancy": True}},
            "incomplete",
            ["counselling-incomplete", "pregnancy"],
        ),
        (
            {"risks": {"breastfeeding": None, "history_of_blood_clots": True}},
            "incomplete",
            ["risk-factor-unknown", "history-of-blood-clots"],
        ),
    ],
)
def test_outcome_and_flags_through_http(
    client: TestClient,
    people: tuple[str, str],
    changes: dict[str, Any],
    outcome: str,
    codes: list[str],
) -> None:
    patient_id, practitioner_id = people
    evaluation = record(client, patient_id, evaluation_body(practitioner_id, **changes))
    assert evaluation["outcome"] == outcome
    assert [(f["code"], f["severity"]) for f in evaluation["flags"]] == [
        (code, SEVERITY[code]) for code in codes
    ]
    assert all(f["message"] for f in evaluation["flags"])
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert standing["outcome"] == outcome
    assert standing["bookable"] is (outcome == "eligible")


def test_omitted_risk_factors_count_as_unknown(client: TestClient, people: tuple[str, str]) -> None:
    patient_id, practitioner_id = people
    body = evaluation_body(practitioner_id)
    body["risk_factors"] = {"hormonal_contraception": False}
    evaluation = record(client, patient_id, body)
    assert evaluation["outcome"] == "incomplete"
    assert evaluation["risk_factors"]["pregnancy"] is None
    assert "pregnancy" in evaluation["flags"][0]["message"]


@pytest.mark.parametrize(
    ("demo_patient", "outcome", "bookable", "codes"),
    [
        (1, "eligible", True, []),
        (2, "varicose-treatment-first", False, ["varicose-treatment-first"]),
        (3, "clearance-required", False, ["hormonal-contraception"]),
        (4, "clearance-required", False, ["history-of-blood-clots"]),
        (5, "not-suitable", False, ["facial-veins-excluded"]),
        (6, "eligible", True, []),
        (7, "evaluation-missing", False, ["evaluation-missing"]),
        (8, "varicose-treatment-first", False, ["varicose-treatment-first"]),
        (9, "clearance-required", False, ["venous-work-up-needed"]),
    ],
)
def test_the_demo_clinics_cases_hold_through_http(
    db_sessions: sessionmaker[Session],
    client: TestClient,
    demo_patient: int,
    outcome: str,
    bookable: bool,
    codes: list[str],
) -> None:
    with db_sessions.begin() as db:
        audit = AuditTrail(db, command_line("seed-demo"))
        seed_demo_clinic(db=db, audit=audit, time_zone="Europe/Paris")
    patient_id = demo_id("patient", demo_patient)
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert (standing["outcome"], standing["bookable"]) == (outcome, bookable)
    assert [f["code"] for f in standing["flags"]] == codes
    if outcome == "clearance-required":  # the pill, past clots, a work-up: cleared, bookable
        cleared = client.post(
            f"/api/v1/evaluations/{standing['evaluation_id']}/clearance",
            json={
                "practitioner_id": str(demo_id("practitioner", 1)),
                "reason": "Reviewed: benefit outweighs risk.",
            },
        )
        assert cleared.json()["outcome"] == "eligible"
        assert client.get(f"/api/v1/patients/{patient_id}/eligibility").json()["bookable"] is True
