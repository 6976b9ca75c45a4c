"""The FHIR interface's foundation: mounted in the same app, JSON only (406 otherwise), FHIR
JSON bodies read, every error an OperationOutcome carrying the REST API's code, and a
CapabilityStatement open to anyone. `/api/v1` answers are unchanged (problem+json)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient

from app.config import Settings
from app.fhir.capability import Interaction
from app.fhir.http import FhirResponse, FhirRouter
from app.main import create_app
from app.roles import Permission, Role
from tests.factories import (
    ApiClient,
    UserFactory,
    assert_problem,
    bearer,
    dispose,
    within_one_minute,
)
from tests.fhir.fhir import BASE, fhir, outcome

ECHO = Interaction(
    "Parameters",
    "operation",
    operation="echo",
    definition="https://sclerosched.org/fhir/OperationDefinition/echo",
)


def _with_echo(settings: Settings) -> FastAPI:
    """The app with one more FHIR route, taking a body (none does yet): `$echo` answers the
    Parameters it is sent; it needs `audit:read` (admins only)."""
    app = create_app(settings)
    echo = FhirRouter()

    @echo.serves(ECHO, permission=Permission.AUDIT_READ, summary="Echo")
    def echo_parameters(body: dict[str, Any]) -> Response:
        """Answer the body."""
        if body.get("fail"):
            raise RuntimeError("a failure nobody expected")
        return FhirResponse(body)

    app.include_router(echo)
    return app


@pytest.fixture
def echo_app(settings: Settings) -> Iterator[FastAPI]:
    app = _with_echo(settings)
    yield app
    dispose(app)


PARAMETERS = {"resourceType": "Parameters", "parameter": [{"name": "a", "valueString": "b"}]}


@pytest.mark.parametrize(
    "content_type",
    ["application/fhir+json", "application/json", "application/fhir+json; charset=utf-8"],
)
def test_a_body_is_read_as_fhir_json_or_json(
    echo_app: FastAPI, make_user: UserFactory, content_type: str
) -> None:
    client = ApiClient(echo_app, headers=bearer(echo_app, make_user(Role.ADMIN)))
    answer = client.post(
        f"{BASE}/Parameters/$echo",
        content=json.dumps(PARAMETERS),
        headers={"Content-Type": content_type},
    )
    assert fhir(answer) == PARAMETERS


def test_a_route_added_later_is_in_the_capability_statement(
    echo_app: FastAPI, anonymous: TestClient
) -> None:
    statement = fhir(ApiClient(echo_app).get(f"{BASE}/metadata"))
    [parameters] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Parameters"]
    assert parameters["operation"] == [{"name": "echo", "definition": ECHO.definition}]
    assert "interaction" not in parameters
    # The app without it does not list it.
    plain = fhir(anonymous.get(f"{BASE}/metadata"))
    assert "Parameters" not in {r["type"] for r in plain["rest"][0]["resource"]}


def test_refusals_of_the_caller_are_operation_outcomes(
    echo_app: FastAPI, make_user: UserFactory
) -> None:
    path = f"{BASE}/Parameters/$echo"
    nobody = ApiClient(echo_app, raise_server_exceptions=False)
    refused = nobody.post(path, json=PARAMETERS)
    outcome(refused, 401, "authentication-required", "login")
    assert refused.headers["www-authenticate"].startswith("Bearer")
    forged = nobody.post(path, json=PARAMETERS, headers={"Authorization": "Bearer forged"})
    outcome(forged, 401, "invalid-token", "login")
    desk = ApiClient(echo_app, headers=bearer(echo_app, make_user(Role.RECEPTIONIST)))
    outcome(desk.post(path, json=PARAMETERS), 403, "forbidden", "forbidden")


def test_bad_bodies_failures_and_bounds_are_operation_outcomes(
    echo_app: FastAPI, make_user: UserFactory
) -> None:
    path = f"{BASE}/Parameters/$echo"
    admin = ApiClient(
        echo_app, raise_server_exceptions=False, headers=bearer(echo_app, make_user(Role.ADMIN))
    )
    garbled = admin.post(path, content=b"{not json", headers={"Content-Type": "application/json"})
    assert outcome(garbled, 422, "validation-error", "invalid")["issue"][1]["diagnostics"]
    listed = outcome(admin.post(path, json=[1, 2]), 422, "validation-error", "invalid")
    assert any("body" in issue["diagnostics"] for issue in listed["issue"][1:])
    failed = outcome(admin.post(path, json={"fail": True}), 500, "internal-error", "exception")
    assert "request id" in failed["issue"][0]["diagnostics"]
    huge = {"resourceType": "Parameters", "pad": "x" * (2 * 1024 * 1024)}
    outcome(admin.post(path, json=huge), 413, "payload-too-large", "too-costly")
    outcome(admin.get(path), 405, "method-not-allowed", "not-supported")
    outcome(admin.get(f"{BASE}/Nothing/here"), 404, "not-found", "not-found")
    long_url = f"{BASE}/metadata?" + "a" * 9000
    outcome(admin.get(long_url), 414, "uri-too-long", "too-costly")


def test_past_the_rate_limit_is_an_operation_outcome(
    settings: Settings, make_user: UserFactory
) -> None:
    app = _with_echo(settings.model_copy(update={"requests_per_minute": 2}))
    try:
        client = ApiClient(app, headers=bearer(app, make_user(Role.ADMIN)))
        within_one_minute()
        answers = [client.post(f"{BASE}/Parameters/$echo", json=PARAMETERS) for _ in range(3)]
        assert [a.status_code for a in answers[:2]] == [200, 200]
        outcome(answers[2], 429, "too-many-requests", "throttled")
        assert answers[2].headers["retry-after"]
    finally:
        dispose(app)


@pytest.mark.parametrize(
    ("accept", "format_"),
    [
        ("application/fhir+json", None),
        ("application/json", None),
        ("*/*", None),
        ("application/fhir+xml;q=0.9, */*;q=0.1", None),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None),
        (None, "json"),
        (None, "application/fhir+json"),
        ("application/fhir+xml", "json"),  # _format wins over Accept
    ],
)
def test_json_is_answered_to_whoever_takes_it(
    anonymous: TestClient, accept: str | None, format_: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    params = {"_format": format_} if format_ else {}
    answer = anonymous.get(f"{BASE}/metadata", headers=headers, params=params)
    assert fhir(answer)["resourceType"] == "CapabilityStatement"


@pytest.mark.parametrize(
    ("accept", "format_"),
    [
        ("application/fhir+xml", None),
        ("application/xml, text/xml", None),
        ("application/json;q=0, application/fhir+xml", None),
        (None, "xml"),
        (None, "application/fhir+xml"),
        ("application/fhir+json", "turtle"),
    ],
)
def test_xml_only_is_refused_406(
    anonymous: TestClient, accept: str | None, format_: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    params = {"_format": format_} if format_ else {}
    answer = anonymous.get(f"{BASE}/metadata", headers=headers, params=params)
    outcome(answer, 406, "not-acceptable", "not-supported")


def test_the_capability_statement_is_open_and_says_fhir_4_0_1(anonymous: TestClient) -> None:
    answer = anonymous.get(f"{BASE}/metadata")
    statement = fhir(answer)
    assert statement["fhirVersion"] == "4.0.1"
    assert "json" in statement["format"]
    assert statement["kind"] == "instance"
    assert answer.headers["cache-control"] == "no-store"


def test_the_rest_api_still_answers_problems(anonymous: TestClient) -> None:
    assert_problem(anonymous.get("/api/v1/nothing"), 404, "not-found")
    assert_problem(anonymous.get("/api/v1/patients"), 401, "authentication-required")
    refused = anonymous.get("/api/v1/patients", headers={"Accept": "application/fhir+xml"})
    assert_problem(refused, 401, "authentication-required")  # no negotiation there
