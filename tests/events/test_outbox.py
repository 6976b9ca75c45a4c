"""The transactional outbox: every change that matters writes its event in its own transaction,
whichever interface made it (REST or FHIR), and a change refused or rolled back writes none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.policy import ClinicPolicy
from app.sessions import booking
from app.sessions.schemas import SessionCreate
from tests.events.outbox import events, types
from tests.factories import assert_problem
from tests.fhir.fhir import BASE, fhir
from tests.fhir.operations import BOOK, HOLD, proposal, with_appointment
from tests.sessions.clinic import DOSE_20_MG, Clinic, ok, paris_day


def test_a_sessions_life_cycle_is_announced_step_by_step(clinic: Clinic, engine: Engine) -> None:
    patient = clinic.patient()
    assert types(engine, patient_id=patient) == ["evaluation.recorded", "eligibility.changed"]
    plan = ok(
        clinic.client.post(
            f"/api/v1/patients/{patient}/treatment-plans", json={"planned_sessions": 1}
        )
    )
    visit = clinic.book(patient, paris_day(3, 10), plan_id=plan["id"])
    url = f"/api/v1/sessions/{visit['id']}"
    ok(clinic.client.post(f"{url}/reschedule", json={"start": paris_day(4, 10).isoformat()}))
    clinic.treat(ok(clinic.client.get(url)), **DOSE_20_MG)
    assert types(engine, session_id=visit["id"]) == [
        "session.booked",
        "session.rescheduled",
        "session.checked-in",
        "session.completed",
        # The course's one session fulfilled: the plan is completed, in the same transaction,
        # named after the session that completed it (delivered after its events).
        "plan.completed",
    ]
    assert types(engine, plan_id=plan["id"])[-1] == "plan.completed"
    (completed,) = [e for e in events(engine) if e["type"] == "plan.completed"]
    assert (completed["patient_id"], completed["session_id"]) == (patient, visit["id"])
    ok(clinic.client.post(f"{url}/entered-in-error", json={"reason": "wrong leg"}))
    assert types(engine, session_id=visit["id"])[-1] == "session.entered-in-error"


def test_cancel_and_no_show_are_announced(clinic: Clinic, engine: Engine) -> None:
    patient = clinic.patient()
    first = clinic.book(patient, paris_day(3, 10))
    second = clinic.book(patient, paris_day(30, 10))
    ok(clinic.client.post(f"/api/v1/sessions/{first['id']}/cancel", json={"reason": "ill"}))
    clinic.clock.travel_to(datetime.fromisoformat(second["start"]) + timedelta(hours=1))
    ok(clinic.client.post(f"/api/v1/sessions/{second['id']}/no-show"))
    assert types(engine, session_id=first["id"]) == ["session.booked", "session.cancelled"]
    assert types(engine, session_id=second["id"]) == ["session.booked", "session.no-show"]
    # Thin: ids only, the patient's among them; the occurred time is the clinic's.
    (no_show,) = [e for e in events(engine) if e["type"] == "session.no-show"]
    assert no_show["patient_id"] == patient
    assert no_show["occurred_at"] > datetime.fromisoformat(second["start"])


def test_a_hold_and_its_booking_are_one_sessions_events(clinic: Clinic, engine: Engine) -> None:
    patient = clinic.patient()
    body = {"patient_id": patient, "practitioner_id": clinic.doctor["id"]}
    held = ok(
        clinic.client.post("/api/v1/holds", json={**body, "start": paris_day(5, 9).isoformat()})
    )
    ok(clinic.client.post("/api/v1/sessions", json={"hold_id": held["id"]}))
    assert types(engine, session_id=held["id"]) == [
        "hold.created",
        "session.booked",
        "session.reminder",  # booking a hold is booking: its reminders (48 h, 2 h) too
        "session.reminder",
    ]


def test_the_fhir_operations_announce_what_rest_does(clinic: Clinic, engine: Engine) -> None:
    patient = clinic.patient()
    offered = proposal(patient, clinic.doctor["id"], paris_day(6, 11))
    held = fhir(clinic.client.post(HOLD, json=with_appointment(offered)))
    booked = fhir(clinic.client.post(BOOK, json=with_appointment(held)))
    read = clinic.client.get(f"{BASE}/Appointment/{booked['id']}")
    cancelled = {**fhir(read), "status": "cancelled"}
    version = read.headers["ETag"]
    ok(
        clinic.client.put(
            f"{BASE}/Appointment/{booked['id']}", json=cancelled, headers={"If-Match": version}
        )
    )
    assert types(engine, session_id=held["id"]) == [
        "hold.created",
        "session.booked",
        "session.cancelled",
    ]


def test_a_refused_booking_leaves_no_event(clinic: Clinic, engine: Engine) -> None:
    blocked = clinic.patient(varicose_veins="present", ceap_class="C2")
    before = events(engine)
    assert_problem(clinic.try_book(blocked, paris_day(3, 10)), 409, "eligibility-blocked")
    taken = clinic.book(clinic.patient(), paris_day(3, 14))
    after_one = events(engine)
    assert_problem(clinic.try_book(clinic.patient(), paris_day(3, 14)), 409, "slot-taken")
    booked = ["session.booked", "session.reminder", "session.reminder"]
    assert [e["type"] for e in after_one[len(before) :]][-3:] == booked
    assert types(engine, session_id=taken["id"]) == booked
    assert [e["type"] for e in events(engine)[len(after_one) :]] == [
        "evaluation.recorded",
        "eligibility.changed",
    ]  # the third patient's evaluation, and no booking


def test_a_booking_rolled_back_takes_its_event_with_it(
    clinic: Clinic, app: FastAPI, db_sessions: sessionmaker[Session], engine: Engine
) -> None:
    patient = clinic.patient()
    before = events(engine)
    rules = ClinicPolicy.from_settings(app.state.settings).booking
    with db_sessions() as db:
        booked = booking.book(
            db=db,
            data=SessionCreate(
                patient_id=uuid.UUID(patient),
                practitioner_id=uuid.UUID(clinic.doctor["id"]),
                start=paris_day(3, 10),
            ),
            now=datetime.now(UTC),
            rules=rules,
        )
        written = db.connection().exec_driver_sql("SELECT count(*) FROM outbox_events").scalar()
        # Written, in the booking's transaction: its event and its two reminders.
        assert written == len(before) + 3
        db.rollback()
    assert events(engine) == before
    assert types(engine, session_id=str(booked.id)) == []


def test_eligibility_changes_are_announced_only_when_they_change(
    clinic: Clinic, engine: Engine
) -> None:
    patient = clinic.patient(risks={"hormonal_contraception": True})
    assert types(engine, patient_id=patient) == ["evaluation.recorded", "eligibility.changed"]
    # The same findings again: recorded, but the patient's standing is what it was.
    evaluation = clinic.evaluate(patient, risks={"hormonal_contraception": True})
    assert types(engine, patient_id=patient)[2:] == ["evaluation.recorded"]
    ok(
        clinic.client.post(
            f"/api/v1/evaluations/{evaluation['id']}/clearance",
            json={"practitioner_id": clinic.doctor["id"], "reason": "Low-dose pill."},
        )
    )
    assert types(engine, patient_id=patient)[3:] == ["eligibility.changed"]
    cleared = events(engine)[-1]
    assert cleared["evaluation_id"] == evaluation["id"]
    ok(clinic.client.delete(f"/api/v1/patients/{patient}"))
    ok(clinic.client.delete(f"/api/v1/patients/{patient}"))  # archived already: no change
    assert types(engine, patient_id=patient)[4:] == ["eligibility.changed"]


def test_a_plan_completed_by_fewer_planned_sessions_is_announced(
    clinic: Clinic, engine: Engine
) -> None:
    patient = clinic.patient()
    plan_url = f"/api/v1/patients/{patient}/treatment-plans"
    plan = ok(clinic.client.post(plan_url, json={"planned_sessions": 2}))
    visit = clinic.book(patient, paris_day(3, 10), plan_id=plan["id"])
    clinic.treat(visit)
    assert "plan.completed" not in types(engine, plan_id=plan["id"])
    ok(clinic.client.patch(f"/api/v1/treatment-plans/{plan['id']}", json={"planned_sessions": 1}))
    assert types(engine, plan_id=plan["id"])[-1] == "plan.completed"
