"""Who sees what of a course's progress, and the audit trail of every look: reviews are
clinical (clinicians record them, `clinical:read` reads them); the summary is the plan's, its
sites and amounts for `clinical:read` only, its flags for roles that read eligibility."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.models import AuditEvent
from app.roles import Role
from tests.factories import ClientFactory, assert_problem, new_practitioner, record_evaluation
from tests.progress.course import Course, dose
from tests.sessions.steps import ok

CALF = {"site": "left-calf", "response": "good"}


def test_reviews_are_read_by_clinical_roles_and_the_summary_by_all_with_less_shown(
    course: Callable[..., Course], client_as: ClientFactory, clinician: TestClient
) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    review = ok(clinician.post(f"{treated.url}/reviews", json={"sites": [CALF]}))
    record_evaluation(
        treated.client, treated.patient["id"], treated.doctor["id"], risks={"pregnancy": True}
    )
    full = treated.summary(clinician)
    assert [s["site"] for s in full["sites"]] == ["left-calf"]
    assert full["unattributed"] == []
    assert [f["code"] for f in full["next_visit"]["flags"]] == ["pregnancy"]
    for role, flags in ((Role.RECEPTIONIST, ["pregnancy"]), (Role.INTEGRATION, None)):
        caller = client_as(role)
        seen = treated.summary(caller)
        assert (seen["sites"], seen["unattributed"]) == (None, None)
        assert (seen["sessions_done"], seen["next_visit"]["reason"]) == (1, "patient-blocked")
        assert seen["next_visit"]["blocked"] is True
        got = seen["next_visit"]["flags"]
        assert (got if got is None else [f["code"] for f in got]) == flags
        for path in (f"{treated.url}/reviews", f"/api/v1/reviews/{review['id']}"):
            assert_problem(caller.get(path), 403, "forbidden")
        assert_problem(
            caller.post(f"{treated.url}/reviews", json={"sites": [CALF]}), 403, "forbidden"
        )
    assert ok(clinician.get(f"/api/v1/reviews/{review['id']}")) == review


def _events(engine: Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as db:
        return [
            (e.action, e.resource_type, e.resource_id, e.patient_id, e.outcome.value, e.detail)
            for e in db.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        ]


def test_every_look_at_a_review_and_every_attempt_is_in_the_audit_trail(
    course: Callable[..., Course], clinician: TestClient, engine: Engine
) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    patient = uuid.UUID(treated.patient["id"])
    plan = uuid.UUID(treated.plan["id"])
    colleague = new_practitioner(treated.client, name="Dr B")
    seen = len(_events(engine))

    def added() -> list[tuple[Any, ...]]:
        nonlocal seen
        events = _events(engine)
        new, seen = events[seen:], len(events)
        return new

    mine = ok(clinician.post(f"{treated.url}/reviews", json={"sites": [CALF]}))
    review = uuid.UUID(mine["id"])
    assert added() == [("create", "review", review, patient, "success", None)]
    theirs = ok(treated.review(practitioner_id=colleague["id"], sites=[CALF]))
    assert added() == [
        (
            "create-on-behalf",
            "review",
            uuid.UUID(theirs["id"]),
            patient,
            "success",
            f"on behalf of practitioner {colleague['id']}",
        )
    ]
    refused = clinician.post(
        f"{treated.url}/reviews", json={"practitioner_id": colleague["id"], "sites": [CALF]}
    )
    assert_problem(refused, 403, "not-own-practitioner")
    assert added() == [
        (
            "create",
            "review",
            None,
            patient,
            "denied",
            f"not-own-practitioner, naming practitioner {colleague['id']}",
        )
    ]
    ok(clinician.get(f"/api/v1/reviews/{review}"))
    assert added() == [("read", "review", review, patient, "success", None)]
    ok(clinician.get(f"{treated.url}/reviews"))
    assert [e[:2] + e[3:] for e in added()] == [("list", "review", patient, "success", None)]
    treated.summary(clinician)
    assert added() == [("read", "treatment-plan", plan, patient, "success", None)]
    unknown = uuid.uuid4()
    assert_problem(clinician.get(f"/api/v1/reviews/{unknown}"), 404, "not-found")
    assert added() == [("read", "review", unknown, None, "denied", "404 not-found")]
    # A site the course never treated: the refusal says which were not, a disclosure.
    assert_problem(
        clinician.post(
            f"{treated.url}/reviews", json={"sites": [{"site": "right-calf", "response": "none"}]}
        ),
        422,
        "site-not-treated",
    )
    assert added() == [("write", "treatment-plan", plan, patient, "denied", "422 site-not-treated")]
