"""Free slots, proposals, booking and the session life cycle through HTTP."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.conftest import (
    WEEKDAYS_9_TO_17,
    Clock,
    assert_problem,
    count_rows,
    eligible_patient,
    new_patient,
    new_practitioner,
    next_weekday_at,
    record_evaluation,
)

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def doctor(client: TestClient) -> dict[str, Any]:
    return new_practitioner(client, availability=WEEKDAYS_9_TO_17)


def book(client: TestClient, **body: Any) -> Any:
    if isinstance(body.get("start"), datetime):
        body["start"] = body["start"].isoformat()
    return client.post("/api/v1/sessions", json=body)


def booked(client: TestClient, **body: Any) -> dict[str, Any]:
    response = book(client, **body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def ok(response: Any) -> Any:
    """A set-up step's response: it must have worked, or the test proves nothing."""
    assert response.status_code < 300, response.text
    return response.json()


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def checked_in(client: TestClient, clock: Clock, visit_url: str) -> dict[str, Any]:
    """The session's patient checked in on its day (the clinic's clock moved there)."""
    clock.on_the_day_of(ok(client.get(visit_url)))
    result: dict[str, Any] = ok(client.post(f"{visit_url}/check-in"))
    return result


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


def test_free_slots_avoid_bookings_and_time_off(client: TestClient, doctor: dict[str, Any]) -> None:
    monday = next_weekday_at(0, 9)
    patient = eligible_patient(client, doctor["id"])
    booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday + timedelta(hours=1),
    )
    ok(
        client.post(
            f"/api/v1/practitioners/{doctor['id']}/time-off",
            json={
                "start": (monday + timedelta(hours=5)).isoformat(),
                "end": (monday + timedelta(hours=8)).isoformat(),
                "reason": "Training",
            },
        )
    )
    response = client.get(
        f"/api/v1/practitioners/{doctor['id']}/slots",
        params={
            "from": monday.isoformat(),
            "to": (monday + timedelta(hours=8)).isoformat(),
            "duration_minutes": 60,
        },
    )
    body = response.json()
    assert body["time_zone"] == "Europe/Paris"
    walls = [at(s["start"]).astimezone(PARIS).strftime("%H:%M") for s in body["slots"]]
    assert walls == [
        "09:00",
        "10:45",  # right after the 10:00-10:45 booking
        "11:00",
        "11:15",
        "11:30",
        "11:45",
        "12:00",
        "12:15",
        "12:30",
        "12:45",
        "13:00",
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2027-01-01T00:00:00Z", "to": "2027-02-05T00:00:00Z"},
        {"from": "2027-01-05T00:00:00Z", "to": "2027-01-01T00:00:00Z"},
        {"from": "2027-01-01T00:00:00Z", "to": "2027-01-02T00:00:00Z", "duration_minutes": 90},
        {"from": "2027-01-01T00:00:00", "to": "2027-01-02T00:00:00Z"},
        {"to": "2027-01-02T00:00:00Z"},
    ],
)
def test_bad_slot_queries(
    client: TestClient, doctor: dict[str, Any], params: dict[str, Any]
) -> None:
    response = client.get(f"/api/v1/practitioners/{doctor['id']}/slots", params=params)
    assert response.status_code == 422
    assert response.json()["code"] in {"invalid-range", "validation-error"}


def test_booking_refusals(client: TestClient, engine: Engine, doctor: dict[str, Any]) -> None:
    patient = eligible_patient(client, doctor["id"])
    monday = next_weekday_at(0, 9)
    first = booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    assert first["end"] == (monday + timedelta(minutes=45)).astimezone(UTC).isoformat().replace(
        "+00:00", "Z"
    )
    before = count_rows(engine, "treatment_sessions")

    def refused(status: int, code: str, **body: Any) -> None:
        assert_problem(
            book(client, **{"patient_id": patient["id"], "practitioner_id": doctor["id"], **body}),
            status,
            code,
        )

    refused(422, "outside-availability", start=monday.replace(hour=8))
    refused(422, "outside-availability", start=monday.replace(hour=16, minute=30))
    refused(422, "outside-availability", start=monday + timedelta(days=5))  # Saturday
    refused(422, "interval-too-short", start=monday + timedelta(days=10))  # Thursday week
    refused(422, "in-the-past", start=datetime.now(UTC) - timedelta(days=1))
    refused(422, "validation-error", start=monday + timedelta(days=21), duration_minutes=61)
    refused(422, "validation-error", start=(monday + timedelta(days=21)).replace(tzinfo=None))
    refused(422, "unknown-patient", start=monday + timedelta(days=21), patient_id=str(uuid.uuid4()))
    refused(
        422,
        "unknown-practitioner",
        start=monday + timedelta(days=21),
        practitioner_id=str(uuid.uuid4()),
    )
    refused(422, "unknown-plan", start=monday + timedelta(days=21), plan_id=str(uuid.uuid4()))
    # The same patient with another practitioner at an overlapping time.
    colleague = new_practitioner(client, name="Dr B", availability=WEEKDAYS_9_TO_17)
    refused(
        409, "slot-taken", start=monday + timedelta(minutes=30), practitioner_id=colleague["id"]
    )
    ok(
        client.post(
            f"/api/v1/practitioners/{doctor['id']}/time-off",
            json={
                "start": (monday + timedelta(days=21)).isoformat(),
                "end": (monday + timedelta(days=22)).isoformat(),
                "reason": "Leave",
            },
        )
    )
    refused(422, "outside-availability", start=monday + timedelta(days=21, hours=2))
    ok(client.patch(f"/api/v1/practitioners/{colleague['id']}", json={"active": False}))
    refused(
        422,
        "inactive-practitioner",
        start=monday + timedelta(days=28),
        practitioner_id=colleague["id"],
    )
    ok(client.delete(f"/api/v1/patients/{patient['id']}"))
    refused(409, "patient-archived", start=monday + timedelta(days=28))
    assert count_rows(engine, "treatment_sessions") == before


def test_booking_needs_an_evaluation_valid_through_the_session(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    patient = new_patient(client)
    monday = next_weekday_at(0, 9)
    body = assert_problem(
        book(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday),
        409,
        "eligibility-blocked",
    )
    assert body["flags"][0]["code"] == "evaluation-missing"
    eleven_months_ago = datetime.now(UTC) - timedelta(days=340)
    record_evaluation(
        client, patient["id"], doctor["id"], performed_at=eleven_months_ago.isoformat()
    )
    body = assert_problem(
        book(
            client,
            patient_id=patient["id"],
            practitioner_id=doctor["id"],
            start=next_weekday_at(0, 9, weeks_ahead=5),
        ),
        409,
        "eligibility-blocked",
    )
    assert body["flags"][0]["code"] == "evaluation-expires-before-session"
    pill = new_patient(client, given_name="Pill")
    evaluation = record_evaluation(
        client, pill["id"], doctor["id"], risks={"hormonal_contraception": True}
    )
    body = assert_problem(
        book(client, patient_id=pill["id"], practitioner_id=doctor["id"], start=monday),
        409,
        "eligibility-blocked",
    )
    assert body["outcome"] == "clearance-required"
    ok(
        client.post(
            f"/api/v1/evaluations/{evaluation['id']}/clearance",
            json={"practitioner_id": doctor["id"], "reason": "Reviewed"},
        )
    )
    assert (
        book(client, patient_id=pill["id"], practitioner_id=doctor["id"], start=monday).status_code
        == 201
    )


def test_life_cycle(
    client: TestClient, engine: Engine, doctor: dict[str, Any], clock: Clock
) -> None:
    patient = new_patient(client)
    record_evaluation(client, patient["id"], doctor["id"], weight_kg=60)
    monday = next_weekday_at(0, 10)
    visit = booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    url = f"/api/v1/sessions/{visit['id']}"

    moved = client.post(
        f"{url}/reschedule",
        json={"start": (monday + timedelta(days=1)).isoformat(), "reason": "Asked"},
    )
    assert moved.status_code == 200
    history = moved.json()["history"]
    assert [h["action"] for h in history] == ["book", "reschedule"]
    assert at(history[1]["old_start"]) == monday
    assert at(moved.json()["start"]) == monday + timedelta(days=1)

    assert_problem(client.post(f"{url}/no-show"), 409, "invalid-transition")  # not started yet
    assert_problem(
        client.post(
            f"{url}/complete",
            json={
                "treated_sites": ["left-calf"],
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2,
            },
        ),
        409,
        "invalid-transition",
    )
    assert checked_in(client, clock, url)["status"] == "arrived"
    assert_problem(client.post(f"{url}/check-in"), 409, "invalid-transition")
    assert_problem(client.post(f"{url}/cancel", json={"reason": "late"}), 409, "invalid-transition")
    assert_problem(
        client.post(f"{url}/reschedule", json={"start": (monday + timedelta(days=2)).isoformat()}),
        409,
        "invalid-transition",
    )

    done = client.post(
        f"{url}/complete",
        json={
            "treated_sites": ["left-calf", "right-thigh"],
            "sclerosant": "polidocanol",
            "concentration_percent": 0.5,
            "volume_ml": 4,
            "complications": ["pain"],
        },
    )
    assert done.status_code == 200, done.text
    result = done.json()
    completion = result["session"]["completion"]
    assert result["session"]["status"] == "fulfilled"
    assert completion["dose_mg"] == 20.0
    assert completion["anaesthetic"] == "none"
    assert completion["compression"] is False
    assert completion["aftercare"] == ["walk", "avoid-prolonged-standing-or-sitting"]
    assert result["warnings"] == []
    assert result["next_follow_up"] is None  # not part of a plan
    assert_problem(client.post(f"{url}/cancel", json={"reason": "x"}), 409, "invalid-transition")
    assert (
        client.post(f"{url}/entered-in-error", json={"reason": "Wrong patient"}).json()["status"]
        == "entered-in-error"
    )
    assert_problem(
        client.post(f"{url}/entered-in-error", json={"reason": "again"}), 409, "invalid-transition"
    )

    second = booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday + timedelta(days=28),
    )
    for no_reason in ({}, {"reason": ""}, {"reason": " \n\t "}):
        assert_problem(
            client.post(f"/api/v1/sessions/{second['id']}/cancel", json=no_reason),
            422,
            "validation-error",
        )
    cancelled = client.post(
        f"/api/v1/sessions/{second['id']}/cancel", json={"reason": "Holiday"}
    ).json()
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "Holiday")
    # A cancelled session frees its time.
    booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday + timedelta(days=28),
    )

    third = booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=monday + timedelta(days=56),
    )
    two_hours_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)
    with engine.begin() as connection:  # let its start time pass
        connection.execute(
            text("UPDATE treatment_sessions SET start_at = :s, end_at = :e WHERE id = :id"),
            {
                "s": two_hours_ago,
                "e": two_hours_ago + timedelta(minutes=45),
                "id": uuid.UUID(third["id"]).hex
                if engine.dialect.name == "sqlite"
                else uuid.UUID(third["id"]),
            },
        )
    assert client.post(f"/api/v1/sessions/{third['id']}/no-show").json()["status"] == "noshow"
    assert_problem(client.post(f"/api/v1/sessions/{uuid.uuid4()}/check-in"), 404, "not-found")


def _arrived(
    client: TestClient, clock: Clock, doctor: dict[str, Any], weight_kg: float | None = None
) -> tuple[dict[str, Any], str]:
    """A patient whose evaluation records `weight_kg`, checked in on their session's day: the
    session's completion URL."""
    person = new_patient(client)
    record_evaluation(client, person["id"], doctor["id"], weight_kg=weight_kg)
    visit = booked(
        client,
        patient_id=person["id"],
        practitioner_id=doctor["id"],
        start=next_weekday_at(1, 9),
    )
    checked_in(client, clock, f"/api/v1/sessions/{visit['id']}")
    return person, f"/api/v1/sessions/{visit['id']}/complete"


@pytest.mark.parametrize(
    ("weight", "record", "status", "code"),
    [
        (
            50,
            {"sclerosant": "polidocanol", "concentration_percent": 3, "volume_ml": 4},
            422,
            "dose-limit-exceeded",
        ),  # 120 > 100 mg
        (
            50,
            {"sclerosant": "polidocanol", "concentration_percent": 2.5, "volume_ml": 4},
            200,
            None,
        ),  # 100 mg
        (
            None,
            {
                "sclerosant": "sodium-tetradecyl-sulfate",
                "concentration_percent": 3,
                "volume_ml": 11,
            },
            422,
            "dose-limit-exceeded",
        ),
        (
            None,
            {
                "sclerosant": "sodium-tetradecyl-sulfate",
                "concentration_percent": 3,
                "volume_ml": 10,
            },
            200,
            None,
        ),
        (
            None,
            {
                "sclerosant": "sodium-tetradecyl-sulfate",
                "concentration_percent": 3,
                "volume_ml": 10.00001,
            },
            422,
            "dose-limit-exceeded",
        ),  # 300.0003 mg, shown as 300
        (
            60,
            {
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2,
                "treated_sites": ["face"],
            },
            422,
            "facial-veins-excluded",
        ),
        (
            60,
            {
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2,
                "treated_sites": ["left-calf", "face"],
            },
            422,
            "facial-veins-excluded",
        ),
        (
            60,
            {"sclerosant": "ethanol", "concentration_percent": 0.5, "volume_ml": 2},
            422,
            "validation-error",
        ),
        (
            60,
            {"sclerosant": "polidocanol", "concentration_percent": 0, "volume_ml": 2},
            422,
            "validation-error",
        ),
        (
            60,
            {
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2,
                "complications": ["headache"],
            },
            422,
            "validation-error",
        ),
    ],
)
def test_completion_checks(
    client: TestClient,
    engine: Engine,
    clock: Clock,
    doctor: dict[str, Any],
    weight: float | None,
    record: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    _, url = _arrived(client, clock, doctor, weight_kg=weight)
    response = client.post(url, json={"treated_sites": ["left-calf"], **record})
    if code is None:
        assert response.status_code == status, response.text
        assert response.json()["session"]["status"] == "fulfilled"
    else:
        assert_problem(response, status, code)
        assert count_rows(engine, "completion_records") == 0
        assert client.get(url.removesuffix("/complete")).json()["status"] == "arrived"


def test_polidocanol_without_weight_is_accepted_with_a_warning(
    client: TestClient, clock: Clock, doctor: dict[str, Any]
) -> None:
    _, url = _arrived(client, clock, doctor)
    response = client.post(
        url,
        json={
            "treated_sites": ["left-calf"],
            "sclerosant": "polidocanol",
            "concentration_percent": 1,
            "volume_ml": 2,
        },
    )
    assert response.status_code == 200
    assert [w["code"] for w in response.json()["warnings"]] == ["weight-missing"]
    assert response.json()["session"]["completion"]["warnings"][0]["code"] == "weight-missing"


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


def test_session_list_filters_and_pages(client: TestClient, doctor: dict[str, Any]) -> None:
    patients = [eligible_patient(client, doctor["id"], given_name=f"P{i}") for i in range(3)]
    monday = next_weekday_at(0, 9)
    made = [
        booked(
            client,
            patient_id=p["id"],
            practitioner_id=doctor["id"],
            start=monday + timedelta(hours=i),
        )
        for i, p in enumerate(patients)
    ]
    ok(client.post(f"/api/v1/sessions/{made[1]['id']}/cancel", json={"reason": "x"}))
    everything = client.get("/api/v1/sessions", params={"practitioner_id": doctor["id"]}).json()
    assert [s["id"] for s in everything["items"]] == [s["id"] for s in made]
    live = client.get("/api/v1/sessions", params={"status": "booked"}).json()["items"]
    assert [s["id"] for s in live] == [made[0]["id"], made[2]["id"]]
    mine = client.get("/api/v1/sessions", params={"patient_id": patients[2]["id"]}).json()["items"]
    assert [s["id"] for s in mine] == [made[2]["id"]]
    window = client.get(
        "/api/v1/sessions",
        params={
            "from": (monday + timedelta(minutes=50)).isoformat(),
            "to": (monday + timedelta(hours=2)).isoformat(),
        },
    ).json()
    assert [s["id"] for s in window["items"]] == [made[1]["id"]]
    page = client.get("/api/v1/sessions", params={"limit": 2}).json()
    rest = client.get("/api/v1/sessions", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [s["id"] for s in page["items"] + rest["items"]] == [s["id"] for s in made]
    assert_problem(
        client.get("/api/v1/sessions", params={"status": "maybe"}), 422, "validation-error"
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


def test_proposals_stop_where_the_evaluation_stops_being_valid(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    patient = new_patient(client)
    performed = datetime.now(UTC) - timedelta(days=350)  # valid for about 15 more days
    evaluation = record_evaluation(
        client, patient["id"], doctor["id"], performed_at=performed.isoformat()
    )
    result = ok(
        client.post(
            "/api/v1/scheduling/proposals",
            json={
                "patient_id": patient["id"],
                "earliest": datetime.now(PARIS).date().isoformat(),
                "sessions": 3,
            },
        )
    )
    assert result["blocked"] is False
    valid_until = at(evaluation["valid_until"])
    assert all(at(p["end"]) <= valid_until for p in result["proposals"])
    assert [u["sequence"] for u in result["unplaced"]] == [2, 3]
    assert all("evaluation" in u["reason"] for u in result["unplaced"])
    for proposal in result["proposals"]:  # what is proposed can be booked
        booked(
            client,
            patient_id=patient["id"],
            practitioner_id=proposal["practitioner_id"],
            start=proposal["start"],
        )


def _next_spring_forward_monday() -> datetime:
    """09:00 on the Monday before the next change to summer time in Paris."""
    day = datetime.now(PARIS).date() + timedelta(days=2)
    while datetime(day.year, day.month, day.day, 12, tzinfo=PARIS).dst() == timedelta(0) or (
        datetime(day.year, day.month, day.day, tzinfo=PARIS).dst() != timedelta(0)
    ):
        day += timedelta(days=1)  # stop on the first day that starts in winter, ends in summer
    monday = day - timedelta(days=6)
    if monday <= datetime.now(PARIS).date():
        monday += timedelta(days=364)  # too close: a year later the change is a week later too
    return datetime(monday.year, monday.month, monday.day, 9, tzinfo=PARIS)


def test_fourteen_days_are_counted_on_the_clinics_calendar_across_daylight_saving(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    monday = _next_spring_forward_monday()
    two_weeks_on = datetime.combine(monday.date() + timedelta(days=14), monday.time(), PARIS)
    elapsed = two_weeks_on.astimezone(UTC) - monday.astimezone(UTC)
    assert elapsed == timedelta(days=14, hours=-1)  # the clocks went forward meanwhile
    patient = eligible_patient(client, doctor["id"])
    booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=two_weeks_on)
    # Thirteen calendar days is still too soon.
    other = eligible_patient(client, doctor["id"], given_name="Other")
    tuesday = monday + timedelta(days=1, hours=1)
    booked(client, patient_id=other["id"], practitioner_id=doctor["id"], start=tuesday)
    too_soon = datetime.combine(tuesday.date() + timedelta(days=13), tuesday.time(), PARIS)
    assert_problem(
        book(client, patient_id=other["id"], practitioner_id=doctor["id"], start=too_soon),
        422,
        "interval-too-short",
    )


SMALL_DOSE = {
    "treated_sites": ["left-calf"],
    "sclerosant": "polidocanol",
    "concentration_percent": 0.5,
    "volume_ml": 2,
}


def _first_visit_of_a_course(
    client: TestClient, doctor: dict[str, Any], planned_sessions: int
) -> tuple[str, str]:
    """A patient (70 kg) with a plan whose first session is booked: the plan's and the
    session's URLs."""
    patient = new_patient(client)
    record_evaluation(client, patient["id"], doctor["id"], weight_kg=70)
    plan = ok(
        client.post(
            f"/api/v1/patients/{patient['id']}/treatment-plans",
            json={"planned_sessions": planned_sessions},
        )
    )
    visit = booked(
        client,
        patient_id=patient["id"],
        practitioner_id=doctor["id"],
        start=next_weekday_at(1, 9),
        plan_id=plan["id"],
    )
    return f"/api/v1/treatment-plans/{plan['id']}", f"/api/v1/sessions/{visit['id']}"


def test_a_practitioner_who_left_does_not_stop_the_completion_record(
    client: TestClient, clock: Clock, doctor: dict[str, Any]
) -> None:
    colleague = new_practitioner(client, name="Dr B", availability=WEEKDAYS_9_TO_17)
    _, visit_url = _first_visit_of_a_course(client, doctor, planned_sessions=2)
    checked_in(client, clock, visit_url)
    ok(client.patch(f"/api/v1/practitioners/{doctor['id']}", json={"active": False}))
    result = ok(client.post(f"{visit_url}/complete", json=SMALL_DOSE))
    assert result["session"]["status"] == "fulfilled"
    (proposal,) = result["next_follow_up"]["proposals"]
    assert proposal["practitioner_id"] == colleague["id"]


def test_a_plans_status_follows_its_fulfilled_sessions(
    client: TestClient, clock: Clock, doctor: dict[str, Any]
) -> None:
    plan_url, visit_url = _first_visit_of_a_course(client, doctor, planned_sessions=2)
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
    plan_url, visit_url = _first_visit_of_a_course(client, doctor, planned_sessions=1)
    ok(client.patch(plan_url, json={"status": "cancelled"}))
    checked_in(client, clock, visit_url)
    ok(client.post(f"{visit_url}/complete", json=SMALL_DOSE))
    assert ok(client.get(plan_url))["status"] == "cancelled"


@pytest.mark.parametrize("earliest", ["9999-12-20", "1000-01-01", "2027-13-01", "tomorrow"])
def test_proposals_refuse_an_implausible_earliest_day(
    client: TestClient, doctor: dict[str, Any], earliest: str
) -> None:
    patient = eligible_patient(client, doctor["id"])
    response = client.post(
        "/api/v1/scheduling/proposals", json={"patient_id": patient["id"], "earliest": earliest}
    )
    assert_problem(response, 422, "validation-error")
