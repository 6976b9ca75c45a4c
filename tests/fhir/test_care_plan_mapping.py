"""CarePlan: each treatment plan as FHIR R4 writes it, with its planned course and its booked
or fulfilled sessions, and the plans a CarePlan search finds."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.fhir.care_plans import CARE_PLAN_STATUS, care_plan
from app.plans.service import get_plan, search_plans
from app.vocabulary import PlanStatus
from tests.fhir.clinical import clinic, db, instant, parsed
from tests.sessions.clinic import Clinic, ok, paris_day

__all__ = ["clinic", "db"]  # fixtures


def _plan(clinic: Clinic, patient: str, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = ok(
        clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json=body)
    )
    return result


def test_every_plan_status_is_a_care_plan_status() -> None:
    assert CARE_PLAN_STATUS == {
        PlanStatus.ACTIVE: "active",
        PlanStatus.ON_HOLD: "on-hold",
        PlanStatus.COMPLETED: "completed",
        PlanStatus.CANCELLED: "revoked",
    }


def test_a_course_under_way_names_its_sessions_and_how_far_it_has_gone(
    clinic: Clinic, db: Session
) -> None:
    patient = clinic.patient()
    plan = _plan(clinic, patient, planned_sessions=3, interval_days=28, notes="Left leg first")
    first = clinic.book(patient, paris_day(3, 10), plan_id=plan["id"])
    second = clinic.book(patient, paris_day(31, 10), plan_id=plan["id"])
    dropped = clinic.book(patient, paris_day(59, 10), plan_id=plan["id"])
    ok(clinic.client.post(f"/api/v1/sessions/{dropped['id']}/cancel", json={"reason": "x"}))
    clinic.treat(first)
    read = ok(clinic.client.get(f"/api/v1/treatment-plans/{plan['id']}"))
    resource = care_plan(get_plan(db=db, plan_id=uuid.UUID(plan["id"])), clinical=True)
    model = parsed(resource)
    assert (model.status, model.intent) == ("active", "plan")
    assert model.subject.reference == f"Patient/{patient}"
    assert model.period.start == instant(plan["created_at"])
    assert model.meta.versionId == str(read["version"])
    assert [n.text for n in model.note] == ["Left leg first"]
    course, *sessions = model.activity
    repeat = course.detail.scheduledTiming.repeat
    assert (repeat.count, repeat.frequency, repeat.period, repeat.periodUnit) == (3, 1, 28, "d")
    assert (course.detail.kind, course.detail.status) == ("Appointment", "in-progress")
    assert course.detail.code.coding[0].code == "micro-sclerotherapy-session"
    # The cancelled session is not part of the course any more.
    assert [s.reference.reference for s in sessions] == [
        f"Appointment/{first['id']}",
        f"Appointment/{second['id']}",
    ]
    assert [[o.reference for o in s.outcomeReference or []] for s in sessions] == [
        [f"Procedure/{first['id']}"],
        [],
    ]


def test_a_plan_s_notes_are_shown_only_to_clinical_roles(clinic: Clinic, db: Session) -> None:
    plan = _plan(clinic, clinic.patient(), notes="Anxious about needles")
    stored = get_plan(db=db, plan_id=uuid.UUID(plan["id"]))
    assert "note" not in care_plan(stored, clinical=False)
    assert care_plan(stored, clinical=True)["note"] == [{"text": "Anxious about needles"}]


def test_each_plan_status_shows_as_the_care_plan_s(clinic: Clinic, db: Session) -> None:
    fresh = _plan(clinic, clinic.patient())
    held = _plan(clinic, clinic.patient())
    dropped = _plan(clinic, clinic.patient())
    done_patient = clinic.patient()
    done = _plan(clinic, done_patient, planned_sessions=1)
    visit = clinic.book(done_patient, paris_day(3, 10), plan_id=done["id"])
    for plan, status in ((held, "on-hold"), (dropped, "cancelled")):
        ok(clinic.client.patch(f"/api/v1/treatment-plans/{plan['id']}", json={"status": status}))
    treated = clinic.treat(visit)["session"]
    expected = {
        fresh["id"]: ("active", "not-started"),
        held["id"]: ("on-hold", "on-hold"),
        dropped["id"]: ("revoked", "cancelled"),
        done["id"]: ("completed", "completed"),
    }
    for plan_id, (status, progress) in expected.items():
        model = parsed(care_plan(get_plan(db=db, plan_id=uuid.UUID(plan_id)), clinical=False))
        assert (model.status, model.activity[0].detail.status) == (status, progress)
    finished = parsed(care_plan(get_plan(db=db, plan_id=uuid.UUID(done["id"])), clinical=False))
    assert finished.period.end == instant(treated["end"])


def test_a_search_finds_plans_by_patient_and_status_newest_first(
    clinic: Clinic, db: Session
) -> None:
    patient, other = clinic.patient(), clinic.patient()
    old = _plan(clinic, patient)
    ok(clinic.client.patch(f"/api/v1/treatment-plans/{old['id']}", json={"status": "cancelled"}))
    new = _plan(clinic, patient)
    theirs = _plan(clinic, other)

    def found(**search: Any) -> list[str]:
        page, _ = search_plans(db=db, **search)
        return [str(p.id) for p in page]

    assert found(patient_id=uuid.UUID(patient)) == [new["id"], old["id"]]
    assert found() == [theirs["id"], new["id"], old["id"]]
    assert found(statuses=[PlanStatus.ACTIVE]) == [theirs["id"], new["id"]]
    assert found(patient_id=uuid.UUID(patient), statuses=[PlanStatus.CANCELLED]) == [old["id"]]
    assert found(patient_id=uuid.uuid4()) == []
    first, cursor = search_plans(db=db, limit=2)
    rest, last = search_plans(db=db, limit=2, cursor=cursor)
    assert [str(p.id) for p in [*first, *rest]] == [theirs["id"], new["id"], old["id"]]
    assert last is None
