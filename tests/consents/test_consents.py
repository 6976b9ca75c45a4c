"""A patient's informed consent: recorded, read, listed a page at a time, withdrawn once; each
step audited, conditional on the version read, and safe to retry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.roles import Role
from tests.consents.conftest import ClinicianFactory
from tests.factories import (
    RISKS_EXPLAINED,
    ClientFactory,
    Clock,
    assert_problem,
    consent_body,
    consented,
    count_rows,
    new_patient,
    new_practitioner,
    table_snapshot,
    tag_version,
)


def _trail(client: TestClient, patient_id: str) -> list[tuple[Any, ...]]:
    """The patient's audit events about consents, oldest first."""
    items = client.get(
        "/api/v1/audit-events", params={"patient_id": patient_id, "resource_type": "consent"}
    ).json()["items"]
    return [(e["action"], e["outcome"], e["resource_id"]) for e in reversed(items)]


def test_a_consent_is_recorded_read_listed_and_withdrawn_once(
    client: TestClient, doctor: dict[str, Any], clock: Clock
) -> None:
    patient = new_patient(client)["id"]
    signed = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    answer = client.post(
        f"/api/v1/patients/{patient}/consents",
        json=consent_body(doctor["id"], obtained_at=signed, document_version="  CF-12 rev. 2 "),
    )
    assert answer.status_code == 201, answer.text
    consent = answer.json()
    assert answer.headers["Location"] == f"/api/v1/consents/{consent['id']}"
    assert tag_version(answer.headers["ETag"]) == consent["version"] == 1
    assert consent | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "patient_id": patient,
        "practitioner_id": doctor["id"],
        "procedure": "micro-sclerotherapy",
        "document_version": "CF-12 rev. 2",
        "risks_explained": RISKS_EXPLAINED,
        "obtained_at": signed.isoformat().replace("+00:00", "Z"),
        "status": "active",
        "withdrawn_at": None,
        "withdrawal_reason": None,
        "view": "full",
        "created_at": None,
        "updated_at": None,
        "version": 1,
    }
    read = client.get(f"/api/v1/consents/{consent['id']}")
    assert (read.status_code, read.json()) == (200, consent)

    # A newer form signed since: the list is newest first, a page at a time.
    newer = consented(client, patient, doctor["id"], document_version="2027-01")
    first = client.get(f"/api/v1/patients/{patient}/consents", params={"limit": 1}).json()
    assert [c["id"] for c in first["items"]] == [newer["id"]]
    rest = client.get(
        f"/api/v1/patients/{patient}/consents", params={"limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert ([c["id"] for c in rest["items"]], rest["next_cursor"]) == ([consent["id"]], None)

    clock.travel_to(datetime.now(UTC) + timedelta(hours=3))
    url = f"/api/v1/consents/{consent['id']}/withdraw"
    withdrawn = client.post(url, json={"reason": "Prefers to wait until autumn."})
    assert withdrawn.status_code == 200, withdrawn.text
    after = withdrawn.json()
    assert (after["status"], after["version"], after["withdrawal_reason"]) == (
        "withdrawn",
        2,
        "Prefers to wait until autumn.",
    )
    assert abs(datetime.fromisoformat(after["withdrawn_at"]) - clock()) < timedelta(seconds=5)
    assert tag_version(withdrawn.headers["ETag"]) == 2
    again = assert_problem(client.post(url, json={}), 409, "invalid-transition")
    assert "withdrawn on" in again["detail"]
    assert client.get(f"/api/v1/consents/{consent['id']}").json() == after
    assert _trail(client, patient) == [
        ("create-on-behalf", "success", consent["id"]),  # the admin, for the doctor
        ("read", "success", consent["id"]),
        ("create-on-behalf", "success", newer["id"]),
        ("list", "success", None),
        ("list", "success", None),
        ("withdraw", "success", consent["id"]),
        ("read", "success", consent["id"]),
    ]


def test_a_withdrawal_keeps_to_its_version_and_to_the_times_the_consent_allows(
    client: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    patient = new_patient(client)["id"]
    signed = datetime.now(UTC) - timedelta(days=1)
    consent = consented(client, patient, doctor["id"], obtained_at=signed)
    url = f"/api/v1/consents/{consent['id']}/withdraw"
    before = table_snapshot(engine, "consents")
    for body, headers, status, code in (
        ({}, {"If-Match": 'W/"2"'}, 412, "version-mismatch"),
        ({"withdrawn_at": (signed - timedelta(minutes=1)).isoformat()}, {}, 422, None),
        ({"withdrawn_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, {}, 422, None),
    ):
        refused = client.post(url, json=body, headers=headers)
        problem = assert_problem(refused, status, code or "validation-error")
        if code is None:
            assert problem["errors"][0]["loc"] == ["body", "withdrawn_at"]
    assert table_snapshot(engine, "consents") == before
    # A clock a little fast is taken as now; the version read is current.
    slightly_ahead = (datetime.now(UTC) + timedelta(minutes=3)).isoformat()
    done = client.post(url, json={"withdrawn_at": slightly_ahead}, headers={"If-Match": 'W/"1"'})
    assert done.status_code == 200, done.text
    assert datetime.fromisoformat(done.json()["withdrawn_at"]) <= datetime.now(UTC)


def test_a_consent_signed_a_little_ahead_of_the_clock_is_stored_as_now(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    patient = new_patient(client)["id"]
    ahead = datetime.now(UTC) + timedelta(minutes=3)
    consent = consented(client, patient, doctor["id"], obtained_at=ahead)
    assert datetime.fromisoformat(consent["obtained_at"]) <= datetime.now(UTC)


def test_a_retried_consent_is_recorded_once(client: TestClient, doctor: dict[str, Any]) -> None:
    patient = new_patient(client)["id"]
    key = {"Idempotency-Key": str(uuid.uuid4())}
    url = f"/api/v1/patients/{patient}/consents"
    body = consent_body(doctor["id"])
    first = client.post(url, json=body, headers=key)
    retry = client.post(url, json=body, headers=key)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(client.get(url).json()["items"]) == 1
    other = client.post(url, json={**body, "document_version": "v9"}, headers=key)
    assert_problem(other, 422, "idempotency-key-reused")


def test_an_archived_patient_s_consent_is_neither_recorded_nor_withdrawn(
    client: TestClient, doctor: dict[str, Any], engine: Engine
) -> None:
    patient = new_patient(client)["id"]
    consent = consented(client, patient, doctor["id"])
    assert client.delete(f"/api/v1/patients/{patient}").status_code == 200
    url = f"/api/v1/patients/{patient}/consents"
    assert_problem(client.post(url, json=consent_body(doctor["id"])), 409, "patient-archived")
    withdraw = f"/api/v1/consents/{consent['id']}/withdraw"
    assert_problem(client.post(withdraw, json={}), 409, "patient-archived")
    assert count_rows(engine, "consents") == 1
    # Still read: nothing clinical is hidden by archiving.
    assert client.get(url).json()["items"][0]["status"] == "active"


def test_unknown_and_malformed_ids_are_problems_and_unknown_ones_are_audited(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    nobody, nothing = str(uuid.uuid4()), str(uuid.uuid4())
    assert_problem(
        client.post(f"/api/v1/patients/{nobody}/consents", json=consent_body(doctor["id"])),
        404,
        "not-found",
    )
    assert_problem(client.get(f"/api/v1/patients/{nobody}/consents"), 404, "not-found")
    assert_problem(client.get(f"/api/v1/consents/{nothing}"), 404, "not-found")
    assert_problem(client.post(f"/api/v1/consents/{nothing}/withdraw", json={}), 404, "not-found")
    for url in ("/api/v1/consents/not-an-id", "/api/v1/patients/12/consents"):
        assert assert_problem(client.get(url), 422, "validation-error")["errors"][0]["loc"][0] == (
            "path"
        )
    withdraw = client.post("/api/v1/consents/not-an-id/withdraw", json={})
    assert_problem(withdraw, 422, "validation-error")
    # Trying ids one after another shows in the trail.
    denied = client.get(
        "/api/v1/audit-events", params={"resource_type": "consent", "outcome": "denied"}
    ).json()["items"]
    assert [(e["action"], e["resource_id"], e["detail"]) for e in denied] == [
        ("read", nothing, "404 not-found")
    ]


def test_a_clinician_takes_consent_in_their_own_name_only(
    client: TestClient, clinician: ClinicianFactory, engine: Engine
) -> None:
    laurent = new_practitioner(client, name="Dr Laurent")["id"]
    weber = new_practitioner(client, name="Dr Weber")["id"]
    me, doctor = clinician(laurent)
    patient = new_patient(client)["id"]
    url = f"/api/v1/patients/{patient}/consents"
    mine = doctor.post(url, json=consent_body(None))
    assert mine.status_code == 201, mine.text
    assert mine.json()["practitioner_id"] == laurent
    refused = assert_problem(
        doctor.post(url, json=consent_body(weber)), 403, "not-own-practitioner"
    )
    assert refused["practitioner_id"] == weber
    _, unlinked = clinician(None)
    assert_problem(unlinked.post(url, json=consent_body(None)), 403, "no-linked-practitioner")
    # Switched off: no consent is taken in their name any more.
    assert client.patch(f"/api/v1/practitioners/{laurent}", json={"active": False}).is_success
    assert_problem(doctor.post(url, json=consent_body(None)), 422, "inactive-practitioner")
    assert count_rows(engine, "consents") == 1
    mine_events = client.get(
        "/api/v1/audit-events", params={"actor_id": str(me), "resource_type": "consent"}
    ).json()["items"]
    assert [(e["action"], e["outcome"], e["detail"]) for e in reversed(mine_events)] == [
        ("create", "success", None),
        ("create", "denied", f"not-own-practitioner, naming practitioner {weber}"),
        ("create", "denied", "inactive-practitioner"),
    ]


def test_the_front_desk_sees_whether_a_consent_stands_not_what_it_says(
    client: TestClient, client_as: ClientFactory, doctor: dict[str, Any]
) -> None:
    patient = new_patient(client)["id"]
    consent = consented(client, patient, doctor["id"])
    url = f"/api/v1/consents/{consent['id']}"
    client.post(f"{url}/withdraw", json={"reason": "Pregnant: wants to wait"})
    full = client.get(url).json()
    desk = client_as(Role.RECEPTIONIST)
    summary = desk.get(url).json()
    assert summary == {
        key: value
        for key, value in full.items()
        if key not in {"risks_explained", "withdrawal_reason"}
    } | {"view": "summary"}
    listed = desk.get(f"/api/v1/patients/{patient}/consents").json()["items"]
    assert listed == [summary]
    assert "Pregnant" not in desk.get(url).text
    assert client_as(Role.CLINICIAN).get(url).json() == full
    integration = client_as(Role.INTEGRATION)
    assert_problem(integration.get(url), 403, "forbidden")
    assert_problem(integration.get(f"/api/v1/patients/{patient}/consents"), 403, "forbidden")
    refused = desk.post(f"/api/v1/patients/{patient}/consents", json=consent_body(doctor["id"]))
    assert assert_problem(refused, 403, "forbidden")["required_permission"] == "consents:write"
