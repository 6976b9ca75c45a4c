"""Retrying safely: a write sent with an Idempotency-Key is answered once, and its retries get
that answer again, never a second change."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.cli import main
from app.models import AuditEvent as E
from app.roles import Role
from tests.factories import (
    NO_RISKS,
    POSTGRES_URL,
    TEST_SECRET_KEY,
    WEEKDAYS_9_TO_17,
    ApiClient,
    ClientFactory,
    UserFactory,
    assert_problem,
    bearer,
    count_rows,
    eligible_patient,
    new_patient,
    new_practitioner,
    next_weekday_at,
    table_snapshot,
    tag_version,
)
from tests.servers import running_server


def _booking(client: TestClient) -> dict[str, Any]:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    return {
        "patient_id": patient["id"],
        "practitioner_id": doctor["id"],
        "start": next_weekday_at(1, 10).isoformat(),
    }


def test_a_retried_booking_gets_the_first_201_again_and_books_once(
    client: TestClient, engine: Engine
) -> None:
    body = _booking(client)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v1/sessions", json=body, headers=key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = client.post("/api/v1/sessions", json=body, headers=key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    for header in ("location", "etag", "content-type"):
        assert again.headers[header] == first.headers[header]
    assert again.headers["x-request-id"] != first.headers["x-request-id"]  # a new request
    assert count_rows(engine, "treatment_sessions") == 1
    # Without a key, the same request is a new one: refused, the slot is taken.
    assert_problem(client.post("/api/v1/sessions", json=body), 409, "slot-taken")


def test_the_same_key_with_another_request_is_refused_and_changes_nothing(
    client: TestClient, engine: Engine
) -> None:
    body = _booking(client)
    key = {"Idempotency-Key": '"order-7"'}  # quoted, as the draft writes it
    assert client.post("/api/v1/sessions", json=body, headers=key).status_code == 201
    before = table_snapshot(engine, "treatment_sessions", "session_events")
    later = {**body, "start": next_weekday_at(1, 14).isoformat()}
    refused = client.post("/api/v1/sessions", json=later, headers=key)
    assert_problem(refused, 422, "idempotency-key-reused")
    elsewhere = client.patch(f"/api/v1/patients/{body['patient_id']}", json={}, headers=key)
    assert_problem(elsewhere, 422, "idempotency-key-reused")
    assert table_snapshot(engine, "treatment_sessions", "session_events") == before


def test_keys_are_each_callers_own(client_as: ClientFactory, engine: Engine) -> None:
    desk, other_desk = client_as(Role.RECEPTIONIST), client_as(Role.RECEPTIONIST)
    key = {"Idempotency-Key": "same-key"}
    first = desk.post("/api/v1/patients", json=_patient("Anne"), headers=key)
    second = other_desk.post("/api/v1/patients", json=_patient("Anne"), headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert "idempotent-replayed" not in second.headers
    assert count_rows(engine, "patients") == 2


def _patient(given: str) -> dict[str, Any]:
    return {"given_name": given, "family_name": "Roux", "birth_date": "1975-05-05", "sex": "female"}


def test_a_refusal_is_not_kept_and_a_patch_is_replayed(client: TestClient) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    refused = client.post("/api/v1/patients", json={"given_name": "Zoé"}, headers=key)
    assert_problem(refused, 422, "validation-error")
    # The request corrected, the same key: a refusal was not kept, so it goes ahead.
    created = client.post("/api/v1/patients", json=_patient("Zoé"), headers=key)
    assert created.status_code == 201
    patient = created.json()["id"]
    change = {"Idempotency-Key": "phone-1"}
    first = client.patch(f"/api/v1/patients/{patient}", json={"phone": "+33 1"}, headers=change)
    assert tag_version(first.headers["etag"]) == 2
    client.patch(f"/api/v1/patients/{patient}", json={"email": "zoe@example.org"})  # v3
    again = client.patch(f"/api/v1/patients/{patient}", json={"phone": "+33 1"}, headers=change)
    assert (again.status_code, again.headers["etag"]) == (200, first.headers["etag"])  # the first
    assert again.headers["idempotent-replayed"] == "true"
    assert client.get(f"/api/v1/patients/{patient}").json()["version"] == 3  # not changed again


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\tinside", '"unclosed', "   ", ["a", "b"]])
def test_a_malformed_key_is_a_400(client: TestClient, engine: Engine, key: str | list[str]) -> None:
    lines = [("Idempotency-Key", each) for each in ([key] if isinstance(key, str) else key)]
    answer = client.post("/api/v1/patients", json=_patient("Léa"), headers=lines)
    assert_problem(answer, 400, "invalid-idempotency-key")
    assert count_rows(engine, "patients") == 0


def test_the_same_json_written_otherwise_is_the_same_request(client: TestClient) -> None:
    key = {"Idempotency-Key": "reordered", "Content-Type": "application/json"}
    body = _patient("Inès")
    first = client.post("/api/v1/patients", content=json.dumps(body), headers=key)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = client.post("/api/v1/patients", content=reordered, headers=key)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (201, "true")
    assert again.json()["id"] == first.json()["id"]


def test_a_replay_is_given_only_to_whom_may_still_have_it_and_is_audited(
    app: FastAPI, client: TestClient, make_user: UserFactory, engine: Engine
) -> None:
    """A retry that would disclose the first answer goes through the same permission check as
    the request, and leaves an audit event against the record it shows."""
    doctor = new_practitioner(client)
    patient = new_patient(client)
    clinician_id = make_user(Role.CLINICIAN, practitioner_id=doctor["id"])
    clinician = ApiClient(app, raise_server_exceptions=False, headers=bearer(app, clinician_id))
    url = f"/api/v1/patients/{patient['id']}/evaluations"
    body = {
        "practitioner_id": doctor["id"],
        "performed_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "spider_vein_sites": ["left-calf"],
        "ceap_class": "C1",
        "varicose_veins": "absent",
        "risk_factors": NO_RISKS,
        "benefits_and_risks_explained": True,
    }
    key = {"Idempotency-Key": "evaluation-1"}
    first = clinician.post(url, json=body, headers=key)
    assert first.status_code == 201, first.text
    again = clinician.post(url, json=body, headers=key)
    assert again.headers["idempotent-replayed"] == "true"
    events = _events(engine, clinician_id)
    assert events[-2:] == [
        ("create", "evaluation", first.json()["id"], patient["id"], "success"),
        ("replay", "evaluation", first.json()["id"], patient["id"], "success"),
    ]
    demoted = client.patch(f"/api/v1/users/{clinician_id}", json={"role": "receptionist"})
    assert demoted.status_code == 200, demoted.text
    refused = clinician.post(url, json=body, headers=key)
    assert_problem(refused, 403, "forbidden")
    assert "spider_vein_sites" not in refused.text
    assert _events(engine, clinician_id)[-1][-1] == "denied"
    assert count_rows(engine, "evaluations") == 1


def _events(engine: Engine, actor_id: uuid.UUID) -> list[tuple[Any, ...]]:
    columns = (E.action, E.resource_type, E.resource_id, E.patient_id, E.outcome)
    query = select(*columns).where(E.actor_id == actor_id).order_by(E.at, E.id)
    with engine.connect() as connection:
        rows = connection.execute(query)
        return [(a, t, r and str(r), p and str(p), str(o)) for a, t, r, p, o in rows]


def test_a_new_api_keys_answer_is_never_kept(client: TestClient, engine: Engine) -> None:
    url = "/api/v1/api-keys"
    refused = client.post(url, json={"name": "EHR"}, headers={"Idempotency-Key": "key-1"})
    assert_problem(refused, 400, "idempotency-key-not-taken")
    assert count_rows(engine, "api_keys") == 0
    assert count_rows(engine, "idempotent_responses") == 0
    assert client.post(url, json={"name": "EHR"}).status_code == 201


@pytest.mark.parametrize(
    ("url", "key"),
    [("/api/v1/api-keys", "key-1"), ("/api/v1/users", "x" * 300)],
)
def test_a_caller_without_the_permission_is_refused_before_its_key_is_read(
    make_user: UserFactory, app: FastAPI, engine: Engine, url: str, key: str
) -> None:
    receptionist_id = make_user(Role.RECEPTIONIST)
    with ApiClient(app, headers=bearer(app, receptionist_id)) as receptionist:
        refused = receptionist.post(url, json={"name": "EHR"}, headers={"Idempotency-Key": key})
    assert_problem(refused, 403, "forbidden")
    assert _events(engine, receptionist_id)[-1][-1] == "denied"


def test_an_expired_key_runs_anew_and_the_command_purges_them(
    app: FastAPI, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state, "idempotency_lifetime", timedelta(0))
    key = {"Idempotency-Key": "short-lived"}
    assert client.post("/api/v1/patients", json=_patient("Ève"), headers=key).status_code == 201
    again = client.post("/api/v1/patients", json=_patient("Ève"), headers=key)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers  # expired: a new request
    assert count_rows(engine, "patients") == 2
    assert count_rows(engine, "idempotent_responses") == 1  # the expired answer gave way
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", str(engine.url.render_as_string(False)))
    assert main(["purge-idempotency-keys"]) == 0
    assert count_rows(engine, "idempotent_responses") == 0


def test_twenty_racing_retries_of_one_booking_book_one_session(
    database_url: str, make_user: UserFactory, app: FastAPI, engine: Engine
) -> None:
    """Twenty copies of one booking with one key, at once, through two servers on PostgreSQL
    (one on SQLite): exactly one session; every answer the first 201 or, while it is still
    being answered, 409 `idempotency-key-in-flight`."""
    admin = bearer(app, make_user(Role.ADMIN))
    servers = 2 if POSTGRES_URL else 1
    with (
        running_server(database_url, secret_key=TEST_SECRET_KEY) as first,
        running_server(database_url, secret_key=TEST_SECRET_KEY) as second,
    ):
        bases = [first, second][:servers]
        with httpx.Client(base_url=first, headers=admin, timeout=30) as http:
            doctor = new_practitioner(http, availability=WEEKDAYS_9_TO_17)  # type: ignore[arg-type]
            patient = eligible_patient(http, doctor["id"])  # type: ignore[arg-type]
        body = {
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": next_weekday_at(2, 11).isoformat(),
        }
        barrier = threading.Barrier(20)
        answers: list[tuple[int, Any]] = []

        def book(index: int) -> None:
            with httpx.Client(base_url=bases[index % servers], headers=admin, timeout=60) as http:
                barrier.wait()
                answer = http.post(
                    "/api/v1/sessions", json=body, headers={"Idempotency-Key": "one-booking"}
                )
                answers.append((answer.status_code, answer.json()))

        threads = [threading.Thread(target=book, args=(i,)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    statuses = Counter(status for status, _ in answers)
    assert set(statuses) <= {201, 409}, answers
    assert statuses[201] >= 1
    assert len({a["id"] for s, a in answers if s == 201}) == 1
    assert all(a["code"] == "idempotency-key-in-flight" for s, a in answers if s == 409)
    assert count_rows(engine, "treatment_sessions") == 1
