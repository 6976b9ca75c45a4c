"""CEAP 2020 classes through HTTP: recorded as written, refused with a word on how to write
them, read back with their breakdown (the pre-2020 C4 too), and what they mean for booking."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.models import Evaluation
from app.vocabulary import CEAP_2020_CLASSES, CeapModifier
from tests.evaluations.steps import evaluation_body, record
from tests.factories import ClientFactory, Clock, assert_problem, count_rows, new_patient
from tests.sessions.clinic import Clinic, ok, paris_day

TREATED = {"kind": "endovenous-thermal-ablation", "completed_on": "2025-03-04"}
SYMPTOMATIC = {"": None, CeapModifier.SYMPTOMATIC: True, CeapModifier.ASYMPTOMATIC: False}
# Each class as a new evaluation writes it, and its breakdown.
WRITTEN = [
    (c.value + m, {"clinical_class": c.value, "symptomatic": symptomatic})
    for c in CEAP_2020_CLASSES
    for m, symptomatic in SYMPTOMATIC.items()
]


@pytest.fixture
def clinic(
    app: FastAPI, client: TestClient, clock: Clock, client_as: ClientFactory, engine: Engine
) -> Clinic:
    return Clinic(app, client, clock, client_as, engine)


@pytest.mark.parametrize(("written", "ceap"), WRITTEN, ids=[w for w, _ in WRITTEN])
def test_each_class_is_recorded_and_read_as_written(
    client: TestClient, people: tuple[str, str], written: str, ceap: dict[str, Any]
) -> None:
    patient_id, practitioner_id = people
    evaluation = record(client, patient_id, evaluation_body(practitioner_id, ceap_class=written))
    assert (evaluation["ceap_class"], evaluation["ceap"]) == (written, ceap)
    read = client.get(f"/api/v1/evaluations/{evaluation['id']}").json()
    assert (read["ceap_class"], read["ceap"]) == (written, ceap)


@pytest.mark.parametrize(
    ("ceap_class", "says"),
    [
        ("C4", "C4 alone is the pre-2020 class, not recorded any more: use C4a (pigmentation"),
        ("C4s", "use C4a (pigmentation or eczema), C4b (lipodermatosclerosis or atrophie"),
        ("C2x", "C2 takes the modifier s (symptomatic) or a (asymptomatic) after it"),
        ("C6rr", "C6r takes the modifier s (symptomatic) or a (asymptomatic) after it"),
        ("C4AS", "is written C4as"),
        ("c2r", "is written C2r"),
        ("C8", "is not a CEAP clinical class: one of C0, C1, C2, C2r, C3, C4a, C4b, C4c"),
        ("C4abc", "C4a takes the modifier"),
        (4, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_a_class_not_written_as_ceap_writes_it_is_a_422_that_says_how(
    client: TestClient, engine: Engine, people: tuple[str, str], ceap_class: Any, says: str
) -> None:
    patient_id, practitioner_id = people
    body = evaluation_body(practitioner_id, ceap_class=ceap_class)
    response = client.post(f"/api/v1/patients/{patient_id}/evaluations", json=body)
    problem = assert_problem(response, 422, "validation-error")
    [error] = problem["errors"]
    assert error["loc"] == ["body", "ceap_class"]
    assert says in error["msg"], error
    assert count_rows(engine, "evaluations") == 0


def test_the_openapi_document_shows_how_a_class_is_written(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    sent = schemas["EvaluationCreate"]["properties"]["ceap_class"]
    assert sent["type"] == "string"
    assert sent["pattern"] == "^C(0|1|2r?|3|4[abc]|5|6r?)[sa]?$"
    assert sent["examples"] == ["C1", "C2s", "C4as"]
    assert "use C4a, C4b or C4c" in sent["description"]
    read = schemas["EvaluationRead"]
    assert read["properties"]["ceap_class"]["pattern"] == "^(C(0|1|2r?|3|4[abc]|5|6r?)[sa]?|C4)$"
    assert {"ceap_class", "ceap"} <= set(read["required"])
    breakdown = schemas["CeapRead"]["properties"]
    assert schemas["CeapClass"]["enum"] == [
        *("C0", "C1", "C2", "C2r", "C3", "C4", "C4a", "C4b", "C4c", "C5", "C6", "C6r")
    ]
    assert breakdown["symptomatic"]["description"] == "s: true, a: false, neither recorded: null"


def _stored(db_sessions: sessionmaker[Session], patient_id: str, practitioner_id: str) -> str:
    """An evaluation recorded before the 2020 classes: the bare C4, varicose veins treated,
    eligible as the rules were then."""
    now = Clock()()
    with db_sessions.begin() as db:
        evaluation = Evaluation(
            patient_id=uuid.UUID(patient_id),
            practitioner_id=uuid.UUID(practitioner_id),
            performed_at=now - timedelta(days=30),
            spider_vein_sites=["left-calf"],
            ceap_class="C4",
            varicose_veins="treated",
            varicose_treatment_kind="surgery",
            varicose_treatment_completed_on=(now - timedelta(days=90)).date(),
            risk_factors={},
            benefits_and_risks_explained=True,
            outcome="eligible",
            flags=[],
            valid_until=now + timedelta(days=300),
            created_at=now - timedelta(days=30),
        )
        db.add(evaluation)
        db.flush()
        return str(evaluation.id)


def test_an_evaluation_recorded_as_c4_before_reads_as_it_was(
    client: TestClient, db_sessions: sessionmaker[Session], people: tuple[str, str]
) -> None:
    patient_id, practitioner_id = people
    evaluation_id = _stored(db_sessions, patient_id, practitioner_id)
    read = client.get(f"/api/v1/evaluations/{evaluation_id}").json()
    assert read["ceap_class"] == "C4"
    assert read["ceap"] == {"clinical_class": "C4", "symptomatic": None}
    assert read["outcome"] == "eligible"  # what the rules found then: not recomputed
    listed = client.get(f"/api/v1/patients/{patient_id}/evaluations").json()["items"]
    assert [e["ceap_class"] for e in listed] == ["C4"]


@pytest.mark.parametrize("value", ["C7", "C4s", "c1", "C2R", "C44"])
def test_the_database_holds_the_class_to_the_vocabulary(
    db_sessions: sessionmaker[Session], people: tuple[str, str], value: str
) -> None:
    patient_id, practitioner_id = people
    evaluation_id = _stored(db_sessions, patient_id, practitioner_id)
    with db_sessions() as db:
        evaluation = db.get(Evaluation, uuid.UUID(evaluation_id))
        assert evaluation is not None
        evaluation.ceap_class = value
        with pytest.raises(IntegrityError):
            db.commit()


def test_recurrent_varicose_veins_block_booking_whatever_treatment_came_before(
    clinic: Clinic,
) -> None:
    patient = new_patient(clinic.client)["id"]
    clinic.evaluate(
        patient,
        performed_at=clinic.clock() - timedelta(days=200),
        ceap_class="C2s",
        varicose_veins="treated",
        varicose_treatment=TREATED,
    )
    ok(clinic.try_book(patient, paris_day(8, 10)))  # treated then: bookable
    recurrent = clinic.evaluate(
        patient, ceap_class="C2rs", varicose_veins="treated", varicose_treatment=TREATED
    )
    assert recurrent["outcome"] == "varicose-treatment-first"
    assert [f["code"] for f in recurrent["flags"]] == ["varicose-treatment-first"]
    assert "Recurrent varicose veins" in recurrent["flags"][0]["message"]
    assert len(recurrent["affected_sessions"]) == 1  # the session booked before
    refused = assert_problem(
        clinic.try_book(patient, paris_day(30, 10)), 409, "eligibility-blocked"
    )
    assert "varicose-treatment-first" in str(refused)
    assert_problem(
        clinic.client.post(
            f"/api/v1/evaluations/{recurrent['id']}/clearance",
            json={"practitioner_id": clinic.doctor["id"], "reason": "Treated last year"},
        ),
        409,
        "not-clearable",
    )
    # Treated again, and a later evaluation finds spider veins only: bookable again.
    again = {"kind": "foam-sclerotherapy", "completed_on": str(clinic.clock().date())}
    clinic.evaluate(patient, ceap_class="C1", varicose_veins="treated", varicose_treatment=again)
    ok(clinic.try_book(patient, paris_day(30, 10)))


def test_a_healed_ulcer_is_booked_once_a_clinician_clears_the_work_up(clinic: Clinic) -> None:
    patient = new_patient(clinic.client)["id"]
    untreated = clinic.evaluate(patient, ceap_class="C5s", varicose_veins="present")
    assert untreated["outcome"] == "varicose-treatment-first"
    assert [f["code"] for f in untreated["flags"]] == [
        "varicose-treatment-first",
        "venous-work-up-needed",
    ]
    clearance = {"practitioner_id": clinic.doctor["id"], "reason": "Duplex: no deep reflux."}
    url = f"/api/v1/evaluations/{untreated['id']}/clearance"
    refused = assert_problem(clinic.client.post(url, json=clearance), 409, "not-clearable")
    assert refused["flags"] == ["varicose-treatment-first", "venous-work-up-needed"]

    treated = clinic.evaluate(
        patient, ceap_class="C5s", varicose_veins="treated", varicose_treatment=TREATED
    )
    assert treated["outcome"] == "clearance-required"
    assert [(f["code"], f["severity"]) for f in treated["flags"]] == [
        ("venous-work-up-needed", "relative")
    ]
    standing = clinic.client.get(f"/api/v1/patients/{patient}/eligibility").json()
    assert (standing["bookable"], standing["outcome"]) == (False, "clearance-required")
    assert_problem(clinic.try_book(patient, paris_day(8, 10)), 409, "eligibility-blocked")

    cleared = ok(
        clinic.client.post(f"/api/v1/evaluations/{treated['id']}/clearance", json=clearance)
    )
    assert cleared["outcome"] == "eligible"
    assert [f["code"] for f in cleared["flags"]] == ["venous-work-up-needed"]  # still shown
    assert clinic.client.get(f"/api/v1/patients/{patient}/eligibility").json()["bookable"]
    ok(clinic.try_book(patient, paris_day(8, 10)))
