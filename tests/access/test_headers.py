"""What every answer says about who may keep or share it: never cached, and readable from
another origin only when the clinic lists that origin (CORS)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import ApiClient


def test_responses_are_never_cached(client: TestClient, anonymous: TestClient) -> None:
    from tests.factories import new_patient

    patient = new_patient(client)
    for response in (
        client.get(f"/api/v1/patients/{patient['id']}"),
        client.get("/api/v1/patients"),
        anonymous.get("/api/v1/patients"),
        anonymous.post("/api/v1/auth/token", data={"username": "x", "password": "y"}),
    ):
        assert response.headers["cache-control"] == "no-store"


def test_cors_is_off_unless_origins_are_listed(app: FastAPI, settings: object) -> None:
    from app.config import Settings
    from app.main import create_app

    preflight = {
        "Origin": "https://desk.clinic.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    closed = ApiClient(app, raise_server_exceptions=False)
    answer = closed.options("/api/v1/patients", headers=preflight)
    assert "access-control-allow-origin" not in answer.headers
    assert settings is not None
    assert isinstance(settings, Settings)
    opened = create_app(
        settings.model_copy(update={"cors_origins": ["https://desk.clinic.example"]})
    )
    with ApiClient(opened, raise_server_exceptions=False) as browser:
        # Answered by the CORS middleware: no database, nothing to dispose of.
        answer = browser.options("/api/v1/patients", headers=preflight)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "https://desk.clinic.example"
        other = browser.options(
            "/api/v1/patients", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
