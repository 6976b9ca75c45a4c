"""A practitioner's buffer and minimum notice at booking, moving and holding a slot: refused
with their own codes, nothing stored; staff allowed to may book inside the notice with
`within_notice`, audited, and the flag lifts nothing else."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.roles import Role
from tests.factories import (
    WEEKDAYS_9_TO_17,
    ClientFactory,
    Clock,
    assert_problem,
    count_rows,
    eligible_patient,
    new_patient,
    new_practitioner,
    next_weekday_at,
    record_evaluation,
)
from tests.sessions.steps import book, booked, ok

MINUTE = timedelta(minutes=1)


def _doctor(client: TestClient, **margins: int) -> dict[str, Any]:
    return new_practitioner(client, availability=WEEKDAYS_9_TO_17, **margins)


def _body(patient: dict[str, Any], doctor: dict[str, Any], start: datetime) -> dict[str, Any]:
    return {"patient_id": patient["id"], "practitioner_id": doctor["id"], "start": start}


def test_a_booking_within_the_buffer_of_another_session_is_refused(
    client: TestClient, engine: Engine
) -> None:
    doctor = _doctor(client, buffer_minutes=15)
    monday = next_weekday_at(0, 10)
    first = booked(client, **_body(eligible_patient(client, doctor["id"]), doctor, monday))
    other = eligible_patient(client, doctor["id"], given_name="Other")
    before = count_rows(engine, "treatment_sessions")
    for start in (monday + 45 * MINUTE, monday + 59 * MINUTE, monday - 59 * MINUTE):
        refusal = assert_problem(
            book(client, **_body(other, doctor, start)), 409, "buffer-conflict"
        )
        assert refusal["session_id"] == first["id"]
        assert refusal["buffer_minutes"] == 15
        assert "15 minutes" in refusal["detail"]
    # Overlapping is still `slot-taken`: the buffer comes after.
    assert_problem(book(client, **_body(other, doctor, monday + 30 * MINUTE)), 409, "slot-taken")
    assert count_rows(engine, "treatment_sessions") == before
    # Exactly the buffer apart, before or after: booked.
    booked(client, **_body(other, doctor, monday + 60 * MINUTE))
    third = eligible_patient(client, doctor["id"], given_name="Third")
    booked(client, **_body(third, doctor, monday - 60 * MINUTE))
    # The buffer is the practitioner's: another one may see the patient back to back.
    colleague = _doctor(client, name="Dr B", buffer_minutes=15)
    fourth = eligible_patient(client, colleague["id"], given_name="Fourth")
    booked(client, **_body(fourth, colleague, monday + 45 * MINUTE))


def test_holds_keep_the_buffer_and_are_kept_free_around(client: TestClient) -> None:
    doctor = _doctor(client, buffer_minutes=10)
    monday = next_weekday_at(0, 14)
    held = ok(
        client.post(
            "/api/v1/holds",
            json=_body(eligible_patient(client, doctor["id"]), doctor, monday.isoformat()),
        )
    )
    other = eligible_patient(client, doctor["id"], given_name="Other")
    refusal = assert_problem(
        book(client, **_body(other, doctor, monday + 50 * MINUTE)), 409, "buffer-conflict"
    )
    assert refusal["session_id"] == held["id"]
    body = _body(other, doctor, (monday - 50 * MINUTE).isoformat())
    assert_problem(client.post("/api/v1/holds", json=body), 409, "buffer-conflict")
    # Booking the hold does not find it in its own way.
    ok(client.post("/api/v1/sessions", json={"hold_id": held["id"]}))


def test_a_move_keeps_the_buffer_and_is_not_in_its_own_way(client: TestClient) -> None:
    doctor = _doctor(client, buffer_minutes=15)
    monday = next_weekday_at(0, 10)
    first = booked(client, **_body(eligible_patient(client, doctor["id"]), doctor, monday))
    other = eligible_patient(client, doctor["id"], given_name="Other")
    second = booked(client, **_body(other, doctor, monday + 2 * timedelta(hours=1)))
    url = f"/api/v1/sessions/{second['id']}/reschedule"
    move = {"start": (monday + 50 * MINUTE).isoformat()}
    assert_problem(client.post(url, json=move), 409, "buffer-conflict")
    # Five minutes later than itself: only its own old time is near.
    ok(client.post(url, json={"start": (monday + 125 * MINUTE).isoformat()}))
    ok(client.post(url, json={"start": (monday + 60 * MINUTE).isoformat()}))
    assert ok(client.get(f"/api/v1/sessions/{first['id']}"))["status"] == "booked"


def test_a_start_sooner_than_the_notice_is_refused_naming_the_earliest(
    client: TestClient, clock: Clock, engine: Engine
) -> None:
    doctor = _doctor(client, min_notice_minutes=120)
    monday = next_weekday_at(0, 9)
    patient = eligible_patient(client, doctor["id"])
    clock.travel_to(monday - timedelta(hours=1))  # 08:00: nothing before 10:00
    before = count_rows(engine, "treatment_sessions")
    refusal = assert_problem(
        book(client, **_body(patient, doctor, monday)), 422, "too-short-notice"
    )
    earliest = datetime.fromisoformat(refusal["earliest_start"])
    assert monday + timedelta(hours=1) < earliest <= monday + timedelta(hours=1, minutes=2)
    assert refusal["min_notice_minutes"] == 120
    assert "Europe/Paris" in refusal["detail"]
    hold = _body(patient, doctor, (monday + timedelta(minutes=30)).isoformat())
    assert_problem(client.post("/api/v1/holds", json=hold), 422, "too-short-notice")
    assert count_rows(engine, "treatment_sessions") == before
    later = booked(client, **_body(patient, doctor, monday + timedelta(hours=1, minutes=15)))
    url = f"/api/v1/sessions/{later['id']}/reschedule"
    move = {"start": (monday + timedelta(minutes=45)).isoformat()}
    assert_problem(client.post(url, json=move), 422, "too-short-notice")
    assert ok(client.get(f"/api/v1/sessions/{later['id']}"))["start"] == later["start"]
    # Still in the past first: notice never speaks for a time gone.
    past = _body(patient, doctor, monday - timedelta(hours=2))
    assert_problem(book(client, **past), 422, "in-the-past")


def test_a_hold_keeps_the_notice_it_was_placed_with(client: TestClient, clock: Clock) -> None:
    doctor = _doctor(client, min_notice_minutes=60)
    monday = next_weekday_at(0, 10)
    patient = eligible_patient(client, doctor["id"])
    clock.travel_to(monday - timedelta(minutes=62))
    held = ok(client.post("/api/v1/holds", json=_body(patient, doctor, monday.isoformat())))
    clock.travel_to(monday - timedelta(minutes=55))  # the notice ran out meanwhile
    # Unheld, that time is too soon now (with a colleague of the same notice).
    colleague = _doctor(client, name="Dr B", min_notice_minutes=60)
    other = eligible_patient(client, colleague["id"], given_name="Other")
    assert_problem(book(client, **_body(other, colleague, monday)), 422, "too-short-notice")
    session = ok(client.post("/api/v1/sessions", json={"hold_id": held["id"]}))
    assert session["history"][0]["within_notice"] is False


def _trail(client: TestClient, session_id: str) -> dict[str, str | None]:
    """The session's audit events but reads: each action's detail."""
    events = client.get("/api/v1/audit-events", params={"resource_id": session_id}).json()
    return {e["action"]: e["detail"] for e in events["items"] if e["action"] != "read"}


def test_staff_may_book_inside_the_notice_when_they_ask_and_it_is_audited(
    client: TestClient, client_as: ClientFactory, clock: Clock
) -> None:
    doctor = _doctor(client, min_notice_minutes=24 * 60, buffer_minutes=15)
    monday = next_weekday_at(0, 10)
    clock.travel_to(monday - timedelta(hours=3))
    desk = client_as(Role.RECEPTIONIST)
    patient = eligible_patient(client, doctor["id"])
    inside = {**_body(patient, doctor, monday.isoformat()), "within_notice": True}
    session = ok(desk.post("/api/v1/sessions", json=inside))
    assert session["history"][0]["action"] == "book"
    assert session["history"][0]["within_notice"] is True
    assert ok(client.get(f"/api/v1/sessions/{session['id']}"))["history"][0]["within_notice"]
    [(action, detail)] = _trail(client, session["id"]).items()
    assert action == "book-within-notice"
    assert detail is not None
    assert "within_notice" in detail
    assert re.search(r"starts 1(79|80) minutes ahead", detail)
    # A move inside the notice, asked for: audited so too.
    url = f"/api/v1/sessions/{session['id']}/reschedule"
    moved = ok(desk.post(url, json={"start": (monday + timedelta(hours=1)).isoformat(), **_flag()}))
    assert moved["history"][-1]["within_notice"] is True
    assert set(_trail(client, session["id"])) == {"book-within-notice", "reschedule-within-notice"}
    # The flag on a booking the notice allows anyway changes nothing.
    far = next_weekday_at(0, 10, weeks_ahead=3)
    other = eligible_patient(client, doctor["id"], given_name="Other")
    plain = ok(
        desk.post("/api/v1/sessions", json={**_body(other, doctor, far.isoformat()), **_flag()})
    )
    assert plain["history"][0]["within_notice"] is False
    assert _trail(client, plain["id"]) == {"book": None}


def _flag() -> dict[str, bool]:
    return {"within_notice": True}


def test_within_notice_lifts_nothing_else(
    client: TestClient, client_as: ClientFactory, clock: Clock, engine: Engine
) -> None:
    doctor = _doctor(client, min_notice_minutes=600, buffer_minutes=15)
    monday = next_weekday_at(0, 10)
    clock.travel_to(monday - timedelta(hours=2))
    desk = client_as(Role.CLINICIAN)
    first = booked(
        client, **_body(eligible_patient(client, doctor["id"]), doctor, monday), **_flag()
    )
    other = eligible_patient(client, doctor["id"], given_name="Other")
    before = count_rows(engine, "treatment_sessions")

    def refused(status: int, code: str, start: datetime, patient: dict[str, Any]) -> None:
        body = {**_body(patient, doctor, start.isoformat()), **_flag()}
        assert_problem(desk.post("/api/v1/sessions", json=body), status, code)

    refused(409, "buffer-conflict", monday + 50 * MINUTE, other)
    refused(409, "slot-taken", monday + 10 * MINUTE, other)
    refused(422, "in-the-past", monday - timedelta(hours=3), other)
    refused(422, "outside-availability", monday - timedelta(hours=1, minutes=30), other)
    untreated = new_patient(client, given_name="Varicose")
    record_evaluation(
        client, untreated["id"], doctor["id"], varicose_veins="present", ceap_class="C2"
    )
    refused(409, "eligibility-blocked", monday + 2 * timedelta(hours=1), untreated)
    assert count_rows(engine, "treatment_sessions") == before
    assert first["history"][0]["within_notice"] is True


def test_the_flag_without_the_permission_is_forbidden_and_recorded(
    client: TestClient, client_as: ClientFactory, clock: Clock, engine: Engine
) -> None:
    doctor = _doctor(client, min_notice_minutes=24 * 60)
    monday = next_weekday_at(0, 10)
    clock.travel_to(monday - timedelta(hours=3))
    ehr = client_as(Role.INTEGRATION)
    patient = eligible_patient(client, doctor["id"])
    body = {**_body(patient, doctor, monday.isoformat()), **_flag()}
    for path in ("/api/v1/sessions", "/api/v1/holds"):
        refusal = assert_problem(ehr.post(path, json=body), 403, "forbidden")
        assert refusal["required_permission"] == "sessions:book-within-notice"
    # Far enough ahead the flag is refused all the same: asking is what needs the permission.
    far = {**body, "start": next_weekday_at(0, 10, weeks_ahead=3).isoformat()}
    assert_problem(ehr.post("/api/v1/sessions", json=far), 403, "forbidden")
    assert count_rows(engine, "treatment_sessions") == 0
    denied = client.get("/api/v1/audit-events", params={"outcome": "denied"}).json()["items"]
    assert {(e["action"], e["role"]) for e in denied} == {("book-within-notice", "integration")}
    assert len(denied) == 3
    # Without the flag the integration meets the notice as anyone does.
    assert_problem(
        ehr.post("/api/v1/sessions", json={**body, "within_notice": False}), 422, "too-short-notice"
    )


def test_bad_within_notice_values_are_refused(client: TestClient, engine: Engine) -> None:
    doctor = _doctor(client)
    patient = eligible_patient(client, doctor["id"])
    start = next_weekday_at(0, 10).isoformat()
    for value in ("yes", 1, None, [True]):
        body = {**_body(patient, doctor, start), "within_notice": value}
        assert_problem(client.post("/api/v1/sessions", json=body), 422, "validation-error")
        assert_problem(client.post("/api/v1/holds", json=body), 422, "validation-error")
    assert count_rows(engine, "treatment_sessions") == 0


def test_without_buffer_or_notice_booking_is_as_before(client: TestClient, clock: Clock) -> None:
    doctor = _doctor(client)
    assert (doctor["effective_buffer_minutes"], doctor["effective_min_notice_minutes"]) == (0, 0)
    monday = next_weekday_at(0, 10)
    clock.travel_to(monday - timedelta(minutes=2))
    first = booked(client, **_body(eligible_patient(client, doctor["id"]), doctor, monday))
    other = eligible_patient(client, doctor["id"], given_name="Other")
    second = booked(client, **_body(other, doctor, monday + 45 * MINUTE))  # back to back
    assert first["history"][0]["within_notice"] is second["history"][0]["within_notice"] is False
    # Booked two minutes ahead: no notice asked.
    assert datetime.fromisoformat(first["start"]) - clock() < timedelta(minutes=2)
