"""A user account linked to the practitioner the person is: set and cleared by an admin, one
account per practitioner, each change kept in the trail."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.roles import Role
from tests.evaluations.steps import evaluation_body
from tests.factories import (
    TEST_PASSWORD,
    ApiClient,
    UserFactory,
    assert_problem,
    bearer,
    new_patient,
    new_practitioner,
)


def test_an_admin_links_an_account_to_a_practitioner_and_unlinks_it(
    app: FastAPI, client: TestClient, make_user: UserFactory
) -> None:
    laurent = new_practitioner(client, name="Dr Laurent")["id"]
    user_id = make_user(Role.CLINICIAN, "a.laurent")
    clinician = ApiClient(app, raise_server_exceptions=False, headers=bearer(app, user_id))
    patient = new_patient(client)["id"]
    url = f"/api/v1/patients/{patient}/evaluations"
    body = evaluation_body(laurent)
    del body["practitioner_id"]
    assert_problem(clinician.post(url, json=body), 403, "no-linked-practitioner")

    linked = client.patch(f"/api/v1/users/{user_id}", json={"practitioner_id": laurent})
    assert linked.status_code == 200, linked.text
    assert linked.json()["practitioner_id"] == laurent
    assert clinician.post(url, json=body).json()["practitioner_id"] == laurent

    # Other changes leave the link as it is; null removes it.
    kept = client.patch(f"/api/v1/users/{user_id}", json={"role": "clinician"})
    assert kept.json()["practitioner_id"] == laurent
    unlinked = client.patch(f"/api/v1/users/{user_id}", json={"practitioner_id": None})
    assert unlinked.json()["practitioner_id"] is None
    assert_problem(clinician.post(url, json=body), 403, "no-linked-practitioner")

    events = client.get(
        "/api/v1/audit-events", params={"resource_id": str(user_id), "resource_type": "user"}
    ).json()["items"]
    links = [e["changes"] for e in reversed(events) if e["action"] == "update:practitioner_id"]
    assert links == [
        {"practitioner_id": {"old": None, "new": laurent}},
        {"practitioner_id": {"old": laurent, "new": None}},
    ]


def test_a_practitioner_is_one_account_at_most(client: TestClient, make_user: UserFactory) -> None:
    laurent = new_practitioner(client, name="Dr Laurent")["id"]
    make_user(Role.CLINICIAN, "a.laurent", practitioner_id=laurent)
    impostor = make_user(Role.CLINICIAN, "not.laurent")
    taken = client.patch(f"/api/v1/users/{impostor}", json={"practitioner_id": laurent})
    assert "a.laurent" in assert_problem(taken, 409, "practitioner-linked")["detail"]
    created = client.post(
        "/api/v1/users",
        json={
            "username": "second.laurent",
            "password": TEST_PASSWORD,
            "role": "clinician",
            "practitioner_id": laurent,
        },
    )
    assert_problem(created, 409, "practitioner-linked")
    assert [u["username"] for u in client.get("/api/v1/users").json()["items"]].count(
        "second.laurent"
    ) == 0
    unknown = client.patch(f"/api/v1/users/{impostor}", json={"practitioner_id": str(uuid.uuid4())})
    assert_problem(unknown, 422, "unknown-practitioner")
    malformed = client.patch(f"/api/v1/users/{impostor}", json={"practitioner_id": "dr-laurent"})
    assert_problem(malformed, 422, "validation-error")


def test_an_account_is_created_as_a_practitioner(client: TestClient) -> None:
    weber = new_practitioner(client, name="Dr Weber")["id"]
    created = client.post(
        "/api/v1/users",
        json={
            "username": "j.weber",
            "password": TEST_PASSWORD,
            "role": "clinician",
            "practitioner_id": weber,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["practitioner_id"] == weber
    plain = client.post(
        "/api/v1/users",
        json={"username": "front.desk", "password": TEST_PASSWORD, "role": "receptionist"},
    )
    assert plain.json()["practitioner_id"] is None
