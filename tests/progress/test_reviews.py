"""Reviews of a course's treated sites: recorded after the sessions that treated them, read
back, listed, and summed up per site."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import Clock, assert_problem, count_rows, eligible_patient, table_snapshot
from tests.progress.course import Course, dose
from tests.sessions.steps import at, booked, ok

REVIEW_TABLES = ("site_reviews", "reviewed_sites", "site_complications")


def test_a_review_after_two_sessions_is_summed_up_per_site(
    course: Callable[..., Course], clock: Clock
) -> None:
    treated = course()
    first = treated.treat(dose("left-calf", volume_ml=2))  # 10 mg
    second = treated.treat(dose("left-calf", "right-thigh", volume_ml=4))  # 20 mg, shared
    onset = treated.day_of(first) + timedelta(days=10)
    answer = treated.review(
        session_id=second["id"],
        sites=[
            {
                "site": "left-calf",
                "response": "partial",
                "complications": [{"code": "matting", "onset_date": onset.isoformat()}],
            },
            {"site": "right-thigh", "response": "none"},
        ],
    )
    assert answer.status_code == 201, answer.text
    review = answer.json()
    assert answer.headers["Location"] == f"/api/v1/reviews/{review['id']}"
    assert (review["plan_id"], review["patient_id"]) == (treated.plan["id"], treated.patient["id"])
    assert (review["practitioner_id"], review["session_id"]) == (treated.doctor["id"], second["id"])
    assert review["sites"] == [
        {
            "site": "left-calf",
            "response": "partial",
            "complications": [
                {"code": "matting", "onset_date": onset.isoformat(), "description": None}
            ],
        },
        {"site": "right-thigh", "response": "none", "complications": []},
    ]
    assert ok(treated.client.get(f"/api/v1/reviews/{review['id']}")) == review

    summary = treated.summary()
    assert (summary["planned_sessions"], summary["sessions_done"]) == (3, 2)
    thigh, calf = summary["sites"]
    assert calf["site"] == "left-calf"
    assert (calf["sessions"], calf["shared_sessions"]) == (2, 1)
    assert calf["given"] == [
        {"sclerosant": "polidocanol", "form": "liquid", "volume_ml": 2.0, "dose_mg": 10.0}
    ]
    assert at(calf["first_treated_at"]) < at(calf["last_treated_at"])
    assert calf["latest_response"] == {
        "response": "partial",
        "reviewed_at": review["reviewed_at"],
        "review_id": review["id"],
    }
    assert [(c["code"], c["onset_date"]) for c in calf["complications"]] == [
        ("matting", onset.isoformat())
    ]
    assert thigh["site"] == "right-thigh"
    assert (thigh["sessions"], thigh["shared_sessions"], thigh["given"]) == (1, 1, [])
    assert thigh["latest_response"]["response"] == "none"
    assert thigh["complications"] == []
    # The shared session's amount is the course's, not divided between the two sites.
    assert summary["unattributed"] == [
        {"sclerosant": "polidocanol", "form": "liquid", "volume_ml": 4.0, "dose_mg": 20.0}
    ]

    # A week later: better, the onset of the matting corrected, a new complication.
    clock.travel_to(clock() + timedelta(days=7))
    corrected = onset + timedelta(days=1)
    later = ok(
        treated.review(
            sites=[
                {
                    "site": "left-calf",
                    "response": "good",
                    "complications": [
                        {"code": "hyperpigmentation", "onset_date": corrected.isoformat()},
                        {"code": "matting", "onset_date": corrected.isoformat()},
                    ],
                }
            ]
        )
    )
    thigh, calf = treated.summary()["sites"]
    assert (calf["latest_response"]["response"], calf["latest_response"]["review_id"]) == (
        "good",
        later["id"],
    )
    assert [(c["code"], c["onset_date"], c["review_id"]) for c in calf["complications"]] == [
        ("hyperpigmentation", corrected.isoformat(), later["id"]),
        ("matting", corrected.isoformat(), later["id"]),
    ]
    assert thigh["latest_response"]["review_id"] == review["id"]  # not seen since

    listed = ok(treated.client.get(f"{treated.url}/reviews"))
    assert [r["id"] for r in listed["items"]] == [later["id"], review["id"]]
    assert listed["next_cursor"] is None
    page = ok(treated.client.get(f"{treated.url}/reviews", params={"limit": 1}))
    assert [r["id"] for r in page["items"]] == [later["id"]]
    rest = ok(treated.client.get(f"{treated.url}/reviews", params={"cursor": page["next_cursor"]}))
    assert [r["id"] for r in rest["items"]] == [review["id"]]


def test_every_other_complication_is_kept_apart_by_what_it_was(
    course: Callable[..., Course], clock: Clock
) -> None:
    treated = course()
    visit = treated.treat(dose("right-calf"))
    day = treated.day_of(visit).isoformat()
    for said in ("Blister at an injection point", "Itching along the vein"):
        other = {"code": "other", "onset_date": day, "description": said}
        ok(
            treated.review(
                sites=[{"site": "right-calf", "response": "none", "complications": [other]}]
            )
        )
        clock.travel_to(clock() + timedelta(days=1))
    (calf,) = treated.summary()["sites"]
    assert [c["description"] for c in calf["complications"]] == [
        "Blister at an injection point",
        "Itching along the vein",
    ]


def test_a_site_never_treated_in_the_course_is_refused_by_name(
    course: Callable[..., Course], engine: Engine
) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    before = table_snapshot(engine, *REVIEW_TABLES)
    refused = treated.review(
        sites=[
            {"site": "left-calf", "response": "good"},
            {"site": "right-calf", "response": "none"},
        ]
    )
    body = assert_problem(refused, 422, "site-not-treated")
    assert body["sites"] == ["right-calf"]
    assert "right-calf" in body["detail"]
    # Treated later than the review says it was made: not treated by then.
    treated.treat(dose("right-thigh"))
    early = at(treated.sessions[-1]["start"]) - timedelta(days=1)
    body = assert_problem(
        treated.review(reviewed_at=early, sites=[{"site": "right-thigh", "response": "good"}]),
        422,
        "site-not-treated",
    )
    assert body["sites"] == ["right-thigh"]
    assert table_snapshot(engine, *REVIEW_TABLES) == before


def test_an_onset_before_the_first_treatment_or_after_the_review_is_refused(
    course: Callable[..., Course], clock: Clock, engine: Engine
) -> None:
    treated = course()
    first = treated.treat(dose("left-calf"))
    clock.travel_to(at(first["start"]) + timedelta(days=7))  # the review, stated later
    treated_on = treated.day_of(first)
    reviewed_at = at(first["start"]) + timedelta(days=3)
    reviewed_on = treated_on + timedelta(days=3)
    for onset, says in (
        (treated_on - timedelta(days=1), "before left-calf was first treated"),
        (reviewed_on + timedelta(days=1), "after the review"),
    ):
        complication = {"code": "thrombophlebitis", "onset_date": onset.isoformat()}
        refused = treated.review(
            reviewed_at=reviewed_at,
            sites=[{"site": "left-calf", "response": "none", "complications": [complication]}],
        )
        body = assert_problem(refused, 422, "validation-error")
        (error,) = body["errors"]
        assert error["loc"] == ["body", "sites", 0, "complications", 0, "onset_date"]
        assert says in error["msg"]
    assert count_rows(engine, "site_reviews") == 0
    # Its first day and the review's own day are both fine.
    for onset in (treated_on, reviewed_on):
        complication = {"code": "thrombophlebitis", "onset_date": onset.isoformat()}
        ok(
            treated.review(
                reviewed_at=reviewed_at,
                sites=[{"site": "left-calf", "response": "none", "complications": [complication]}],
            )
        )


def test_the_session_of_a_review_is_one_the_patient_attended(
    course: Callable[..., Course],
    client: TestClient,
    clock: Clock,
    doctor: dict[str, Any],
    engine: Engine,
) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    upcoming = treated.book()
    someone_else = eligible_patient(client, doctor["id"], given_name="Other")
    theirs = booked(
        client,
        patient_id=someone_else["id"],
        practitioner_id=doctor["id"],
        start=at(upcoming["start"]) + timedelta(hours=2),
    )
    site = [{"site": "left-calf", "response": "good"}]
    for session_id, code in (
        (theirs["id"], "unknown-session"),
        ("7b4f1f52-7c5e-4f57-9d47-b5c0f0e8a1d2", "unknown-session"),
        (upcoming["id"], "session-not-attended"),
    ):
        assert_problem(treated.review(session_id=session_id, sites=site), 422, code)
    # Seen at the session treated: on its day, not two days later.
    attended = treated.sessions[0]
    later = at(attended["start"]) + timedelta(days=2)
    clock.travel_to(later + timedelta(hours=1))
    body = assert_problem(
        treated.review(session_id=attended["id"], reviewed_at=later, sites=site),
        422,
        "validation-error",
    )
    assert body["errors"][0]["loc"] == ["body", "reviewed_at"]
    assert count_rows(engine, "site_reviews") == 0
    on_the_day = at(attended["start"]) + timedelta(hours=1)
    review = ok(treated.review(session_id=attended["id"], reviewed_at=on_the_day, sites=site))
    assert review["session_id"] == attended["id"]


def test_a_review_is_not_dated_in_the_future(course: Callable[..., Course], clock: Clock) -> None:
    treated = course()
    treated.treat(dose("left-calf"))
    site = [{"site": "left-calf", "response": "good"}]
    body = assert_problem(
        treated.review(reviewed_at=clock() + timedelta(hours=1), sites=site),
        422,
        "validation-error",
    )
    assert body["errors"][0]["loc"] == ["body", "reviewed_at"]
    # A clock a little fast is taken as now.
    review = ok(treated.review(reviewed_at=clock() + timedelta(minutes=2), sites=site))
    assert at(review["reviewed_at"]) <= at(review["recorded_at"])
