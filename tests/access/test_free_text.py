"""Free text written about a session is clinical: only roles with `clinical:read` read it."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from app.roles import Role
from tests.factories import (
    WEEKDAYS_9_TO_17,
    ClientFactory,
    eligible_patient,
    new_practitioner,
    next_weekday_at,
)

MOVED = "Asked by the patient: varicose flare"
CANCELLED = "pregnancy test positive, defer"


def test_session_reasons_reach_only_roles_that_read_clinical_detail(
    client: TestClient, client_as: ClientFactory
) -> None:
    """Finding 11: an integration read `history[].reason` and `cancel_reason`."""
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patient = eligible_patient(client, doctor["id"], weight_kg=70)
    monday = next_weekday_at(0, 10)
    visit = client.post(
        "/api/v1/sessions",
        json={
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": monday.isoformat(),
        },
    ).json()
    url = f"/api/v1/sessions/{visit['id']}"
    moved = client.post(
        f"{url}/reschedule",
        json={"start": (monday + timedelta(days=1)).isoformat(), "reason": MOVED},
    )
    assert moved.status_code == 200, moved.text
    assert client.post(f"{url}/cancel", json={"reason": CANCELLED}).status_code == 200

    def seen_by(caller: TestClient) -> list[dict[str, object]]:
        listed = caller.get("/api/v1/sessions", params={"patient_id": patient["id"]})
        mine = [s for s in listed.json()["items"] if s["id"] == visit["id"]]
        assert len(mine) == 1
        return [caller.get(url).json(), *mine]

    for role in (Role.INTEGRATION, Role.RECEPTIONIST):
        caller = client_as(role)
        for session in seen_by(caller):
            assert session["cancel_reason"] is None
            assert [h["action"] for h in session["history"]] == ["book", "reschedule", "cancel"]
            assert [h["reason"] for h in session["history"]] == [None] * 3
        # Cancelling, the integration is not shown the reason either (its own included).
        again = client.post(
            "/api/v1/sessions",
            json={
                "patient_id": patient["id"],
                "practitioner_id": doctor["id"],
                "start": (monday + timedelta(days=2)).isoformat(),
            },
        ).json()
        done = caller.post(f"/api/v1/sessions/{again['id']}/cancel", json={"reason": CANCELLED})
        assert done.status_code == 200, done.text
        assert CANCELLED not in done.text
        assert CANCELLED not in caller.get(f"/api/v1/sessions/{again['id']}").text

    for session in seen_by(client_as(Role.CLINICIAN)):
        assert session["cancel_reason"] == CANCELLED
        assert [h["reason"] for h in session["history"]] == [None, MOVED, CANCELLED]


def test_the_contract_says_who_reads_the_reasons(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for schema, field in (("SessionRead", "cancel_reason"), ("SessionEventRead", "reason")):
        assert "clinical:read" in schemas[schema]["properties"][field]["description"]
