"""What a review refuses: malformed bodies, unknown records, a signature not the caller's own;
every refusal a problem with its code, nothing stored. And a retry is answered once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.roles import Role
from tests.factories import (
    ApiClient,
    UserFactory,
    assert_problem,
    bearer,
    count_rows,
    new_practitioner,
)
from tests.progress.course import Course, dose
from tests.sessions.steps import ok

CALF = {"site": "left-calf", "response": "good"}
ONSET = "2027-01-01"

# Each body, and where its first fault lies.
BAD_BODIES: list[tuple[dict[str, Any], list[Any]]] = [
    ({}, ["body", "sites"]),
    ({"sites": []}, ["body", "sites"]),
    ({"sites": [CALF, CALF]}, ["body", "sites"]),
    ({"sites": "left-calf"}, ["body", "sites"]),
    ({"sites": [{"site": "left-calf"}]}, ["body", "sites", 0, "response"]),
    ({"sites": [{**CALF, "response": "excellent"}]}, ["body", "sites", 0, "response"]),
    ({"sites": [{**CALF, "site": "left_calf"}]}, ["body", "sites", 0, "site"]),
    (
        {"sites": [{**CALF, "complications": [{"code": "bruising", "onset_date": ONSET}]}]},
        ["body", "sites", 0, "complications", 0, "code"],
    ),
    (
        {"sites": [{**CALF, "complications": [{"code": "matting"}]}]},
        ["body", "sites", 0, "complications", 0, "onset_date"],
    ),
    (
        {"sites": [{**CALF, "complications": [{"code": "matting", "onset_date": "0"}]}]},
        ["body", "sites", 0, "complications", 0, "onset_date"],
    ),
    (
        {"sites": [{**CALF, "complications": [{"code": "other", "onset_date": ONSET}]}]},
        ["body", "sites", 0, "complications", 0],
    ),
    (
        {
            "sites": [
                {
                    **CALF,
                    "complications": [{"code": "other", "onset_date": ONSET, "description": "   "}],
                }
            ]
        },
        ["body", "sites", 0, "complications", 0, "description"],
    ),
    (
        {
            "sites": [
                {
                    **CALF,
                    "complications": [
                        {"code": "matting", "onset_date": ONSET},
                        {"code": "matting", "onset_date": ONSET},
                    ],
                }
            ]
        },
        ["body", "sites", 0, "complications"],
    ),
    ({"sites": [CALF], "reviewed_at": "2027-01-04T09:00:00"}, ["body", "reviewed_at"]),
    ({"sites": [CALF], "session_id": "not-an-id"}, ["body", "session_id"]),
    ({"sites": [CALF], "severity": "mild"}, ["body", "severity"]),
    ({"sites": [{**CALF, "note": "x"}]}, ["body", "sites", 0, "note"]),
]


@pytest.mark.parametrize(("body", "where"), BAD_BODIES)
def test_a_malformed_review_is_refused_where_it_is_wrong(
    course: Callable[..., Course], engine: Engine, body: dict[str, Any], where: list[Any]
) -> None:
    treated = course()
    sent = {"practitioner_id": treated.doctor["id"], **body}
    refused = treated.client.post(f"{treated.url}/reviews", json=sent)
    problem = assert_problem(refused, 422, "validation-error")
    assert problem["errors"][0]["loc"] == where, problem["errors"]
    assert count_rows(engine, "site_reviews") == 0


def test_a_body_that_is_not_json_and_an_unknown_plan_are_problems(
    client: TestClient, course: Callable[..., Course]
) -> None:
    treated = course()
    for content, status, code in (
        (b"{nope", 422, "validation-error"),
        (b"\xff{not even text", 400, "malformed-body"),
    ):
        garbled = client.post(
            f"{treated.url}/reviews", content=content, headers={"Content-Type": "application/json"}
        )
        assert_problem(garbled, status, code)
    unknown = f"/api/v1/treatment-plans/{uuid.uuid4()}"
    assert_problem(
        client.post(
            f"{unknown}/reviews", json={"practitioner_id": treated.doctor["id"], "sites": [CALF]}
        ),
        404,
        "not-found",
    )
    assert_problem(client.get(f"{unknown}/reviews"), 404, "not-found")
    assert_problem(client.get(f"/api/v1/reviews/{uuid.uuid4()}"), 404, "not-found")
    assert_problem(client.get("/api/v1/reviews/not-an-id"), 422, "validation-error")
    assert_problem(
        client.get(f"{treated.url}/reviews", params={"cursor": "forged"}), 422, "invalid-cursor"
    )
    assert_problem(
        client.get(f"{treated.url}/reviews", params={"limit": 0}), 422, "validation-error"
    )


def test_a_review_is_signed_by_the_clinician_who_made_it(
    app: FastAPI,
    course: Callable[..., Course],
    clinician: TestClient,
    make_user: UserFactory,
    engine: Engine,
) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    url = f"{treated.url}/reviews"
    mine = ok(clinician.post(url, json={"sites": [CALF]}))
    assert mine["practitioner_id"] == treated.doctor["id"]
    colleague = new_practitioner(treated.client, name="Dr B")
    assert_problem(
        clinician.post(url, json={"practitioner_id": colleague["id"], "sites": [CALF]}),
        403,
        "not-own-practitioner",
    )
    unlinked = ApiClient(
        app, raise_server_exceptions=False, headers=bearer(app, make_user(Role.CLINICIAN))
    )
    assert_problem(unlinked.post(url, json={"sites": [CALF]}), 403, "no-linked-practitioner")
    # An admin names whom they record it for, who must be practising.
    ok(treated.client.patch(f"/api/v1/practitioners/{colleague['id']}", json={"active": False}))
    assert_problem(
        treated.review(practitioner_id=colleague["id"], sites=[CALF]), 422, "inactive-practitioner"
    )
    assert_problem(
        treated.review(practitioner_id=str(uuid.uuid4()), sites=[CALF]),
        422,
        "unknown-practitioner",
    )
    assert count_rows(engine, "site_reviews") == 1


def test_a_review_of_an_archived_patient_is_refused(course: Callable[..., Course]) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    ok(treated.client.delete(f"/api/v1/patients/{treated.patient['id']}"))
    assert_problem(treated.review(sites=[CALF]), 409, "patient-archived")


def test_a_retried_review_is_recorded_once(course: Callable[..., Course], engine: Engine) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    body = {"practitioner_id": treated.doctor["id"], "sites": [CALF]}
    headers = {"Idempotency-Key": "review-left-calf-1"}
    url = f"{treated.url}/reviews"
    first = treated.client.post(url, json=body, headers=headers)
    again = treated.client.post(url, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_rows(engine, "site_reviews") == 1
    other = treated.client.post(
        url, json={**body, "sites": [{**CALF, "response": "none"}]}, headers=headers
    )
    assert_problem(other, 422, "idempotency-key-reused")
