"""The buffer under real concurrency, through two server processes sharing the database: two
bookings back to back (no overlap for an exclusion constraint to refuse) racing for one
practitioner who keeps 15 minutes between sessions. Booking's practitioner lock (PostgreSQL's
advisory lock, SQLite's write lock) serialises them, so one is booked and the other sees it:
`buffer-conflict`, on every day raced at once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.factories import WEEKDAYS_9_TO_17, eligible_patient, new_practitioner, next_weekday_at
from tests.servers import race

DAYS = 8  # pairs raced at once: each weekday of two weeks but two


def test_two_bookings_back_to_back_give_one_session_a_day(
    client: TestClient, two_servers: tuple[str, str]
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17, buffer_minutes=15)
    bodies = []
    for day in range(DAYS):
        ten = next_weekday_at(day % 4, 10, weeks_ahead=1 + day // 4)
        for start in (ten, ten + timedelta(minutes=45)):  # 10:00-10:45, then 10:45-11:30
            patient = eligible_patient(client, doctor["id"], given_name=f"R{day}{start:%H%M}")
            bodies.append(
                {
                    "patient_id": patient["id"],
                    "practitioner_id": doctor["id"],
                    "start": start.isoformat(),
                }
            )
    answers = race(two_servers, "/api/v1/sessions", bodies, client.headers["Authorization"])
    assert Counter(a.status_code for a in answers) == {201: DAYS, 409: DAYS}, [
        a.text for a in answers if a.status_code not in (201, 409)
    ]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"buffer-conflict"}
    for pair in range(DAYS):
        first, second = answers[2 * pair], answers[2 * pair + 1]
        assert {first.status_code, second.status_code} == {201, 409}
    calendar = client.get(
        "/api/v1/sessions", params={"practitioner_id": doctor["id"], "limit": 100}
    ).json()["items"]
    starts = sorted(s["start"] for s in calendar)
    assert len(starts) == DAYS
