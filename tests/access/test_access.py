"""Who may call what: every route needs a credential, and each role may do only its part."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.fhir import is_fhir_path
from app.roles import Permission, Role
from tests.factories import ClientFactory, Clock, assert_problem
from tests.routes import concrete, every_route, required_permissions

# Open to anyone: health checks, the docs explorer and its assets, logging in, and a calendar
# feed (its secret URL is its credential: tests/calendar_feeds).
PUBLIC = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/docs-assets/{path}"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/fhir/R4/metadata"),  # FHIR's CapabilityStatement
    ("GET", "/api/v1/calendar/{token}.ics"),
}

A, C, R = Role.ADMIN, Role.CLINICIAN, Role.RECEPTIONIST
EVERYONE = set(Role)
STAFF = {A, C, R}  # people at the clinic
CLINICAL = {A, C}

# About the caller's own account: any credential, no permission.
OWN_ACCOUNT = {
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/password"),
    ("POST", "/api/v1/auth/logout"),
}

# The matrix, route by route: which roles may call it.
EXPECTED: dict[tuple[str, str], set[Role]] = {
    ("GET", "/api/v1/auth/me"): EVERYONE,
    ("POST", "/api/v1/auth/password"): EVERYONE,
    ("POST", "/api/v1/users"): {A},
    ("GET", "/api/v1/users"): {A},
    ("PATCH", "/api/v1/users/{user_id}"): {A},
    ("POST", "/api/v1/api-keys"): {A},
    ("GET", "/api/v1/api-keys"): {A},
    ("DELETE", "/api/v1/api-keys/{key_id}"): {A},
    ("GET", "/api/v1/audit-events"): {A},
    # A practitioner's calendar feed: whoever holds its URL sees their sessions.
    ("POST", "/api/v1/practitioners/{practitioner_id}/calendar-feed"): {A},
    ("DELETE", "/api/v1/practitioners/{practitioner_id}/calendar-feed"): {A},
    # Webhooks: where events go, and their secrets.
    ("POST", "/api/v1/webhooks"): {A},
    ("GET", "/api/v1/webhooks"): {A},
    ("GET", "/api/v1/webhooks/{webhook_id}"): {A},
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): {A},
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): {A},
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): {A},
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"): {A},
    # Patients' demographics: the front desk and integrations (which may not archive).
    ("POST", "/api/v1/patients"): EVERYONE,
    ("GET", "/api/v1/patients"): EVERYONE,
    ("GET", "/api/v1/patients/{patient_id}"): EVERYONE,
    ("PATCH", "/api/v1/patients/{patient_id}"): EVERYONE,
    ("DELETE", "/api/v1/patients/{patient_id}"): STAFF,
    # Practitioners' calendars: kept by staff, read by integrations to book.
    ("POST", "/api/v1/practitioners"): STAFF,
    ("GET", "/api/v1/practitioners"): EVERYONE,
    ("GET", "/api/v1/practitioners/{practitioner_id}"): EVERYONE,
    ("PATCH", "/api/v1/practitioners/{practitioner_id}"): STAFF,
    ("POST", "/api/v1/practitioners/{practitioner_id}/time-off"): STAFF,
    ("GET", "/api/v1/practitioners/{practitioner_id}/time-off"): EVERYONE,
    ("GET", "/api/v1/practitioners/{practitioner_id}/slots"): EVERYONE,
    # The clinic's sites and rooms: set up by the administrator, read by all (an EHR books
    # rooms); a room's closures kept by staff, as time off is.
    ("POST", "/api/v1/locations"): {A},
    ("GET", "/api/v1/locations"): EVERYONE,
    ("GET", "/api/v1/locations/{location_id}"): EVERYONE,
    ("POST", "/api/v1/locations/{location_id}/rooms"): {A},
    ("GET", "/api/v1/locations/{location_id}/rooms"): EVERYONE,
    ("GET", "/api/v1/locations/{location_id}/rooms/{room_id}"): EVERYONE,
    ("PATCH", "/api/v1/locations/{location_id}/rooms/{room_id}"): {A},
    ("POST", "/api/v1/locations/{location_id}/rooms/{room_id}/closures"): STAFF,
    ("GET", "/api/v1/locations/{location_id}/rooms/{room_id}/closures"): EVERYONE,
    ("DELETE", "/api/v1/locations/{location_id}/rooms/{room_id}/closures/{closure_id}"): STAFF,
    # Evaluations: clinicians; receptionists see outcome and flags; integrations nothing.
    ("POST", "/api/v1/patients/{patient_id}/evaluations"): CLINICAL,
    ("GET", "/api/v1/patients/{patient_id}/evaluations"): STAFF,
    ("GET", "/api/v1/evaluations/{evaluation_id}"): STAFF,
    ("GET", "/api/v1/patients/{patient_id}/eligibility"): STAFF,
    ("POST", "/api/v1/evaluations/{evaluation_id}/clearance"): CLINICAL,
    # Consents: clinicians take and withdraw them; the front desk sees whether one stands
    # (not the risks explained, nor why one was withdrawn); integrations nothing.
    ("POST", "/api/v1/patients/{patient_id}/consents"): CLINICAL,
    ("GET", "/api/v1/patients/{patient_id}/consents"): STAFF,
    ("GET", "/api/v1/consents/{consent_id}"): STAFF,
    ("POST", "/api/v1/consents/{consent_id}/withdraw"): CLINICAL,
    # Plans: a clinical decision; read by all.
    ("POST", "/api/v1/patients/{patient_id}/treatment-plans"): CLINICAL,
    ("GET", "/api/v1/patients/{patient_id}/treatment-plans"): EVERYONE,
    ("GET", "/api/v1/treatment-plans/{plan_id}"): EVERYONE,
    ("PATCH", "/api/v1/treatment-plans/{plan_id}"): CLINICAL,
    # A course's progress: reviews are clinical records; its summary is the plan's (the sites
    # and amounts for `clinical:read` only).
    ("POST", "/api/v1/treatment-plans/{plan_id}/reviews"): CLINICAL,
    ("GET", "/api/v1/treatment-plans/{plan_id}/reviews"): CLINICAL,
    ("GET", "/api/v1/reviews/{review_id}"): CLINICAL,
    ("GET", "/api/v1/treatment-plans/{plan_id}/summary"): EVERYONE,
    ("GET", "/api/v1/plans/{plan_id}/summary"): EVERYONE,
    # Sessions: the front desk books and moves; integrations book and cancel; clinicians
    # complete.
    ("POST", "/api/v1/scheduling/proposals"): STAFF,
    ("POST", "/api/v1/sessions"): EVERYONE,
    ("GET", "/api/v1/sessions"): EVERYONE,
    ("GET", "/api/v1/sessions/{session_id}"): EVERYONE,
    ("POST", "/api/v1/sessions/{session_id}/reschedule"): STAFF,
    ("POST", "/api/v1/sessions/{session_id}/check-in"): STAFF,
    ("POST", "/api/v1/sessions/{session_id}/no-show"): STAFF,
    ("POST", "/api/v1/sessions/{session_id}/cancel"): EVERYONE,
    ("POST", "/api/v1/sessions/{session_id}/entered-in-error"): CLINICAL,
    ("POST", "/api/v1/sessions/{session_id}/complete"): CLINICAL,
    # Holds: whoever books may hold a slot, and give it back.
    ("POST", "/api/v1/holds"): EVERYONE,
    ("GET", "/api/v1/holds/{hold_id}"): EVERYONE,
    ("DELETE", "/api/v1/holds/{hold_id}"): EVERYONE,
    # The waitlist: the front desk runs it and answers offers; clinicians see it.
    ("POST", "/api/v1/waitlist"): {A, R},
    ("GET", "/api/v1/waitlist"): STAFF,
    ("GET", "/api/v1/waitlist/{entry_id}"): STAFF,
    ("DELETE", "/api/v1/waitlist/{entry_id}"): {A, R},
    ("GET", "/api/v1/waitlist/offers"): STAFF,
    ("GET", "/api/v1/waitlist/offers/{offer_id}"): STAFF,
    ("POST", "/api/v1/waitlist/offers/{offer_id}/accept"): {A, R},
    ("POST", "/api/v1/waitlist/offers/{offer_id}/decline"): {A, R},
    # Last: it ends the token the matrix is walked with.
    ("POST", "/api/v1/auth/logout"): EVERYONE,
}


GARBLED = (b"{not json", b"\xff{not even text")


def _garbled(client: TestClient, method: str, path: str, content: bytes) -> object:
    """A request whose body cannot be decoded."""
    return client.request(
        method, concrete(path), content=content, headers={"Content-Type": "application/json"}
    )


def _call(client: TestClient, method: str, path: str) -> object:
    body = {"json": {}} if method in {"POST", "PATCH"} else {}
    return client.request(method, concrete(path), **body)


def test_every_route_but_the_public_ones_answers_401_without_a_credential(
    app: FastAPI, anonymous: TestClient
) -> None:
    # The FHIR interface's refusals are OperationOutcomes: tests/fhir/test_fhir_access.py.
    protected = [
        (m, p) for m, p, _ in every_route(app) if (m, p) not in PUBLIC and not is_fhir_path(p)
    ]
    assert len(protected) >= len(EXPECTED)
    for method, path in protected:
        response = anonymous.request(method, concrete(path))
        body = assert_problem(response, 401, "authentication-required")
        assert response.headers["www-authenticate"].startswith("Bearer"), (method, path)
        assert "/api/v1/auth/token" in body["detail"]
        bad = anonymous.request(
            method, concrete(path), headers={"Authorization": "Bearer not-a-token"}
        )
        assert_problem(bad, 401, "invalid-token")
        assert 'error="invalid_token"' in bad.headers["www-authenticate"]
        for content in GARBLED if method in {"POST", "PATCH"} else ():  # still who first
            garbled = _garbled(anonymous, method, path, content)
            assert_problem(garbled, 401, "authentication-required")


def test_public_routes_answer_without_a_credential(app: FastAPI, anonymous: TestClient) -> None:
    templated = {
        ("POST", "/api/v1/auth/token"),
        ("GET", "/docs-assets/{path}"),
        ("GET", "/api/v1/calendar/{token}.ics"),
    }
    for method, path in PUBLIC - templated:
        assert anonymous.request(method, path).status_code == 200, path
    assert anonymous.get("/docs-assets/swagger-ui.css").status_code == 200
    # A feed's token is its credential: an unknown one is not found, not unauthenticated.
    assert_problem(anonymous.get(concrete("/api/v1/calendar/{token}.ics")), 404, "not-found")
    # The token endpoint judges the credentials it is sent, not a bearer header.
    assert_problem(
        anonymous.post("/api/v1/auth/token", data={"username": "x", "password": "y"}),
        401,
        "invalid-credentials",
    )


def test_the_matrix_covers_every_protected_route_and_each_names_one_permission(
    app: FastAPI,
) -> None:
    routes = {
        (m, p): r
        for m, p, r in every_route(app)
        if (m, p) not in PUBLIC and not is_fhir_path(p)  # tests/fhir/test_fhir_access.py
    }
    assert set(routes) == set(EXPECTED), "a new route needs its line in EXPECTED"
    for key, route in routes.items():
        if key in OWN_ACCOUNT:
            continue  # any credential: it is about the caller's own account
        assert len(required_permissions(route)) == 1, key


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_allowed_and_refused_exactly_as_the_matrix_says(
    app: FastAPI, client_as: ClientFactory, role: Role
) -> None:
    client = client_as(role)
    for (method, path), allowed in EXPECTED.items():
        response = _call(client, method, path)
        status = response.status_code  # type: ignore[attr-defined]
        if role in allowed:
            # Past the gate: a random id is not found, an empty body is not valid.
            assert status not in {401, 403}, (role, method, path, status)
            assert status < 500, (role, method, path, response.text)  # type: ignore[attr-defined]
        else:
            body = assert_problem(response, 403, "forbidden")
            assert body["required_permission"] in {p.value for p in Permission}
            assert role.value in body["detail"]
            for content in GARBLED if method in {"POST", "PATCH"} else ():  # whatever the body
                assert_problem(_garbled(client, method, path, content), 403, "forbidden")


def test_a_receptionist_sees_an_evaluations_outcome_and_flags_but_not_its_clinical_detail(
    client: TestClient, client_as: ClientFactory
) -> None:
    from tests.factories import new_patient, new_practitioner, record_evaluation

    practitioner = new_practitioner(client)
    patient = new_patient(client)
    evaluation = record_evaluation(
        client,
        patient["id"],
        practitioner["id"],
        risks={"hormonal_contraception": True},
        notes="Mother had DVT at 50",
        patient_expectations="Wants the calves clear for summer",
    )
    client.post(
        f"/api/v1/evaluations/{evaluation['id']}/clearance",
        json={"practitioner_id": practitioner["id"], "reason": "Pill stopped 6 weeks ago"},
    )
    receptionist = client_as(Role.RECEPTIONIST)
    seen = receptionist.get(f"/api/v1/evaluations/{evaluation['id']}")
    assert seen.status_code == 200
    summary = seen.json()
    assert summary["outcome"] == "eligible"
    assert [f["code"] for f in summary["flags"]] == ["hormonal-contraception"]
    assert summary["clearance"]["practitioner_id"] == practitioner["id"]
    clinical = [
        *("risk_factors", "notes", "patient_expectations", "spider_vein_sites"),
        *("ceap_class", "ceap"),
    ]
    for hidden in clinical:
        assert hidden not in summary
    assert "reason" not in summary["clearance"]
    listed = receptionist.get(f"/api/v1/patients/{patient['id']}/evaluations").json()["items"]
    assert listed == [summary]
    standing = receptionist.get(f"/api/v1/patients/{patient['id']}/eligibility").json()
    assert standing["bookable"] is True
    assert "reason" not in standing["clearance"]
    # A clinician sees it all.
    full = client_as(Role.CLINICIAN).get(f"/api/v1/evaluations/{evaluation['id']}").json()
    assert full["notes"] == "Mother had DVT at 50"
    assert full["risk_factors"]["hormonal_contraception"] is True
    assert full["clearance"]["reason"] == "Pill stopped 6 weeks ago"


def test_only_clinical_roles_see_treatment_records_and_plan_notes(
    client: TestClient, client_as: ClientFactory, clock: Clock
) -> None:
    from tests.factories import (
        WEEKDAYS_9_TO_17,
        eligible_patient,
        new_practitioner,
        next_weekday_at,
    )

    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"], weight_kg=70)
    plan = client.post(
        f"/api/v1/patients/{patient['id']}/treatment-plans",
        json={"planned_sessions": 2, "notes": "Marked matting risk on the left knee"},
    ).json()
    visit = client.post(
        "/api/v1/sessions",
        json={
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": next_weekday_at(1, 9).isoformat(),
            "plan_id": plan["id"],
        },
    ).json()
    clock.on_the_day_of(visit)
    assert client.post(f"/api/v1/sessions/{visit['id']}/check-in").status_code == 200
    done = client.post(
        f"/api/v1/sessions/{visit['id']}/complete",
        json={
            "treated_sites": ["left-calf"],
            "sclerosant": "polidocanol",
            "concentration_percent": 0.5,
            "volume_ml": 2,
            "notes": "Bruising expected",
        },
    )
    assert done.status_code == 200, done.text

    def seen_by(role: Role) -> tuple[list[object], list[object]]:
        caller = client_as(role)
        sessions = [
            caller.get(f"/api/v1/sessions/{visit['id']}").json(),
            *caller.get("/api/v1/sessions", params={"status": "fulfilled"}).json()["items"],
        ]
        plans = [
            caller.get(f"/api/v1/treatment-plans/{plan['id']}").json(),
            *caller.get(f"/api/v1/patients/{patient['id']}/treatment-plans").json()["items"],
        ]
        return sessions, plans

    for role in (Role.RECEPTIONIST, Role.INTEGRATION):
        sessions, plans = seen_by(role)
        assert [(s["status"], s["completion"]) for s in sessions] == [("fulfilled", None)] * 2
        assert [(p["sessions_done"], p["notes"]) for p in plans] == [(1, None)] * 2
    sessions, plans = seen_by(Role.CLINICIAN)
    assert [s["completion"]["notes"] for s in sessions] == ["Bruising expected"] * 2
    assert [p["notes"] for p in plans] == ["Marked matting risk on the left knee"] * 2


# Every REST way of booking or keeping a slot that a patient's standing refuses.
_BOOKING_PATHS = ("/api/v1/sessions", "/api/v1/holds")


@pytest.mark.parametrize("path", _BOOKING_PATHS)
def test_a_refused_booking_names_the_flags_only_to_roles_that_read_outcomes(
    client: TestClient, client_as: ClientFactory, path: str
) -> None:
    """Found from outside (a hold told an EHR integration why): the reasons are left out where
    every refusal becomes an answer, so no route can forget it."""
    from tests.factories import (
        WEEKDAYS_9_TO_17,
        new_patient,
        new_practitioner,
        next_weekday_at,
        record_evaluation,
    )

    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = new_patient(client)
    record_evaluation(client, patient["id"], doctor["id"], risks={"pregnancy": True})
    booking = {
        "patient_id": patient["id"],
        "practitioner_id": doctor["id"],
        "start": next_weekday_at(1, 9).isoformat(),
    }
    desk = assert_problem(
        client_as(Role.RECEPTIONIST).post(path, json=booking), 409, "eligibility-blocked"
    )
    assert [f["code"] for f in desk["flags"]] == ["pregnancy"]
    ehr = assert_problem(
        client_as(Role.INTEGRATION).post(path, json=booking), 409, "eligibility-blocked"
    )
    assert "flags" not in ehr
    assert "outcome" not in ehr
    assert "pregnan" not in ehr["detail"]
