"""A day's calendar reviews its sessions as each one's own read does: a session of a course on
hold is flagged (`plan-not-active`), one of an active course or of none is not; the courses'
statuses come in the review's one statement of calendars, not a statement of their own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import eligible_patient, next_weekday_at
from tests.sessions.steps import booked, listed_day, ok


def test_a_listed_session_of_a_course_on_hold_is_flagged_as_its_own_read_is(
    client: TestClient, doctor: dict[str, Any], app: FastAPI
) -> None:
    monday = next_weekday_at(0, 10)
    sessions = []
    for hour, (name, course) in enumerate([("Ana", "on-hold"), ("Bea", "active"), ("Cyd", None)]):
        patient = eligible_patient(client, doctor["id"], given_name=name)
        plan = None
        if course is not None:
            plan = ok(client.post(f"/api/v1/patients/{patient['id']}/treatment-plans", json={}))
        sessions.append(
            booked(
                client,
                patient_id=patient["id"],
                practitioner_id=doctor["id"],
                start=monday + timedelta(hours=hour),
                **({"plan_id": plan["id"]} if plan else {}),
            )
        )
        if course == "on-hold":
            assert plan is not None
            held = {"status": "on-hold"}
            ok(client.patch(f"/api/v1/treatment-plans/{plan['id']}", json=held))
    listed, sent = listed_day(client, app, doctor["id"], monday.replace(hour=0))

    assert [s["id"] for s in listed] == [s["id"] for s in sessions]
    flagged = {s["id"]: [r["code"] for r in s["review_reasons"]] for s in listed}
    assert flagged == {
        sessions[0]["id"]: ["plan-not-active"],
        sessions[1]["id"]: [],
        sessions[2]["id"]: [],
    }
    for session in listed:
        own = ok(client.get(f"/api/v1/sessions/{session['id']}"))
        assert own["review_reasons"] == session["review_reasons"]
    courses = [s for s in sent if "treatment_plans" in s]
    assert len(courses) == 1  # the courses' statuses, with the calendars
    assert "practitioner_availability" in courses[0]
