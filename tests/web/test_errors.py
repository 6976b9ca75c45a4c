"""Every failure is an RFC 9457 problem with a stable code; a 500 leaks nothing."""

from __future__ import annotations

import logging
import uuid

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.patients import service as patient_service
from tests.factories import ApiClient, assert_problem, dispose, new_patient


def test_unknown_route_and_wrong_method(client: TestClient) -> None:
    body = assert_problem(client.get("/api/v1/nothing-here"), 404, "not-found")
    assert body["instance"] == "/api/v1/nothing-here"
    put = client.put("/api/v1/patients")
    assert_problem(put, 405, "method-not-allowed")
    assert put.headers["allow"] == "GET, HEAD, POST"  # every GET route answers HEAD too
    assert put.json()["detail"].endswith("use GET or POST")
    assert_problem(client.delete("/api/v1/practitioners"), 405, "method-not-allowed")
    one = client.delete(f"/api/v1/practitioners/{uuid.uuid4()}")
    assert_problem(one, 405, "method-not-allowed")
    assert one.headers["allow"] == "GET, HEAD, PATCH"
    assert client.post("/health/live").headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b'{"given_name": "Claire",', "application/json", 422, "validation-error"),
        (b"[1, 2, 3]", "application/json", 422, "validation-error"),
        (b"given_name=Claire", "application/x-www-form-urlencoded", 422, "validation-error"),
        (b"", "application/json", 422, "validation-error"),
        (b'"just a string"', "application/json", 422, "validation-error"),
        (b"\xff\xfe\x00", "application/json", 400, "malformed-body"),  # not even text
    ],
)
def test_malformed_bodies_are_problems(
    client: TestClient, content: bytes, content_type: str, status: int, code: str
) -> None:
    response = client.post(
        "/api/v1/patients", content=content, headers={"Content-Type": content_type}
    )
    assert_problem(response, status, code)


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    ok = client.get("/health/live")
    assert len(ok.headers["x-request-id"]) == 32
    assert "x-client-request-id" not in ok.headers
    problem = client.get(f"/api/v1/patients/{uuid.uuid4()}")
    assert problem.json()["request_id"] == problem.headers["x-request-id"]


def test_unexpected_error_is_a_bare_500_logged_with_the_request_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    patient = new_patient(client)

    def explode(**_: object) -> None:
        raise RuntimeError("SELECT secret FROM patients WHERE family_name = 'Dubois'")

    monkeypatch.setattr(patient_service, "read_patient", explode)
    with caplog.at_level(logging.ERROR):
        response = client.get(f"/api/v1/patients/{patient['id']}")
    body = assert_problem(response, 500, "internal-error")
    request_id = response.headers["x-request-id"]
    assert body["request_id"] == request_id
    assert request_id in body["detail"]
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["cache-control"] == "no-store"  # like every other /api answer
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1  # once, by us, with the request id
    assert logged[0].name == "app.web.problems"
    assert getattr(logged[0], "request_id", None) == request_id
    assert logged[0].exc_info is not None  # the trace goes to the log, not the client


def test_health_live_and_ready(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    assert client.get("/health/ready").json() == {"status": "ok"}


def test_ready_is_503_and_data_routes_fail_cleanly_when_the_database_is_down() -> None:
    down = create_app(Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none"))
    client = ApiClient(down, raise_server_exceptions=False)
    try:
        assert client.get("/health/live").status_code == 200
        assert_problem(client.get("/health/ready"), 503, "database-unavailable")
        # Identifying the caller already needs the database.
        response = client.get("/api/v1/patients", headers={"Authorization": "Bearer scl_unknown"})
        assert_problem(response, 503, "database-unavailable")
        assert response.headers["retry-after"] == "5"
        assert "127.0.0.1" not in response.text
    finally:
        dispose(down)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/patients", "limit=abc&limit=5"),
        ("/api/v1/patients", "include_archived=zz&include_archived=false"),
        ("/api/v1/practitioners", "active=xx&active=true"),
        ("/api/v1/sessions", "from=2027-01-01T00:00:00Z&from=2027-02-01T00:00:00Z"),
    ],
)
def test_a_single_valued_query_parameter_sent_twice_is_a_422(
    client: TestClient, path: str, query: str
) -> None:
    body = assert_problem(client.get(f"{path}?{query}"), 422, "validation-error")
    name = query.split("=", 1)[0]
    assert [(e["loc"], e["type"]) for e in body["errors"]] == [(["query", name], "repeated_value")]


def test_list_parameters_and_unknown_ones_may_repeat(client: TestClient) -> None:
    listed = client.get("/api/v1/sessions?status=booked&status=cancelled")
    assert listed.status_code == 200
    assert client.get("/api/v1/patients?utm=a&utm=b").status_code == 200
