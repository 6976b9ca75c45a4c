"""Who may book inside a practitioner's minimum notice (`within_notice`): the roles that hold
`sessions:book-within-notice`, people at the clinic, never an integration; booking, holding and
moving alike."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from app.roles import GRANTS, Permission, Role
from tests.factories import (
    WEEKDAYS_9_TO_17,
    ClientFactory,
    Clock,
    assert_problem,
    eligible_patient,
    new_practitioner,
    next_weekday_at,
)

MAY = {Role.ADMIN, Role.CLINICIAN, Role.RECEPTIONIST}


def test_the_staff_roles_hold_the_permission_and_integrations_do_not() -> None:
    holders = {r for r in Role if Permission.SESSIONS_BOOK_WITHIN_NOTICE in GRANTS[r]}
    assert holders == MAY


def test_each_role_books_holds_and_moves_inside_the_notice_as_the_matrix_says(
    client: TestClient, client_as: ClientFactory, clock: Clock
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17, min_notice_minutes=7 * 1440)
    monday = next_weekday_at(0, 9)
    clock.travel_to(monday - timedelta(days=1))
    for hour, role in enumerate(Role):
        caller = client_as(role)
        patient = eligible_patient(client, doctor["id"], given_name=f"P{role.value}")
        start = monday + timedelta(hours=hour * 2)
        body = {
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": start.isoformat(),
            "within_notice": True,
        }
        held = caller.post("/api/v1/holds", json=body)
        if role not in MAY:
            assert_problem(held, 403, "forbidden")
            assert_problem(caller.post("/api/v1/sessions", json=body), 403, "forbidden")
            continue
        assert held.status_code == 201, held.text
        booked = caller.post("/api/v1/sessions", json={"hold_id": held.json()["id"], **_flag()})
        assert booked.status_code == 201, booked.text
        moved = caller.post(
            f"/api/v1/sessions/{booked.json()['id']}/reschedule",
            json={"start": (start + timedelta(hours=1)).isoformat(), **_flag()},
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["history"][-1]["within_notice"] is True


def _flag() -> dict[str, bool]:
    return {"within_notice": True}
