"""A course's summary: the sessions done of those planned, and its next visit, booked,
proposed, or none with the reason (and, for a patient who may not be booked, the flags)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import assert_problem, record_evaluation
from tests.progress.course import Course, dose
from tests.sessions.steps import PARIS, at, ok


def _next(summary: dict[str, Any]) -> dict[str, Any]:
    visit: dict[str, Any] = summary["next_visit"]
    return visit


def test_a_course_with_no_session_yet_has_its_first_visit_proposed(
    course: Callable[..., Course],
) -> None:
    treated = course()
    summary = treated.summary()
    assert summary["plan_id"] == treated.plan["id"]
    assert (summary["status"], summary["planned_sessions"], summary["sessions_done"]) == (
        "active",
        3,
        0,
    )
    assert (summary["sites"], summary["unattributed"]) == ([], [])
    visit = _next(summary)
    assert (visit["status"], visit["session"], visit["reason"]) == ("proposed", None, None)
    assert (visit["blocked"], visit["flags"]) == (False, [])
    proposal = visit["proposal"]
    assert (proposal["sequence"], proposal["practitioner_id"]) == (1, treated.doctor["id"])
    assert at(proposal["end"]) - at(proposal["start"]) == timedelta(minutes=45)


def test_a_booked_session_is_the_next_visit(course: Callable[..., Course]) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    upcoming = treated.book()
    visit = _next(treated.summary())
    assert visit["status"] == "booked"
    assert (visit["session"]["id"], visit["session"]["status"]) == (upcoming["id"], "booked")
    assert (visit["proposal"], visit["reason"], visit["blocked"]) == (None, None, False)


def test_after_a_session_the_next_visit_is_proposed_about_a_month_later(
    course: Callable[..., Course],
) -> None:
    treated = course()
    first = treated.treat(dose("left-calf"))
    summary = treated.summary()
    assert summary["sessions_done"] == 1
    visit = _next(summary)
    assert visit["status"] == "proposed"
    proposal = visit["proposal"]
    assert (proposal["sequence"], proposal["practitioner_id"]) == (2, treated.doctor["id"])
    gap = at(proposal["start"]).astimezone(PARIS).date() - treated.day_of(first)
    assert timedelta(days=21) <= gap <= timedelta(days=35)
    assert at(proposal["end"]) - at(proposal["start"]) == timedelta(minutes=45)


def test_a_patient_who_may_not_be_booked_gets_no_visit_and_the_flags(
    course: Callable[..., Course],
) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    record_evaluation(
        treated.client, treated.patient["id"], treated.doctor["id"], risks={"pregnancy": True}
    )
    visit = _next(treated.summary())
    assert (visit["status"], visit["reason"], visit["blocked"]) == (
        "none",
        "patient-blocked",
        True,
    )
    assert [f["code"] for f in visit["flags"]] == ["pregnancy"]
    assert (visit["session"], visit["proposal"]) == (None, None)
    assert visit["message"]

    ok(treated.client.delete(f"/api/v1/patients/{treated.patient['id']}"))
    visit = _next(treated.summary())
    assert [f["code"] for f in visit["flags"]] == ["patient-archived"]


def test_a_course_over_or_paused_has_no_next_visit(course: Callable[..., Course]) -> None:
    done = course(planned_sessions=1)
    done.treat(dose("left-calf"))
    cancelled, paused = course(), course()
    ok(cancelled.client.patch(cancelled.url, json={"status": "cancelled"}))
    ok(paused.client.patch(paused.url, json={"status": "on-hold"}))
    for each, status, reason in (
        (done, "completed", "plan-completed"),
        (cancelled, "cancelled", "plan-cancelled"),
        (paused, "on-hold", "plan-on-hold"),
    ):
        summary = each.summary()
        assert summary["status"] == status
        visit = _next(summary)
        assert (visit["status"], visit["reason"], visit["blocked"]) == ("none", reason, False)
        assert (visit["session"], visit["proposal"], visit["flags"]) == (None, None, [])
    # A paused course's session still booked is still its next visit (flagged for review).
    held = course()
    upcoming = held.book()
    ok(held.client.patch(held.url, json={"status": "on-hold"}))
    assert _next(held.summary())["session"]["id"] == upcoming["id"]


def test_a_full_course_and_a_full_calendar_say_so(
    course: Callable[..., Course], doctor: dict[str, Any]
) -> None:
    full = course(planned_sessions=1)
    visit = full.book()
    # Its one session was never checked in, and is now more than a day past.
    full.clock.travel_to(at(visit["end"]) + timedelta(days=2))
    assert (_next(full.summary())["status"], _next(full.summary())["reason"]) == (
        "none",
        "plan-full",
    )

    busy = course()
    now = busy.clock()
    ok(
        busy.client.post(
            f"/api/v1/practitioners/{doctor['id']}/time-off",
            json={
                "start": (now - timedelta(days=1)).isoformat(),
                "end": (now + timedelta(days=200)).isoformat(),
                "reason": "Sabbatical",
            },
        )
    )
    visit = _next(busy.summary())
    assert (visit["status"], visit["reason"], visit["blocked"]) == ("none", "no-free-slot", False)
    assert visit["message"]


def test_the_summary_is_also_served_where_the_issue_named_it(
    course: Callable[..., Course], client: TestClient
) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    alias = ok(client.get(f"/api/v1/plans/{treated.plan['id']}/summary"))
    assert alias == treated.summary()
    unknown = uuid.uuid4()
    for path in (f"/api/v1/treatment-plans/{unknown}/summary", f"/api/v1/plans/{unknown}/summary"):
        assert_problem(client.get(path), 404, "not-found")
    assert_problem(client.get("/api/v1/plans/not-an-id/summary"), 422, "validation-error")


def test_a_site_whose_only_session_was_entered_in_error_keeps_its_reviews(
    course: Callable[..., Course], clock: Any
) -> None:
    treated = course()
    visit = treated.treat(dose("right-calf"))
    ok(treated.review(sites=[{"site": "right-calf", "response": "partial"}]))
    ok(
        treated.client.post(
            f"/api/v1/sessions/{visit['id']}/entered-in-error", json={"reason": "Wrong patient"}
        )
    )
    (calf,) = treated.summary()["sites"]
    assert (calf["site"], calf["sessions"], calf["first_treated_at"], calf["given"]) == (
        "right-calf",
        0,
        None,
        [],
    )
    assert calf["latest_response"]["response"] == "partial"
    # No new review of it: it is no longer treated in the course.
    assert_problem(
        treated.review(sites=[{"site": "right-calf", "response": "good"}]), 422, "site-not-treated"
    )


def test_lines_of_injections_are_summed_per_site_and_form(
    course: Callable[..., Course],
) -> None:
    """Each line is its own site's: nothing is unattributed; a foam's volume is not added to a
    liquid's, and its dose comes from its liquid part (1:4: a fifth of the volume)."""
    treated = course()
    calf = {"site": "left-calf", "vessel": "telangiectasia", "count": 8}
    thigh = {"site": "right-thigh", "vessel": "reticular", "count": 4}
    liquid = {"sclerosant": "polidocanol", "concentration_percent": 0.5, "form": "liquid"}
    foam = {"sclerosant": "polidocanol", "concentration_percent": 1, "form": "foam"}
    foam |= {"foam_ratio": "1:4", "gas": "air"}
    treated.treat({"injections": [{**calf, **liquid, "volume_ml": 2}]})  # 10 mg
    treated.treat(
        {
            "injections": [
                {**calf, **liquid, "volume_ml": 1.5},  # 7.5 mg
                {**thigh, **foam, "volume_ml": 5},  # 1 mL of 1%: 10 mg
            ]
        }
    )
    summary = treated.summary()
    assert summary["unattributed"] == []
    by_site = {s["site"]: s for s in summary["sites"]}
    assert set(by_site) == {"left-calf", "right-thigh"}
    assert (by_site["left-calf"]["sessions"], by_site["right-thigh"]["sessions"]) == (2, 1)
    assert by_site["left-calf"]["given"] == [
        {"sclerosant": "polidocanol", "form": "liquid", "volume_ml": 3.5, "dose_mg": 17.5}
    ]
    assert by_site["right-thigh"]["given"] == [
        {"sclerosant": "polidocanol", "form": "foam", "volume_ml": 5.0, "dose_mg": 10.0}
    ]
    assert all(s["shared_sessions"] == 0 for s in summary["sites"])
