"""Evaluations and clearances are signed by their author: the logged-in clinician's own
practitioner, active; an admin alone records one on another's behalf, and the trail says so."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.roles import Role
from tests.evaluations.steps import evaluation_body, record
from tests.factories import (
    ApiClient,
    UserFactory,
    assert_problem,
    bearer,
    count_rows,
    new_patient,
    new_practitioner,
)

PILL = {"risks": {"hormonal_contraception": True}}


@pytest.fixture
def laurent(client: TestClient) -> str:
    """The practitioner the clinician of these tests is."""
    return str(new_practitioner(client, name="Dr Laurent")["id"])


@pytest.fixture
def weber(client: TestClient) -> str:
    """Another practitioner of the clinic."""
    return str(new_practitioner(client, name="Dr Weber")["id"])


def _as(app: FastAPI, user_id: uuid.UUID) -> TestClient:
    return ApiClient(app, raise_server_exceptions=False, headers=bearer(app, user_id))


def _unsigned(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """An evaluation's body naming no practitioner: the caller's own signs it."""
    body = evaluation_body(str(uuid.uuid4()), **(changes or {}))
    del body["practitioner_id"]
    return body


def _trail(client: TestClient, actor_id: uuid.UUID) -> list[dict[str, Any]]:
    """The actor's audit events, oldest first."""
    items = client.get("/api/v1/audit-events", params={"actor_id": str(actor_id)}).json()["items"]
    return list(reversed(items))


def _events(client: TestClient, actor_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return [(e["action"], e["outcome"], e["detail"]) for e in _trail(client, actor_id)]


def test_a_clinician_signs_as_their_own_practitioner(
    app: FastAPI, client: TestClient, make_user: UserFactory, laurent: str
) -> None:
    me = make_user(Role.CLINICIAN, practitioner_id=laurent)
    clinician = _as(app, me)
    patient = new_patient(client)["id"]
    evaluation = record(clinician, patient, _unsigned(PILL))
    assert evaluation["practitioner_id"] == laurent
    url = f"/api/v1/evaluations/{evaluation['id']}/clearance"
    cleared = clinician.post(url, json={"reason": "Pill stopped six weeks ago."})
    assert cleared.status_code == 201, cleared.text
    assert cleared.json()["clearance"]["practitioner_id"] == laurent
    assert cleared.json()["outcome"] == "eligible"
    # Naming oneself is the same signature.
    again = record(clinician, patient, evaluation_body(laurent))
    assert again["practitioner_id"] == laurent
    assert _events(client, me) == [
        ("create", "success", None),
        ("clear", "success", None),
        ("create", "success", None),
    ]


def test_a_clinician_naming_another_practitioner_is_refused_and_audited(
    app: FastAPI,
    client: TestClient,
    engine: Engine,
    make_user: UserFactory,
    laurent: str,
    weber: str,
) -> None:
    me = make_user(Role.CLINICIAN, practitioner_id=laurent)
    clinician = _as(app, me)
    patient = new_patient(client)["id"]
    url = f"/api/v1/patients/{patient}/evaluations"
    refused = clinician.post(url, json=evaluation_body(weber, **PILL))
    body = assert_problem(refused, 403, "not-own-practitioner")
    assert f"Practitioner {weber} is not yours (yours is {laurent})" in body["detail"]
    assert body["practitioner_id"] == weber
    assert count_rows(engine, "evaluations") == 0

    evaluation = record(client, patient, evaluation_body(laurent, **PILL))  # admin, for Laurent
    clearance = f"/api/v1/evaluations/{evaluation['id']}/clearance"
    refused = clinician.post(clearance, json={"practitioner_id": weber, "reason": "In his name"})
    assert_problem(refused, 403, "not-own-practitioner")
    assert count_rows(engine, "clearances") == 0
    standing = client.get(f"/api/v1/patients/{patient}/eligibility").json()
    assert (standing["bookable"], standing["clearance"]) == (False, None)
    assert _events(client, me) == [
        ("create", "denied", f"not-own-practitioner, naming practitioner {weber}"),
        ("clear", "denied", f"not-own-practitioner, naming practitioner {weber}"),
    ]


def test_a_clinician_whose_practitioner_is_switched_off_signs_nothing(
    app: FastAPI, client: TestClient, engine: Engine, make_user: UserFactory, laurent: str
) -> None:
    me = make_user(Role.CLINICIAN, practitioner_id=laurent)
    clinician = _as(app, me)
    patient = new_patient(client)["id"]
    evaluation = record(clinician, patient, _unsigned(PILL))
    switched_off = client.patch(f"/api/v1/practitioners/{laurent}", json={"active": False})
    assert switched_off.status_code == 200, switched_off.text

    url = f"/api/v1/patients/{patient}/evaluations"
    for body in (_unsigned(), evaluation_body(laurent)):
        assert_problem(clinician.post(url, json=body), 422, "inactive-practitioner")
    clearance = f"/api/v1/evaluations/{evaluation['id']}/clearance"
    for body in ({"reason": "Pill stopped"}, {"practitioner_id": laurent, "reason": "Stopped"}):
        assert_problem(clinician.post(clearance, json=body), 422, "inactive-practitioner")
    assert count_rows(engine, "evaluations") == 1
    assert count_rows(engine, "clearances") == 0
    # Each attempt to sign is on record, as the 403s are (the finding: none was).
    refused = f"inactive-practitioner, as practitioner {laurent}"
    named = f"inactive-practitioner, naming practitioner {laurent}"
    assert _events(client, me) == [
        ("create", "success", None),
        ("create", "denied", refused),
        ("create", "denied", named),
        ("clear", "denied", refused),
        ("clear", "denied", named),
    ]
    for event in _trail(client, me)[1:]:
        assert event["patient_id"] == patient
    assert [e["resource_id"] for e in _trail(client, me)[3:]] == [evaluation["id"]] * 2


def test_an_account_linked_to_no_practitioner_signs_nothing(
    app: FastAPI, client: TestClient, engine: Engine, make_user: UserFactory, laurent: str
) -> None:
    me = make_user(Role.CLINICIAN)
    clinician = _as(app, me)
    patient = new_patient(client)["id"]
    url = f"/api/v1/patients/{patient}/evaluations"
    for body in (_unsigned(), evaluation_body(laurent)):
        refused = assert_problem(clinician.post(url, json=body), 403, "no-linked-practitioner")
        assert "ask an admin to link it" in refused["detail"]
    evaluation = record(client, patient, evaluation_body(laurent, **PILL))
    clearance = f"/api/v1/evaluations/{evaluation['id']}/clearance"
    for body in ({"reason": "Pill stopped"}, {"practitioner_id": laurent, "reason": "Stopped"}):
        assert_problem(clinician.post(clearance, json=body), 403, "no-linked-practitioner")
    assert count_rows(engine, "evaluations") == 1
    assert count_rows(engine, "clearances") == 0
    assert [outcome for _, outcome, _ in _events(client, me)] == ["denied"] * 4


def test_an_admin_records_on_another_practitioners_behalf_and_the_trail_says_so(
    app: FastAPI, client: TestClient, make_user: UserFactory, laurent: str, weber: str
) -> None:
    admin = make_user(Role.ADMIN)
    office = _as(app, admin)
    patient = new_patient(client)["id"]
    evaluation = record(office, patient, evaluation_body(laurent, **PILL))
    assert evaluation["practitioner_id"] == laurent
    url = f"/api/v1/evaluations/{evaluation['id']}/clearance"
    cleared = office.post(url, json={"practitioner_id": laurent, "reason": "Dr Laurent's call"})
    assert cleared.status_code == 201, cleared.text
    assert cleared.json()["clearance"]["practitioner_id"] == laurent
    on_behalf = f"on behalf of practitioner {laurent}"
    assert _events(client, admin) == [
        ("create-on-behalf", "success", on_behalf),
        ("clear-on-behalf", "success", on_behalf),
    ]

    # Unnamed, an admin's own practitioner signs, if they are one.
    path = f"/api/v1/patients/{patient}/evaluations"
    assert_problem(office.post(path, json=_unsigned()), 403, "no-linked-practitioner")
    signing_admin = _as(app, make_user(Role.ADMIN, practitioner_id=weber))
    assert record(signing_admin, patient, _unsigned())["practitioner_id"] == weber

    # On behalf, never of a practitioner switched off or unknown.
    client.patch(f"/api/v1/practitioners/{laurent}", json={"active": False})
    body = evaluation_body(laurent)
    assert_problem(office.post(path, json=body), 422, "inactive-practitioner")
    body = evaluation_body(str(uuid.uuid4()))
    assert_problem(office.post(path, json=body), 422, "unknown-practitioner")
    assert _events(client, admin)[-2:] == [
        ("create", "denied", f"inactive-practitioner, naming practitioner {laurent}"),
        (
            "create",
            "denied",
            f"unknown-practitioner, naming practitioner {body['practitioner_id']}",
        ),
    ]


def test_an_admin_on_behalf_clears_nothing_the_rules_forbid(
    client: TestClient, engine: Engine, laurent: str
) -> None:
    patient = new_patient(client)["id"]
    evaluation = record(client, patient, evaluation_body(laurent, risks={"acute_thrombosis": True}))
    url = f"/api/v1/evaluations/{evaluation['id']}/clearance"
    refused = client.post(url, json={"practitioner_id": laurent, "reason": "On her behalf"})
    assert_problem(refused, 409, "not-clearable")
    assert count_rows(engine, "clearances") == 0


@pytest.mark.parametrize("role", ["integration", "receptionist", "clinician"])
def test_an_api_key_signs_nothing_whatever_its_role(
    client: TestClient, engine: Engine, laurent: str, role: str
) -> None:
    """An integration's key (or a receptionist's) may not write evaluations or clearances at
    all; a key is no person, so even one given a clinician's role signs in no one's name."""
    made = client.post("/api/v1/api-keys", json={"name": "EHR", "role": role})
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    patient = new_patient(client)["id"]
    evaluation = record(client, patient, evaluation_body(laurent, **PILL))
    attempts = (
        (f"/api/v1/patients/{patient}/evaluations", evaluation_body(laurent)),
        (f"/api/v1/patients/{patient}/evaluations", _unsigned()),
        (f"/api/v1/evaluations/{evaluation['id']}/clearance", {"reason": "From the EHR"}),
        (
            f"/api/v1/evaluations/{evaluation['id']}/clearance",
            {"practitioner_id": laurent, "reason": "From the EHR"},
        ),
    )
    for url, body in attempts:
        answer = client.post(url, json=body, headers=key)
        if role == "clinician":
            assert (
                "API key is not a clinician"
                in assert_problem(answer, 403, "no-linked-practitioner")["detail"]
            )
        else:
            assert_problem(answer, 403, "forbidden")
    assert count_rows(engine, "evaluations") == 1
    assert count_rows(engine, "clearances") == 0
