"""Treatment-safety findings: changes to a practitioner's calendar or a course strand bookings,
which the clinic is shown; proposals, sites and history hold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from app.roles import Role
from tests.factories import (
    NO_RISKS,
    assert_problem,
    count_rows,
    new_practitioner,
)
from tests.sessions.clinic import (
    EVERY_DAY_7_TO_21,
    Clinic,
    ok,
    paris_day,
    reasons,
)


def a_practitioner_leaving_or_away_strands_their_bookings(clinic: Clinic) -> None:
    first, second = clinic.patient(), clinic.patient()
    early = clinic.book(first, paris_day(3, 10))
    late = clinic.book(second, paris_day(6, 10))
    away = {
        "start": paris_day(5, 0).isoformat(),
        "end": paris_day(7, 0).isoformat(),
        "reason": "Congress",
    }
    absence = ok(
        clinic.client.post(f"/api/v1/practitioners/{clinic.doctor['id']}/time-off", json=away)
    )
    assert [s["id"] for s in absence["affected_sessions"]] == [late["id"]]
    assert clinic.review() == [late["id"]]
    assert reasons(clinic.read(late)) == ["outside-availability"]
    # The front desk's integration sees that it needs review, not why.
    integration = clinic.client_as(Role.INTEGRATION)
    seen = clinic.read(late, integration)
    assert (seen["needs_review"], seen["review_reasons"]) == (True, None)

    pregnant = clinic.patient()
    pill = clinic.evaluate(pregnant, risks={"pregnancy": True})
    left = ok(
        clinic.client.patch(f"/api/v1/practitioners/{clinic.doctor['id']}", json={"active": False})
    )
    assert [s["id"] for s in left["affected_sessions"]] == [early["id"], late["id"]]
    assert clinic.review() == [early["id"], late["id"]]
    assert reasons(clinic.read(early)) == ["inactive-practitioner"]
    assert (
        ok(clinic.client.get("/api/v1/sessions", params={"needs_review": "false"}))["items"] == []
    )

    # A practitioner who left neither clears nor evaluates.
    clearance = {"practitioner_id": clinic.doctor["id"], "reason": "Deferred, then agreed"}
    refused = clinic.client.post(f"/api/v1/evaluations/{pill['id']}/clearance", json=clearance)
    assert_problem(refused, 422, "inactive-practitioner")
    assert count_rows(clinic.engine, "clearances") == 0
    before = count_rows(clinic.engine, "evaluations")
    again = {
        "practitioner_id": clinic.doctor["id"],
        "performed_at": clinic.clock().isoformat(),
        "spider_vein_sites": ["left-calf"],
        "ceap_class": "C1",
        "varicose_veins": "absent",
        "risk_factors": NO_RISKS,
        "benefits_and_risks_explained": True,
    }
    refused = clinic.client.post(f"/api/v1/patients/{pregnant}/evaluations", json=again)
    assert_problem(refused, 422, "inactive-practitioner")
    assert count_rows(clinic.engine, "evaluations") == before


def shorter_hours_and_a_course_on_hold_strand_their_bookings(clinic: Clinic) -> None:
    patient = clinic.patient()
    plan = ok(clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json={}))
    visit = clinic.book(patient, paris_day(3, 18), plan_id=plan["id"])
    held = ok(
        clinic.client.patch(f"/api/v1/treatment-plans/{plan['id']}", json={"status": "on-hold"})
    )
    assert [s["id"] for s in held["affected_sessions"]] == [visit["id"]]
    mornings = [{"weekday": d, "start": "07:00", "end": "13:00"} for d in range(7)]
    changed = ok(
        clinic.client.patch(
            f"/api/v1/practitioners/{clinic.doctor['id']}", json={"availability": mornings}
        )
    )
    assert [s["id"] for s in changed["affected_sessions"]] == [visit["id"]]
    assert reasons(clinic.read(visit)) == ["outside-availability", "plan-not-active"]


def proposals_offer_no_more_than_the_plan_has_left(clinic: Clinic) -> None:
    patient = clinic.patient()
    plan = ok(clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json={}))
    for days in (3, 31):
        clinic.book(patient, paris_day(days, 10), plan_id=plan["id"])
    ask = {"patient_id": patient, "plan_id": plan["id"], "sessions": 3}
    proposed = ok(
        clinic.client.post(
            "/api/v1/scheduling/proposals",
            json={**ask, "earliest": paris_day(40, 0).date().isoformat()},
        )
    )
    (last,) = proposed["proposals"]
    assert last["sequence"] == 3
    ok(clinic.try_book(patient, datetime.fromisoformat(last["start"]), plan_id=plan["id"]))
    assert_problem(
        clinic.try_book(patient, paris_day(120, 10), plan_id=plan["id"]), 409, "plan-full"
    )


def only_evaluated_sites_are_treated(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    refused = clinic.complete(visit, treated_sites=["left-calf", "left-knee"])
    assert assert_problem(refused, 422, "site-not-evaluated")["sites"] == ["left-knee"]
    assert count_rows(clinic.engine, "completion_records") == 0
    ok(clinic.complete(visit, treated_sites=["left-calf", "right-thigh"]))


def a_reschedule_keeps_the_former_practitioner(clinic: Clinic) -> None:
    colleague = new_practitioner(clinic.client, name="Dr B", availability=EVERY_DAY_7_TO_21)
    visit = clinic.book(clinic.patient(), paris_day(3, 10))
    moved = ok(
        clinic.client.post(
            f"/api/v1/sessions/{visit['id']}/reschedule",
            json={"start": paris_day(4, 10).isoformat(), "practitioner_id": colleague["id"]},
        )
    )
    assert moved["practitioner_id"] == colleague["id"]
    assert moved["history"][-1]["old_practitioner_id"] == clinic.doctor["id"]


def a_finished_plans_notes_keep_their_history(clinic: Clinic) -> None:
    patient = clinic.patient()
    plan = ok(
        clinic.client.post(
            f"/api/v1/patients/{patient}/treatment-plans",
            json={"planned_sessions": 1, "notes": "Matting risk, left knee"},
        )
    )
    clinic.treat(clinic.book(patient, paris_day(3, 10), plan_id=plan["id"]))
    url = f"/api/v1/treatment-plans/{plan['id']}"
    assert ok(clinic.client.get(url))["status"] == "completed"
    ok(clinic.client.patch(url, json={"notes": "Good result"}))
    ok(clinic.client.patch(url, json={"notes": None}))
    events = ok(clinic.client.get("/api/v1/audit-events", params={"resource_id": plan["id"]}))
    changes = [e["changes"] for e in events["items"] if e["action"] == "update"]
    assert changes == [  # newest first
        {"notes": {"old": "Good result", "new": None}},
        {"notes": {"old": "Matting risk, left knee", "new": "Good result"}},
    ]


FINDINGS: list[Callable[[Clinic], None]] = [
    a_practitioner_leaving_or_away_strands_their_bookings,
    shorter_hours_and_a_course_on_hold_strand_their_bookings,
    proposals_offer_no_more_than_the_plan_has_left,
    only_evaluated_sites_are_treated,
    a_reschedule_keeps_the_former_practitioner,
    a_finished_plans_notes_keep_their_history,
]
