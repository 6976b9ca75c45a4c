"""Appointment: every session as FHIR R4 writes it, whatever its status, and the sessions an
Appointment search finds (the calendar's own list)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.fhir.appointments import (
    APPOINTMENT_STATUS,
    appointment,
    find_sessions,
    get_session,
    proposed_appointment,
    room_names,
)
from app.fhir.codes import CodeSystem
from app.vocabulary import SessionStatus
from tests.factories import tag_version
from tests.fhir.clinical import clinic, db, instant, parsed
from tests.sessions.clinic import Clinic, ok, paris_day

__all__ = ["clinic", "db"]  # fixtures


def a_session_in_each_status(clinic: Clinic) -> dict[str, dict[str, Any]]:
    """Sessions of the clinic's doctor, one in each status, by status (set up through the
    API, the clock moved to day 3)."""
    visits = {
        "noshow": clinic.book(clinic.patient(), paris_day(2, 10)),
        "arrived": clinic.book(clinic.patient(), paris_day(3, 10)),
        "fulfilled": clinic.book(clinic.patient(), paris_day(3, 12)),
        "cancelled": clinic.book(clinic.patient(), paris_day(4, 10)),
        "entered-in-error": clinic.book(clinic.patient(), paris_day(4, 12)),
        "booked": clinic.book(clinic.patient(), paris_day(5, 10)),
    }
    clinic.treat(visits["fulfilled"])
    clinic.clock.on_the_day_of(visits["arrived"])
    ok(clinic.check_in(visits["arrived"]))
    ok(clinic.client.post(f"/api/v1/sessions/{visits['noshow']['id']}/no-show"))
    ok(
        clinic.client.post(
            f"/api/v1/sessions/{visits['cancelled']['id']}/cancel",
            json={"reason": "Patient unwell: fever"},
        )
    )
    ok(
        clinic.client.post(
            f"/api/v1/sessions/{visits['entered-in-error']['id']}/entered-in-error",
            json={"reason": "Booked for the wrong patient"},
        )
    )
    return visits


def test_every_session_status_is_an_appointment_status() -> None:
    assert set(APPOINTMENT_STATUS) == set(SessionStatus)
    # A session's status is spelt as FHIR R4's AppointmentStatus already: shown as it is.
    assert all(shown == status.value for status, shown in APPOINTMENT_STATUS.items())


def test_each_session_is_an_appointment_in_its_status(clinic: Clinic, db: Session) -> None:
    visits = a_session_in_each_status(clinic)
    page, _ = find_sessions(
        db=db,
        now=clinic.clock(),
        patient_id=None,
        practitioner_id=None,
        statuses=(),
        starts_from=None,
        starts_before=None,
        limit=50,
        cursor=None,
    )
    rooms = room_names(db, (row.room_id for row in page))
    shown = {row.id: appointment(row, clinical=True, room=rooms[row.room_id]) for row in page}
    assert set(shown) == {uuid.UUID(v["id"]) for v in visits.values()}
    for status, visit in visits.items():
        resource = shown[uuid.UUID(visit["id"])]
        model = parsed(resource)
        assert model.status == status
        rest = clinic.client.get(f"/api/v1/sessions/{visit['id']}")
        assert resource["meta"]["versionId"] == str(tag_version(rest.headers["ETag"]))
        assert instant(resource["start"]) == instant(rest.json()["start"])
        assert instant(resource["end"]) == instant(rest.json()["end"])
        assert resource["minutesDuration"] == 45
        actors = {p["actor"]["reference"]: p["status"] for p in resource["participant"]}
        assert actors == {
            f"Patient/{visit['patient_id']}": "accepted",
            f"Practitioner/{clinic.doctor['id']}": "accepted",
            f"Location/{visit['room_id']}": "accepted",  # the room it takes place in
        }
        room = ok(
            clinic.client.get(f"/api/v1/locations/{visit['location_id']}/rooms/{visit['room_id']}")
        )
        [location] = [p["actor"] for p in resource["participant"] if "Location/" in str(p)]
        assert location["display"] == room["name"]
        assert resource["serviceType"][0]["coding"][0]["system"] == CodeSystem.VISIT_TYPE
        assert resource["appointmentType"]["coding"][0]["code"] == "micro-sclerotherapy-session"
    # The one cancelled with a reason says why, as the clinic wrote it.
    cancelled = shown[uuid.UUID(visits["cancelled"]["id"])]
    assert cancelled["cancelationReason"] == {"text": "Patient unwell: fever"}
    assert [r for r in shown.values() if "cancelationReason" in r] == [cancelled]


def test_why_a_session_was_cancelled_is_shown_only_to_clinical_roles(
    clinic: Clinic, db: Session
) -> None:
    visit = clinic.book(clinic.patient(), paris_day(4, 10))
    ok(
        clinic.client.post(
            f"/api/v1/sessions/{visit['id']}/cancel", json={"reason": "Pregnancy test positive"}
        )
    )
    session = get_session(db=db, session_id=uuid.UUID(visit["id"]), now=clinic.clock())
    front_desk = parsed(appointment(session, clinical=False, room=None))
    assert front_desk.status == "cancelled"
    assert front_desk.cancelationReason is None
    clinician = parsed(appointment(session, clinical=True, room=None))
    assert clinician.cancelationReason.text == "Pregnancy test positive"


def test_a_session_of_a_course_names_its_care_plan(clinic: Clinic, db: Session) -> None:
    patient = clinic.patient()
    plan = ok(clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json={}))
    visit = clinic.book(patient, paris_day(4, 10), plan_id=plan["id"], duration_minutes=30)
    alone = clinic.book(clinic.patient(), paris_day(4, 12))
    resource = appointment(
        get_session(db=db, session_id=uuid.UUID(visit["id"]), now=clinic.clock()),
        clinical=False,
        room=None,
    )
    parsed(resource)
    assert resource["supportingInformation"] == [{"reference": f"CarePlan/{plan['id']}"}]
    assert resource["minutesDuration"] == 30
    unplanned = appointment(
        get_session(db=db, session_id=uuid.UUID(alone["id"]), now=clinic.clock()),
        clinical=False,
        room=None,
    )
    assert "supportingInformation" not in unplanned


def test_a_proposal_is_a_proposed_appointment_without_an_id() -> None:
    patient_id, practitioner_id = uuid.uuid4(), uuid.uuid4()
    start = paris_day(10, 9)
    resource = proposed_appointment(
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        start=start,
        end=start + timedelta(minutes=45),
    )
    model = parsed(resource)
    assert (model.status, model.id, model.meta) == ("proposed", None, None)
    assert model.start == start
    assert model.minutesDuration == 45
    assert {(p.actor.reference, p.status) for p in model.participant} == {
        (f"Patient/{patient_id}", "needs-action"),
        (f"Practitioner/{practitioner_id}", "needs-action"),
    }


def test_a_search_finds_sessions_by_when_they_start_not_by_overlap(
    clinic: Clinic, db: Session
) -> None:
    early = clinic.book(clinic.patient(), paris_day(3, 10))
    late = clinic.book(clinic.patient(), paris_day(3, 12))
    ten = paris_day(3, 10)

    def found(**bounds: Any) -> list[str]:
        page, _ = find_sessions(
            db=db,
            now=clinic.clock(),
            patient_id=None,
            practitioner_id=None,
            statuses=(),
            limit=50,
            cursor=None,
            **{"starts_from": None, "starts_before": None, **bounds},
        )
        return [str(row.id) for row in page]

    assert found(starts_from=ten) == [early["id"], late["id"]]
    # Under way at 10:01, but it started before: not a match for "starts from 10:01".
    assert found(starts_from=ten + timedelta(minutes=1)) == [late["id"]]
    assert found(starts_before=paris_day(3, 12)) == [early["id"]]
    assert found(starts_from=ten, starts_before=ten + timedelta(seconds=1)) == [early["id"]]


def test_a_search_filters_by_patient_practitioner_and_status_a_page_at_a_time(
    clinic: Clinic, db: Session
) -> None:
    patient = clinic.patient()
    visits = [clinic.book(patient, paris_day(days, 10)) for days in (3, 20, 40)]
    other = clinic.book(clinic.patient(), paris_day(3, 12))
    ok(clinic.client.post(f"/api/v1/sessions/{visits[1]['id']}/cancel", json={"reason": "x"}))
    search = {
        "db": db,
        "now": clinic.clock(),
        "practitioner_id": uuid.UUID(clinic.doctor["id"]),
        "starts_from": None,
        "starts_before": None,
    }
    first, cursor = find_sessions(
        **search, patient_id=uuid.UUID(patient), statuses=(), limit=2, cursor=None
    )
    assert [str(r.id) for r in first] == [visits[0]["id"], visits[1]["id"]]
    rest, last = find_sessions(
        **search, patient_id=uuid.UUID(patient), statuses=(), limit=2, cursor=cursor
    )
    assert ([str(r.id) for r in rest], last) == ([visits[2]["id"]], None)
    booked, _ = find_sessions(
        **search, patient_id=None, statuses=(SessionStatus.BOOKED,), limit=50, cursor=None
    )
    assert [str(r.id) for r in booked] == [visits[0]["id"], other["id"], visits[2]["id"]]
    elsewhere, _ = find_sessions(
        **{**search, "practitioner_id": uuid.uuid4()},
        patient_id=None,
        statuses=(),
        limit=50,
        cursor=None,
    )
    assert elsewhere == []
