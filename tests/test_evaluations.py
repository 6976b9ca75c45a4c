"""Evaluations, clearances and eligibility through HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.auditing import AuditTrail, command_line
from app.demo import demo_id, seed_demo_clinic
from app.evaluations.schemas import RiskFactors
from app.vocabulary import RiskFactor
from tests.conftest import assert_problem, count_rows, new_patient, new_practitioner

NO_RISKS = {factor.value: False for factor in RiskFactor}


@pytest.fixture
def people(client: TestClient) -> tuple[str, str]:
    return new_patient(client)["id"], new_practitioner(client)["id"]


def evaluation_body(practitioner_id: str, **changes: Any) -> dict[str, Any]:
    risks = {**NO_RISKS, **changes.pop("risks", {})}
    return {
        "practitioner_id": practitioner_id,
        "performed_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "spider_vein_sites": ["left-calf", "right-thigh"],
        "ceap_class": "C1",
        "varicose_veins": "absent",
        "risk_factors": risks,
        "benefits_and_risks_explained": True,
        "patient_expectations": "Fewer visible veins before summer.",
        **changes,
    }


# Each flag's severity, as the issue and the README's table give it.
SEVERITY = {
    "varicose-treatment-first": "blocking",
    "facial-veins-excluded": "blocking",
    "counselling-incomplete": "blocking",
    "risk-factor-unknown": "blocking",
    **dict.fromkeys(
        [
            "hormonal-contraception",
            "history-of-blood-clots",
            "thrombophilia",
            "hormone-replacement-therapy",
            "pregnancy",
            "breastfeeding",
            "peripheral-arterial-disease",
        ],
        "relative",
    ),
    **dict.fromkeys(
        [
            "sclerosant-allergy",
            "acute-thrombosis",
            "local-infection",
            "immobility",
            "right-to-left-shunt",
        ],
        "absolute",
    ),
}


def record(client: TestClient, patient_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1/patients/{patient_id}/evaluations", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


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


def test_the_newest_evaluation_supersedes(client: TestClient, people: tuple[str, str]) -> None:
    patient_id, practitioner_id = people
    month_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    first = record(
        client,
        patient_id,
        evaluation_body(
            practitioner_id, performed_at=month_ago, varicose_veins="present", ceap_class="C2"
        ),
    )
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert (standing["outcome"], standing["bookable"]) == ("varicose-treatment-first", False)

    treated = {
        "kind": "foam-sclerotherapy",
        "completed_on": (datetime.now(UTC) - timedelta(days=10)).date().isoformat(),
    }
    second = record(
        client,
        patient_id,
        evaluation_body(
            practitioner_id, varicose_veins="treated", ceap_class="C2", varicose_treatment=treated
        ),
    )
    assert second["varicose_treatment"] == treated
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert (standing["outcome"], standing["bookable"], standing["evaluation_id"]) == (
        "eligible",
        True,
        second["id"],
    )

    # A back-dated entry recorded later does not displace the newer evaluation.
    record(
        client,
        patient_id,
        evaluation_body(practitioner_id, performed_at=month_ago, risks={"immobility": True}),
    )
    assert (
        client.get(f"/api/v1/patients/{patient_id}/eligibility").json()["evaluation_id"]
        == second["id"]
    )

    listed = client.get(f"/api/v1/patients/{patient_id}/evaluations", params={"limit": 2}).json()
    assert listed["items"][0]["id"] == second["id"]
    rest = client.get(
        f"/api/v1/patients/{patient_id}/evaluations",
        params={"limit": 2, "cursor": listed["next_cursor"]},
    ).json()
    assert len(listed["items"]) + len(rest["items"]) == 3
    assert first["id"] in {e["id"] for e in listed["items"] + rest["items"]}
    assert rest["next_cursor"] is None


def test_missing_and_expired_evaluations(
    client: TestClient, engine: Engine, people: tuple[str, str]
) -> None:
    patient_id, practitioner_id = people
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert standing["bookable"] is False
    assert standing["outcome"] == "evaluation-missing"
    assert [f["code"] for f in standing["flags"]] == ["evaluation-missing"]
    assert standing["evaluation_id"] is None

    thirteen_months_ago = (datetime.now(UTC) - timedelta(days=396)).isoformat()
    old = record(
        client, patient_id, evaluation_body(practitioner_id, performed_at=thirteen_months_ago)
    )
    assert old["outcome"] == "eligible"
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert standing["bookable"] is False
    assert standing["outcome"] == "evaluation-expired"
    assert standing["flags"][0]["code"] == "evaluation-expired"
    assert standing["evaluation_id"] == old["id"]


def test_archived_patient_is_not_bookable_and_takes_no_evaluation(
    client: TestClient, people: tuple[str, str]
) -> None:
    patient_id, practitioner_id = people
    record(client, patient_id, evaluation_body(practitioner_id))
    client.delete(f"/api/v1/patients/{patient_id}")
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert (standing["bookable"], standing["outcome"]) == (False, "patient-archived")
    response = client.post(
        f"/api/v1/patients/{patient_id}/evaluations", json=evaluation_body(practitioner_id)
    )
    assert_problem(response, 409, "patient-archived")


FUTURE = (datetime.now(UTC) + timedelta(days=1)).isoformat()


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
    ],
)
def test_the_demo_clinics_cases_hold_through_http(
    app: Any, client: TestClient, demo_patient: int, outcome: str, bookable: bool, codes: list[str]
) -> None:
    with app.state.sessionmaker.begin() as db:
        audit = AuditTrail(db, command_line("seed-demo"))
        seed_demo_clinic(db=db, audit=audit, time_zone="Europe/Paris")
    patient_id = demo_id("patient", demo_patient)
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert (standing["outcome"], standing["bookable"]) == (outcome, bookable)
    assert [f["code"] for f in standing["flags"]] == codes
    if outcome == "clearance-required":  # the pill or past clots: bookable once cleared
        cleared = client.post(
            f"/api/v1/evaluations/{standing['evaluation_id']}/clearance",
            json={
                "practitioner_id": str(demo_id("practitioner", 1)),
                "reason": "Reviewed: benefit outweighs risk.",
            },
        )
        assert cleared.json()["outcome"] == "eligible"
        assert client.get(f"/api/v1/patients/{patient_id}/eligibility").json()["bookable"] is True


def test_an_evaluation_a_few_minutes_ahead_counts_at_once(
    client: TestClient, people: tuple[str, str]
) -> None:
    # A clinician's clock a little fast: the evaluation is accepted, and it is the current one.
    patient_id, practitioner_id = people
    record(client, patient_id, evaluation_body(practitioner_id))
    soon = (datetime.now(UTC) + timedelta(minutes=3)).isoformat()
    newest = record(
        client,
        patient_id,
        evaluation_body(practitioner_id, performed_at=soon, risks={"acute_thrombosis": True}),
    )
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert (standing["evaluation_id"], standing["outcome"], standing["bookable"]) == (
        newest["id"],
        "contraindicated",
        False,
    )


def test_of_two_evaluations_at_one_moment_the_later_recorded_is_current(
    client: TestClient, people: tuple[str, str]
) -> None:
    patient_id, practitioner_id = people
    moment = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    for _ in range(3):
        record(client, patient_id, evaluation_body(practitioner_id, performed_at=moment))
    last = record(
        client,
        patient_id,
        evaluation_body(practitioner_id, performed_at=moment, risks={"pregnancy": True}),
    )
    listed = client.get(f"/api/v1/patients/{patient_id}/evaluations").json()["items"]
    standing = client.get(f"/api/v1/patients/{patient_id}/eligibility").json()
    assert listed[0]["id"] == standing["evaluation_id"] == last["id"]
    assert standing["outcome"] == "clearance-required"


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
