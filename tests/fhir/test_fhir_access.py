"""Who may call the FHIR interface: every route but the CapabilityStatement needs a credential,
and each asks the permission the REST API asks for the same records (a role reads over FHIR
exactly what it reads over REST, never more)."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import roles
from app.fhir import is_fhir_path
from app.roles import Permission, Role, allows
from tests.factories import ClientFactory
from tests.fhir.fhir import BASE, fhir, outcome
from tests.routes import concrete, every_route, required_permissions

# Each FHIR route, and the REST route whose permission it must ask: a new FHIR route needs its
# line here.
SAME_AS_REST = {
    ("GET", f"{BASE}/Patient/{{patient_id}}"): ("GET", "/api/v1/patients/{patient_id}"),
    ("GET", f"{BASE}/Patient"): ("GET", "/api/v1/patients"),
    ("GET", f"{BASE}/Practitioner/{{practitioner_id}}"): (
        "GET",
        "/api/v1/practitioners/{practitioner_id}",
    ),
    ("GET", f"{BASE}/Practitioner"): ("GET", "/api/v1/practitioners"),
    ("GET", f"{BASE}/Schedule/{{practitioner_id}}"): (
        "GET",
        "/api/v1/practitioners/{practitioner_id}",
    ),
    ("GET", f"{BASE}/Schedule"): ("GET", "/api/v1/practitioners"),
    ("GET", f"{BASE}/Slot/{{slot_id}}"): ("GET", "/api/v1/practitioners/{practitioner_id}/slots"),
    ("GET", f"{BASE}/Slot"): ("GET", "/api/v1/practitioners/{practitioner_id}/slots"),
    ("GET", f"{BASE}/Appointment/{{session_id}}"): ("GET", "/api/v1/sessions/{session_id}"),
    ("GET", f"{BASE}/Appointment"): ("GET", "/api/v1/sessions"),
    ("GET", f"{BASE}/CarePlan/{{plan_id}}"): ("GET", "/api/v1/treatment-plans/{plan_id}"),
    ("GET", f"{BASE}/CarePlan"): ("GET", "/api/v1/patients/{patient_id}/treatment-plans"),
    ("GET", f"{BASE}/Flag/{{flag_id}}"): ("GET", "/api/v1/patients/{patient_id}/eligibility"),
    ("GET", f"{BASE}/Flag"): ("GET", "/api/v1/patients/{patient_id}/eligibility"),
    ("GET", f"{BASE}/Consent/{{consent_id}}"): ("GET", "/api/v1/consents/{consent_id}"),
    ("GET", f"{BASE}/Consent"): ("GET", "/api/v1/patients/{patient_id}/consents"),
    # The scheduling operations: `$find` is booking's first step, and asks what booking asks
    # (its refusals name flags only to roles that may read eligibility, as booking's do).
    ("POST", f"{BASE}/Appointment/$find"): ("POST", "/api/v1/sessions"),
    ("POST", f"{BASE}/Appointment/$hold"): ("POST", "/api/v1/holds"),
    ("POST", f"{BASE}/Appointment/$book"): ("POST", "/api/v1/sessions"),
    ("PUT", f"{BASE}/Appointment/{{session_id}}"): (
        "POST",
        "/api/v1/sessions/{session_id}/cancel",
    ),
}
# FHIR routes that show only what a REST route shows to some roles: they ask the permission
# that decides it there. A Procedure is a session's treatment record, which
# `GET /api/v1/sessions/{id}` shows only to roles holding `clinical:read`.
SHOWN_BY_REST = {
    ("GET", f"{BASE}/Procedure/{{session_id}}"): Permission.CLINICAL_READ,
    ("GET", f"{BASE}/Procedure"): Permission.CLINICAL_READ,
}
PUBLIC = {("GET", f"{BASE}/metadata")}


def _fhir_routes(app: FastAPI) -> dict[tuple[str, str], object]:
    return {(m, p): r for m, p, r in every_route(app) if is_fhir_path(p) and (m, p) not in PUBLIC}


def test_each_fhir_route_asks_the_rest_permission_for_the_same_records(app: FastAPI) -> None:
    fhir_routes = _fhir_routes(app)
    assert set(fhir_routes) == set(SAME_AS_REST) | set(SHOWN_BY_REST), "a new route: its line"
    rest = {(m, p): r for m, p, r in every_route(app)}
    for key, route in fhir_routes.items():
        asked = required_permissions(route)
        assert len(asked) == 1, key
        if key in SHOWN_BY_REST:
            assert asked == [SHOWN_BY_REST[key]], key
            continue
        assert asked == required_permissions(rest[SAME_AS_REST[key]]), key


def test_every_fhir_route_but_metadata_answers_401_without_a_credential(
    app: FastAPI, anonymous: TestClient
) -> None:
    for method, path in _fhir_routes(app):
        answer = anonymous.request(method, concrete(path))
        outcome(answer, 401, "authentication-required", "login")
        assert answer.headers["www-authenticate"].startswith("Bearer")
        forged = anonymous.request(
            method, concrete(path), headers={"Authorization": "Bearer not-a-token"}
        )
        outcome(forged, 401, "invalid-token", "login")


def _call(client: TestClient, method: str, path: str) -> object:
    url = concrete(path)
    if path.endswith("/Slot"):
        url += "?start=ge2027-01-04T00:00:00Z&start=lt2027-01-05T00:00:00Z"
    if path.endswith(("/Flag", "/Consent")):
        url += f"?patient={uuid.uuid4()}"  # a Flag or Consent search names the patient
    return client.request(method, url)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_reads_over_fhir_what_it_reads_over_rest(
    app: FastAPI, client_as: ClientFactory, role: Role
) -> None:
    client = client_as(role)
    for (method, path), route in _fhir_routes(app).items():
        [permission] = required_permissions(route)
        answer = _call(client, method, path)
        status = answer.status_code  # type: ignore[attr-defined]
        if allows(role, permission):
            # Allowed: a read answers; an operation sent no body is told what it lacks.
            expected = {200, 404} if method == "GET" else {404, 422}
            assert status in expected, (role, path, answer.text)  # type: ignore[attr-defined]
            fhir(answer, status)
        else:
            body = outcome(answer, 403, "forbidden", "forbidden")
            assert role.value in body["issue"][0]["diagnostics"]


def test_a_role_without_the_permission_gets_a_403_outcome(
    app: FastAPI, client_as: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every role reads patients and calendars today: a grant taken away shows the refusal."""
    grants = dict(roles.GRANTS)
    grants[Role.INTEGRATION] = grants[Role.INTEGRATION] - {Permission.CALENDARS_READ}
    monkeypatch.setattr(roles, "GRANTS", grants)
    client = client_as(Role.INTEGRATION)
    body = outcome(client.get(f"{BASE}/Practitioner"), 403, "forbidden", "forbidden")
    assert re.search("calendars:read", body["issue"][0]["diagnostics"])
