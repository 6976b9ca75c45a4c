"""Treatment plans through the API: listing and refused input."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import (
    assert_problem,
    eligible_patient,
)


def test_treatment_plans_list_newest_first_and_refuse_bad_input(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    patient = eligible_patient(client, doctor["id"])
    url = f"/api/v1/patients/{patient['id']}/treatment-plans"
    made = [client.post(url, json={"planned_sessions": n}).json() for n in (1, 2, 3)]
    first = client.get(url, params={"limit": 2}).json()
    rest = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [p["id"] for p in first["items"] + rest["items"]] == [p["id"] for p in reversed(made)]
    assert rest["next_cursor"] is None
    for body in (
        {"planned_sessions": 11},
        {"interval_days": 7},
        {"interval_days": 57},
        {"status": "active"},
    ):
        assert_problem(client.post(url, json=body), 422, "validation-error")
    assert_problem(
        client.post(url, json={"evaluation_id": str(uuid.uuid4())}), 422, "unknown-evaluation"
    )
    plan_url = f"/api/v1/treatment-plans/{made[0]['id']}"
    assert client.patch(plan_url, json={"status": "on-hold"}).json()["status"] == "on-hold"
    assert client.patch(plan_url, json={"status": "cancelled"}).json()["status"] == "cancelled"
    assert_problem(client.patch(plan_url, json={"status": "active"}), 409, "invalid-plan-change")
    assert_problem(client.patch(plan_url, json={"planned_sessions": None}), 422, "validation-error")
