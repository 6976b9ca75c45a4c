"""A course of treatment through the API: booked, treated, proposed again, closed."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import (
    WEEKDAYS_9_TO_17,
    Clock,
    assert_problem,
    eligible_patient,
    new_patient,
    new_practitioner,
    next_weekday_at,
    record_evaluation,
)
from tests.sessions.steps import (
    PARIS,
    SMALL_DOSE,
    at,
    book,
    booked,
    checked_in,
    first_visit_of_a_course,
    ok,
)


def test_the_course_of_treatment_scenario(client: TestClient, doctor: dict[str, Any]) -> None:
    """Varicose veins block booking until treated; then a 3-session plan is proposed about a
    month apart inside hours, around time off and bookings, booked, and an overlap refused."""
    patient = new_patient(client)
    record_evaluation(
        client, patient["id"], doctor["id"], ceap_class="C2", varicose_veins="present"
    )
    monday = next_weekday_at(0, 9)
    ask = {"patient_id": patient["id"], "earliest": monday.date().isoformat(), "sessions": 3}

    blocked = client.post("/api/v1/scheduling/proposals", json=ask)
    assert blocked.status_code == 200
    assert blocked.json()["blocked"] is True
    assert [f["code"] for f in blocked.json()["flags"]] == ["varicose-treatment-first"]
    assert blocked.json()["proposals"] == []
    refused = book(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    body = assert_problem(refused, 409, "eligibility-blocked")
    assert [f["code"] for f in body["flags"]] == ["varicose-treatment-first"]

    treated = {"kind": "endovenous-thermal-ablation", "completed_on": "2026-09-01"}
    record_evaluation(
        client,
        patient["id"],
        doctor["id"],
        ceap_class="C2",
        varicose_veins="treated",
        varicose_treatment=treated,
    )
    plan = client.post(f"/api/v1/patients/{patient['id']}/treatment-plans", json={}).json()
    assert (plan["planned_sessions"], plan["interval_days"], plan["status"]) == (3, 28, "active")

    # Someone else holds Monday 09:00; the doctor is away the whole week of the second target.
    other = eligible_patient(client, doctor["id"], given_name="Other")
    booked(client, patient_id=other["id"], practitioner_id=doctor["id"], start=monday)
    away_from = monday + timedelta(days=27)
    ok(
        client.post(
            f"/api/v1/practitioners/{doctor['id']}/time-off",
            json={
                "start": away_from.isoformat(),
                "end": (away_from + timedelta(days=3)).isoformat(),
                "reason": "Congress",
            },
        )
    )

    response = client.post(
        "/api/v1/scheduling/proposals",
        json={
            "patient_id": patient["id"],
            "plan_id": plan["id"],
            "earliest": monday.date().isoformat(),
        },
    )
    result = response.json()
    assert result["blocked"] is False
    assert result["unplaced"] == []
    proposals = result["proposals"]
    assert [p["sequence"] for p in proposals] == [1, 2, 3]
    starts = [at(p["start"]) for p in proposals]
    assert starts[0] == monday + timedelta(minutes=45)  # the earliest free slot: after 09:00-09:45
    for before, after in itertools.pairwise(starts):
        assert timedelta(days=21) <= after - before <= timedelta(days=35)
    for proposal, start in zip(proposals, starts, strict=True):
        local = start.astimezone(PARIS)
        assert local.weekday() < 5
        assert local.hour >= 9
        assert (at(proposal["end"]).astimezone(PARIS).hour, at(proposal["end"]).minute) <= (17, 0)
        assert not (away_from <= start < away_from + timedelta(days=3))
        assert proposal["practitioner_id"] == doctor["id"]
    assert proposals[1]["offset_days"] != 0  # moved off its target by the time off

    sessions = [
        booked(
            client,
            patient_id=patient["id"],
            practitioner_id=p["practitioner_id"],
            start=p["start"],
            plan_id=plan["id"],
        )
        for p in proposals
    ]
    assert [s["status"] for s in sessions] == ["booked"] * 3
    full = client.get(f"/api/v1/treatment-plans/{plan['id']}").json()
    assert [s["id"] for s in full["sessions"]] == [s["id"] for s in sessions]
    assert full["sessions_done"] == 0

    fourth = eligible_patient(client, doctor["id"], given_name="Fourth")
    clash = book(
        client, patient_id=fourth["id"], practitioner_id=doctor["id"], start=proposals[0]["start"]
    )
    assert_problem(clash, 409, "slot-taken")
    over = book(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=(starts[2] + timedelta(days=28)).isoformat(),
        plan_id=plan["id"],
    )
    assert_problem(over, 409, "plan-full")


def test_completing_a_course_proposes_the_next_visit_and_closes_the_plan(
    client: TestClient, clock: Clock, doctor: dict[str, Any]
) -> None:
    patient = new_patient(client)
    record_evaluation(client, patient["id"], doctor["id"], weight_kg=70)
    plan = client.post(
        f"/api/v1/patients/{patient['id']}/treatment-plans", json={"planned_sessions": 2}
    ).json()
    first = booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=next_weekday_at(2, 9),
        plan_id=plan["id"],
    )
    checked_in(client, clock, f"/api/v1/sessions/{first['id']}")
    record = {
        "treated_sites": ["left-calf"],
        "sclerosant": "polidocanol",
        "concentration_percent": 0.5,
        "volume_ml": 2,
    }
    result = client.post(f"/api/v1/sessions/{first['id']}/complete", json=record).json()
    follow_up = result["next_follow_up"]
    assert follow_up["blocked"] is False
    (proposal,) = follow_up["proposals"]
    assert proposal["sequence"] == 2
    gap = at(proposal["start"]) - at(first["start"])
    assert timedelta(days=21) <= gap <= timedelta(days=35)

    second = booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=proposal["start"],
        plan_id=plan["id"],
    )
    checked_in(client, clock, f"/api/v1/sessions/{second['id']}")
    last = client.post(f"/api/v1/sessions/{second['id']}/complete", json=record).json()
    assert last["next_follow_up"] is None
    plan_now = client.get(f"/api/v1/treatment-plans/{plan['id']}").json()
    assert (plan_now["status"], plan_now["sessions_done"]) == ("completed", 2)
    assert_problem(
        client.patch(f"/api/v1/treatment-plans/{plan['id']}", json={"status": "active"}),
        409,
        "invalid-plan-change",
    )


def test_a_late_first_visit_still_gets_the_whole_course(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 9)
    ok(
        client.post(
            f"/api/v1/practitioners/{doctor['id']}/time-off",
            json={
                "start": (monday - timedelta(days=7)).isoformat(),
                "end": (monday + timedelta(days=70)).isoformat(),
                "reason": "Sabbatical",
            },
        )
    )
    result = ok(
        client.post(
            "/api/v1/scheduling/proposals",
            json={"patient_id": patient["id"], "earliest": monday.date().isoformat()},
        )
    )
    assert result["unplaced"] == []
    starts = [at(p["start"]) for p in result["proposals"]]
    assert len(starts) == 3  # a usual course, without a plan
    assert starts[0] >= monday + timedelta(days=70)
    for before, after in itertools.pairwise(starts):
        assert 21 <= (after.astimezone(PARIS).date() - before.astimezone(PARIS).date()).days <= 35


def test_a_practitioner_who_left_does_not_stop_the_completion_record(
    client: TestClient, clock: Clock, doctor: dict[str, Any]
) -> None:
    colleague = new_practitioner(client, name="Dr B", availability=WEEKDAYS_9_TO_17)
    _, visit_url = first_visit_of_a_course(client, doctor, planned_sessions=2)
    checked_in(client, clock, visit_url)
    ok(client.patch(f"/api/v1/practitioners/{doctor['id']}", json={"active": False}))
    result = ok(client.post(f"{visit_url}/complete", json=SMALL_DOSE))
    assert result["session"]["status"] == "fulfilled"
    (proposal,) = result["next_follow_up"]["proposals"]
    assert proposal["practitioner_id"] == colleague["id"]


def test_a_plans_status_follows_its_fulfilled_sessions(
    client: TestClient, clock: Clock, doctor: dict[str, Any]
) -> None:
    plan_url, visit_url = first_visit_of_a_course(client, doctor, planned_sessions=2)
    checked_in(client, clock, visit_url)
    ok(client.post(f"{visit_url}/complete", json=SMALL_DOSE))
    assert ok(client.get(plan_url))["status"] == "active"

    # One session was enough after all: the course is done.
    done = ok(client.patch(plan_url, json={"planned_sessions": 1}))
    assert (done["status"], done["sessions_done"]) == ("completed", 1)
    assert_problem(client.patch(plan_url, json={"planned_sessions": 4}), 409, "invalid-plan-change")
    assert_problem(client.patch(plan_url, json={"interval_days": 20}), 409, "invalid-plan-change")
    assert ok(client.patch(plan_url, json={"notes": "Good result."}))["notes"] == "Good result."

    # The session was recorded by mistake: the course is not done any more.
    ok(client.post(f"{visit_url}/entered-in-error", json={"reason": "Wrong"}))
    reopened = ok(client.get(plan_url))
    assert (reopened["status"], reopened["sessions_done"]) == ("active", 0)


def test_a_cancelled_plan_stays_cancelled_when_its_session_is_completed(
    client: TestClient, clock: Clock, doctor: dict[str, Any]
) -> None:
    plan_url, visit_url = first_visit_of_a_course(client, doctor, planned_sessions=1)
    ok(client.patch(plan_url, json={"status": "cancelled"}))
    checked_in(client, clock, visit_url)
    ok(client.post(f"{visit_url}/complete", json=SMALL_DOSE))
    assert ok(client.get(plan_url))["status"] == "cancelled"
