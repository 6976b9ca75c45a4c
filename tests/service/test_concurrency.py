"""No double booking under real concurrency: 20 simultaneous requests for overlapping times of
one practitioner, from threads, through two server processes sharing the database. Exactly one
is booked; every other one is a 409 `slot-taken`; none is a 500.

It runs on the suite's database: SQLite (one writer, BEGIN IMMEDIATE) or PostgreSQL
(exclusion constraints), so both guarantees are exercised.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.factories import (
    NO_RISKS,
    WEEKDAYS_9_TO_17,
    eligible_patient,
    new_practitioner,
    next_weekday_at,
)
from tests.servers import race

REQUESTS = 20


def test_twenty_overlapping_bookings_give_exactly_one_session(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    patients = [
        eligible_patient(client, doctor["id"], given_name=f"Racer{i}") for i in range(REQUESTS)
    ]
    monday = next_weekday_at(0, 10)
    # Starts 10:00 .. 10:19: every pair of 45-minute sessions overlaps.
    bodies = [
        {
            "patient_id": patient["id"],
            "practitioner_id": doctor["id"],
            "start": (monday + timedelta(minutes=i)).isoformat(),
        }
        for i, patient in enumerate(patients)
    ]
    responses = race(two_servers, "/api/v1/sessions", bodies, client.headers["Authorization"])

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: REQUESTS - 1}, [
        r.text for r in responses if r.status_code >= 500
    ]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"slot-taken"}
    calendar = client.get("/api/v1/sessions", params={"practitioner_id": doctor["id"]}).json()
    assert len(calendar["items"]) == 1


def test_one_patient_booked_twice_at_once_gets_one_session(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    """The same patient with two practitioners at overlapping times, in parallel."""
    doctors = [
        new_practitioner(client, name=f"Dr {i}", availability=WEEKDAYS_9_TO_17) for i in range(2)
    ]
    patient = eligible_patient(client, doctors[0]["id"])
    monday = next_weekday_at(0, 11)
    bodies = [
        {
            "patient_id": patient["id"],
            "practitioner_id": doctors[i % 2]["id"],
            "start": (monday + timedelta(minutes=5 * (i % 4))).isoformat(),
        }
        for i in range(10)
    ]
    responses = race(two_servers, "/api/v1/sessions", bodies, client.headers["Authorization"])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 9}, [r.text for r in responses]
    assert (
        len(client.get("/api/v1/sessions", params={"patient_id": patient["id"]}).json()["items"])
        == 1
    )


def _zone_in_the_day() -> str:
    """A time zone where it is now well inside the day: a session starting in a few minutes
    is on today's date there, so its patient can be checked in and treated now."""
    for zone in ("UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Pacific/Honolulu"):
        if 2 <= datetime.now(ZoneInfo(zone)).hour < 20:
            return zone
    raise AssertionError("one of those zones is always between 02:00 and 20:00")


def _in_parallel(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [a for a in answers if a is not None]


def test_a_contraindication_recorded_as_the_treatment_is_given_is_seen_by_one_of_them(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    """Completion on one server, an evaluation finding an acute thrombosis on the other, at
    the same moment, again and again: either the completion is refused, or it went first and
    the evaluation does not list the session as still to be treated. Never both silent."""
    zone = _zone_in_the_day()
    always = [{"weekday": d, "start": "00:00", "end": "23:59"} for d in range(7)]
    doctor = new_practitioner(client, time_zone=zone, availability=always)
    headers = {"Authorization": client.headers["Authorization"]}
    record = {"treated_sites": ["left-calf"], "sclerosant": "polidocanol"}
    record |= {"concentration_percent": 0.5, "volume_ml": 2}
    outcomes = Counter()
    with (
        httpx.Client(base_url=two_servers[0], headers=headers, timeout=60) as first,
        httpx.Client(base_url=two_servers[1], headers=headers, timeout=60) as second,
    ):
        for round_ in range(8):
            patient = eligible_patient(client, doctor["id"], given_name=f"Round{round_}")
            start = datetime.now(UTC) + timedelta(minutes=2 + 16 * round_)
            booked = client.post(
                "/api/v1/sessions",
                json={
                    "patient_id": patient["id"],
                    "practitioner_id": doctor["id"],
                    "start": start.isoformat(),
                    "duration_minutes": 15,
                },
            )
            assert booked.status_code == 201, booked.text
            visit = booked.json()["id"]
            assert client.post(f"/api/v1/sessions/{visit}/check-in").status_code == 200
            finding = {
                "practitioner_id": doctor["id"],
                "performed_at": datetime.now(UTC).isoformat(),
                "spider_vein_sites": ["left-calf"],
                "ceap_class": "C1",
                "varicose_veins": "absent",
                "risk_factors": {**NO_RISKS, "acute_thrombosis": True},
                "benefits_and_risks_explained": True,
            }
            completed, evaluated = _in_parallel(
                lambda visit=visit: first.post(f"/api/v1/sessions/{visit}/complete", json=record),
                lambda patient=patient, finding=finding: second.post(
                    f"/api/v1/patients/{patient['id']}/evaluations", json=finding
                ),
            )
            assert evaluated.status_code == 201, evaluated.text
            listed = visit in [s["id"] for s in evaluated.json()["affected_sessions"]]
            if completed.status_code == 200:
                assert not listed, "treated, yet listed as still to be treated"
            else:
                assert completed.json()["code"] == "eligibility-blocked", completed.text
                assert listed
            outcomes[completed.status_code] += 1
    assert sum(outcomes.values()) == 8


def test_a_booking_and_a_change_to_the_calendar_it_lands_in_see_each_other(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    """A booking on one server while, on the other, the practitioner leaves or their course
    is trimmed to the sessions it has: the booking is refused, or the change names it (the
    plan never holds more sessions than planned)."""
    headers = {"Authorization": client.headers["Authorization"]}
    monday = next_weekday_at(0, 10)
    with (
        httpx.Client(base_url=two_servers[0], headers=headers, timeout=60) as first,
        httpx.Client(base_url=two_servers[1], headers=headers, timeout=60) as second,
    ):
        for round_ in range(6):
            doctor = new_practitioner(client, name=f"Dr {round_}", availability=WEEKDAYS_9_TO_17)
            patient = eligible_patient(client, doctor["id"], given_name=f"Round{round_}")
            plan = client.post(
                f"/api/v1/patients/{patient['id']}/treatment-plans", json={"planned_sessions": 2}
            ).json()
            body = {"patient_id": patient["id"], "practitioner_id": doctor["id"]}
            assert (
                client.post(
                    "/api/v1/sessions",
                    json={**body, "start": monday.isoformat(), "plan_id": plan["id"]},
                ).status_code
                == 201
            )
            later = (monday + timedelta(days=28)).isoformat()
            booked, left = _in_parallel(
                lambda body=body, later=later: first.post(
                    "/api/v1/sessions", json={**body, "start": later}
                ),
                lambda doctor=doctor: second.patch(
                    f"/api/v1/practitioners/{doctor['id']}", json={"active": False}
                ),
            )
            assert left.status_code == 200, left.text
            named = [s["id"] for s in left.json()["affected_sessions"]]
            if booked.status_code == 201:
                assert booked.json()["id"] in named
            else:
                assert booked.json()["code"] == "inactive-practitioner", booked.text

            ok_doctor = new_practitioner(
                client, name=f"Dr B{round_}", availability=WEEKDAYS_9_TO_17
            )
            third = {
                "patient_id": patient["id"],
                "practitioner_id": ok_doctor["id"],
                "start": (monday + timedelta(days=56)).isoformat(),
                "plan_id": plan["id"],
            }
            booked, trimmed = _in_parallel(
                lambda third=third: first.post("/api/v1/sessions", json=third),
                lambda plan=plan: second.patch(
                    f"/api/v1/treatment-plans/{plan['id']}", json={"planned_sessions": 1}
                ),
            )
            held = client.get(f"/api/v1/treatment-plans/{plan['id']}").json()
            live = [s for s in held["sessions"] if s["status"] == "booked"]
            assert len(live) <= held["planned_sessions"], (booked.text, trimmed.text)


def test_a_crossing_race_is_never_an_outage(
    client: TestClient, two_servers: tuple[str, str], engine: Engine
) -> None:
    """Many bookings at once, crossing practitioners and patients at overlapping times, so
    that both exclusion constraints (or SQLite's one writer) decide between them: transactions
    that deadlock or fail to serialize are tried again, then refused; none is a 5xx, and no
    practitioner or patient ends up in two places at once."""
    doctors = [new_practitioner(client, availability=WEEKDAYS_9_TO_17) for _ in range(4)]
    patients = [
        eligible_patient(client, doctors[0]["id"], given_name=f"Crossing{i}") for i in range(6)
    ]
    monday = next_weekday_at(0, 10)
    bodies = [
        {
            "patient_id": patients[(i * 5) % len(patients)]["id"],
            "practitioner_id": doctors[(i * 3) % len(doctors)]["id"],
            "start": (monday + timedelta(minutes=(i * 7) % 40)).isoformat(),
        }
        for i in range(96)
    ]
    responses = race(two_servers, "/api/v1/sessions", bodies, client.headers["Authorization"])
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409, 422}, {r.status_code: r.text for r in responses}
    assert statuses[201] >= 4
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT practitioner_id, patient_id, start_at, end_at FROM treatment_sessions"
                " WHERE status = 'booked'"
            )
        ).all()
    for index, (doctor, patient, start, end) in enumerate(rows):
        for other in rows[index + 1 :]:
            overlapping = other.start_at < end and start < other.end_at
            assert not (
                overlapping and (other.practitioner_id == doctor or other.patient_id == patient)
            )
