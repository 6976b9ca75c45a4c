"""Conditional requests: every change to a record with an ETag honours If-Match (412 when the
record changed since it was read; 428 without it, when the server requires it), and a GET
honours If-None-Match (304)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.main import create_app
from tests.factories import (
    WEEKDAYS_9_TO_17,
    ApiClient,
    Clock,
    assert_problem,
    dispose,
    eligible_patient,
    new_patient,
    new_practitioner,
    next_weekday_at,
    record_evaluation,
    table_snapshot,
    tag_version,
)

STALE = {"If-Match": 'W/"999"'}


def _booked(client: TestClient) -> dict[str, Any]:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"])
    answer = client.post(
        "/api/v1/sessions",
        json={
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": next_weekday_at(2, 10).isoformat(),
        },
    )
    assert answer.status_code == 201, answer.text
    booked: dict[str, Any] = answer.json()
    return booked


def test_session_steps_refuse_a_stale_if_match_and_change_nothing(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    visit = _booked(client)
    path = f"/api/v1/sessions/{visit['id']}"
    before = table_snapshot(engine, "treatment_sessions", "session_events")
    moved = {"start": next_weekday_at(2, 14).isoformat()}
    for step, body in (
        ("reschedule", moved),
        ("cancel", {"reason": "Patient asked"}),
        ("entered-in-error", {"reason": "Wrong patient"}),
        ("check-in", None),
        (
            "complete",
            {
                "treated_sites": ["left-calf"],
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2,
            },
        ),
    ):
        refused = client.post(f"{path}/{step}", json=body, headers=STALE)
        assert_problem(refused, 412, "version-mismatch")
    assert table_snapshot(engine, "treatment_sessions", "session_events") == before
    etag = client.get(path).headers["etag"]
    assert (
        client.post(f"{path}/reschedule", json=moved, headers={"If-Match": etag}).status_code == 200
    )
    # The version moved on: the ETag read before the move is now stale.
    assert_problem(
        client.post(f"{path}/cancel", json={"reason": "x"}, headers={"If-Match": etag}),
        412,
        "version-mismatch",
    )


def test_clearance_and_archive_honour_if_match(client: TestClient) -> None:
    doctor = new_practitioner(client)
    patient = new_patient(client)
    evaluation = record_evaluation(
        client, patient["id"], doctor["id"], risks={"hormonal_contraception": True}
    )
    path = f"/api/v1/evaluations/{evaluation['id']}"
    read = client.get(path)
    assert tag_version(read.headers["etag"]) == 1  # not cleared yet
    clearance = {"practitioner_id": doctor["id"], "reason": "Pill stopped three months ago"}
    stale = client.post(f"{path}/clearance", json=clearance, headers={"If-Match": 'W/"2"'})
    assert_problem(stale, 412, "version-mismatch")
    cleared = client.post(f"{path}/clearance", json=clearance, headers={"If-Match": 'W/"1"'})
    assert (cleared.status_code, tag_version(cleared.headers["etag"])) == (201, 2)
    archive = f"/api/v1/patients/{patient['id']}"
    assert_problem(client.delete(archive, headers=STALE), 412, "version-mismatch")
    assert client.get(archive).json()["archived"] is False
    etag = client.get(archive).headers["etag"]
    assert client.delete(archive, headers={"If-Match": etag}).json()["archived"] is True


def test_a_server_that_requires_if_match_refuses_a_change_without_it(
    app: FastAPI, client: TestClient
) -> None:
    settings: Settings = app.state.settings
    strict = create_app(settings.model_copy(update={"require_if_match": True}))
    desk = ApiClient(strict, raise_server_exceptions=False, headers=client.headers)
    try:
        patient = new_patient(client)
        path = f"/api/v1/patients/{patient['id']}"
        assert_problem(desk.patch(path, json={"phone": "+33 1"}), 428, "precondition-required")
        assert_problem(desk.delete(path), 428, "precondition-required")
        any_version = {"If-Match": "*"}  # says nothing about what the client read
        assert_problem(desk.delete(path, headers=any_version), 428, "precondition-required")
        assert desk.get(path).json()["archived"] is False
        etag = desk.get(path).headers["etag"]
        assert (
            desk.patch(path, json={"phone": "+33 1"}, headers={"If-Match": etag}).status_code == 200
        )
        assert (
            desk.post("/api/v1/patients", json={**patient_body()}).status_code == 201
        )  # no record yet
    finally:
        dispose(strict)


def patient_body() -> dict[str, str]:
    return {"given_name": "Ines", "family_name": "Roy", "birth_date": "1980-01-01", "sex": "female"}


def test_a_get_answers_304_to_the_etag_the_client_holds(client: TestClient) -> None:
    patient = new_patient(client)
    path = f"/api/v1/patients/{patient['id']}"
    etag = client.get(path).headers["etag"]
    same = client.get(path, headers={"If-None-Match": etag})
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
    assert client.get(path, headers={"If-None-Match": f'"x", {etag}'}).status_code == 304
    assert client.head(path, headers={"If-None-Match": etag}).status_code == 304
    client.patch(path, json={"phone": "+33 1"})
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["phone"] == "+33 1"


def test_an_etag_follows_what_the_answer_shows_not_only_the_version(client: TestClient) -> None:
    """A session comes to need review, a plan gains a session, their versions unchanged: the
    ETag a client holds no longer matches, so it is never told an outdated copy is current."""
    visit = _booked(client)
    path = f"/api/v1/sessions/{visit['id']}"
    held = client.get(path)
    assert held.json()["needs_review"] is False
    record_evaluation(
        client, visit["patient_id"], visit["practitioner_id"], risks={"acute_thrombosis": True}
    )
    now = client.get(path, headers={"If-None-Match": held.headers["etag"]})
    assert (now.status_code, now.json()["needs_review"]) == (200, True)
    assert now.json()["version"] == held.json()["version"]
    assert tag_version(now.headers["etag"]) == tag_version(held.headers["etag"])
    assert now.headers["etag"] != held.headers["etag"]
    # If-Match compares versions: the tag held before is still good for a change.
    cancelled = client.post(
        f"{path}/cancel", json={"reason": "Thrombosis"}, headers={"If-Match": held.headers["etag"]}
    )
    assert cancelled.status_code == 200, cancelled.text

    other = eligible_patient(client, visit["practitioner_id"])
    plan = client.post(
        f"/api/v1/patients/{other['id']}/treatment-plans", json={"planned_sessions": 2}
    ).json()
    plan_path = f"/api/v1/treatment-plans/{plan['id']}"
    held = client.get(plan_path)
    assert held.json()["sessions"] == []
    booked = client.post(
        "/api/v1/sessions",
        json={
            "patient_id": other["id"],
            "practitioner_id": visit["practitioner_id"],
            "plan_id": plan["id"],
            "start": next_weekday_at(3, 10).isoformat(),
        },
    )
    assert booked.status_code == 201, booked.text
    now = client.get(plan_path, headers={"If-None-Match": held.headers["etag"]})
    assert now.status_code == 200
    assert [s["id"] for s in now.json()["sessions"]] == [booked.json()["id"]]
    assert client.get(plan_path, headers={"If-None-Match": now.headers["etag"]}).status_code == 304


def test_if_match_takes_a_list_and_several_lines_any_of_which_will_do(
    client: TestClient, engine: Engine
) -> None:
    patient = new_patient(client)
    path = f"/api/v1/patients/{patient['id']}"
    etag = client.get(path).headers["etag"]
    listed = client.patch(path, json={"phone": "+33 1"}, headers={"If-Match": f'W/"9", {etag}'})
    assert listed.status_code == 200, listed.text
    two_lines = [("If-Match", 'W/"7"'), ("If-Match", listed.headers["etag"])]
    assert client.patch(path, json={"phone": "+33 2"}, headers=two_lines).status_code == 200
    before = table_snapshot(engine, "patients")
    neither = client.patch(path, json={"phone": "+33 3"}, headers={"If-Match": 'W/"1", "2"'})
    assert_problem(neither, 412, "version-mismatch")
    for refused in (
        [("If-Match", 'W/"3"'), ("If-Match", "not-a-tag")],  # the second line is checked too
        [("If-Match", '*, W/"3"')],  # "*" stands alone
        [("If-Match", 'W/"3-abc"')],  # not a digest this server writes
    ):
        assert_problem(
            client.patch(path, json={"phone": "+33 4"}, headers=refused), 422, "validation-error"
        )
    assert table_snapshot(engine, "patients") == before
    assert (
        client.patch(path, json={"phone": "+33 5"}, headers={"If-Match": "*"}).status_code == 200
    )  # v4
    assert client.patch(path, json={"phone": "+33 6"}, headers={"If-Match": "4"}).status_code == 200


def test_if_none_match_on_several_lines_is_one_list(client: TestClient) -> None:
    patient = new_patient(client)
    path = f"/api/v1/patients/{patient['id']}"
    etag = client.get(path).headers["etag"]
    lines = [("If-None-Match", 'W/"1-0000000000000000"'), ("If-None-Match", etag)]
    assert client.get(path, headers=lines).status_code == 304
    assert client.get(path, headers={"If-None-Match": "1"}).status_code == 200  # not a tag of ours
