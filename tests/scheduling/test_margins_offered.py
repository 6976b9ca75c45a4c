"""Buffers and notice in what is offered: the free-slot search, proposals and FHIR Slot keep
them exactly as booking does. Every slot offered books, and every slot of the grid refused by
booking is not offered."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.errors import DomainError
from app.policy import BookingRules, Margins
from app.practitioners.hours import Interval, WeeklyHours
from app.scheduling.service import find_free_slots
from app.scheduling.slots import free_slots
from app.sessions.slot_checks import check_slot
from tests.factories import (
    WEEKDAYS_9_TO_17,
    Clock,
    eligible_patient,
    new_patient,
    new_practitioner,
    next_weekday_at,
)
from tests.fhir.fhir import BASE, entries, fhir
from tests.sessions.steps import PARIS, at, booked, ok

GRID, LENGTH = timedelta(minutes=15), timedelta(minutes=45)


def _walls(slots: list[dict[str, Any]]) -> list[str]:
    return [at(s["start"]).astimezone(PARIS).strftime("%H:%M") for s in slots]


def _free(client: TestClient, doctor: dict[str, Any], day: datetime) -> list[str]:
    found = ok(
        client.get(
            f"/api/v1/practitioners/{doctor['id']}/slots",
            params={"from": day.isoformat(), "to": (day + timedelta(hours=8)).isoformat()},
        )
    )
    return _walls(found["slots"])


def test_free_slots_keep_the_buffer_and_the_notice(client: TestClient, clock: Clock) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    monday = next_weekday_at(0, 9)
    patient = eligible_patient(client, doctor["id"])
    booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday + LENGTH)
    # 09:45-10:30 booked; 45-minute slots.
    assert _free(client, doctor, monday)[:3] == ["09:00", "10:30", "10:45"]
    url = f"/api/v1/practitioners/{doctor['id']}"
    ok(client.patch(url, json={"buffer_minutes": 15}))
    assert _free(client, doctor, monday)[:3] == ["10:45", "11:00", "11:15"]  # 09:00 ends 09:45
    ok(client.patch(url, json={"buffer_minutes": 14}))
    assert _free(client, doctor, monday)[:2] == ["10:45", "11:00"]  # on the grid: the same
    ok(client.patch(url, json={"buffer_minutes": 0, "min_notice_minutes": 150}))
    clock.travel_to(monday - timedelta(minutes=20))  # 08:40: nothing before 11:10
    assert _free(client, doctor, monday)[:2] == ["11:15", "11:30"]
    ok(client.patch(url, json={"min_notice_minutes": None}))
    assert _free(client, doctor, monday)[:2] == ["09:00", "10:30"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_slot_offered_books_and_no_other_does(
    client: TestClient, clock: Clock, db_sessions: sessionmaker[Session], seed: int
) -> None:
    """The free-slot search against booking's own check, grid slot by grid slot, over a day
    with sessions at odd minutes (booked before the buffer was set: some closer than it), a
    hold, time off, a buffer and a notice that cuts the morning."""
    rng = random.Random(seed)
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17)
    monday = next_weekday_at(0, 9)
    start = monday + timedelta(minutes=rng.randrange(0, 40))
    while start < monday + timedelta(hours=4):  # all over by 14:00
        someone = eligible_patient(client, doctor["id"], given_name=f"P{start:%H%M}")
        length = rng.choice([15, 20, 45, 60])
        booked(
            client,
            patient_id=someone["id"],
            practitioner_id=doctor["id"],
            start=start,
            duration_minutes=length,
        )
        start += timedelta(minutes=length + rng.choice([0, 5, 25, 60, 90, 120]))
    now = monday + timedelta(minutes=rng.randrange(20, 90))
    clock.travel_to(now - timedelta(minutes=1))
    holder = eligible_patient(client, doctor["id"], given_name="Holder")
    hold = {"patient_id": holder["id"], "practitioner_id": doctor["id"]}
    ok(client.post("/api/v1/holds", json={**hold, "start": _at(monday, "16:15")}))
    off = {"start": _at(monday, "14:35"), "end": _at(monday, "15:05"), "reason": "Meeting"}
    ok(client.post(f"/api/v1/practitioners/{doctor['id']}/time-off", json=off))
    url = f"/api/v1/practitioners/{doctor['id']}"
    ok(
        client.patch(
            url, json={"buffer_minutes": rng.choice([10, 15, 20]), "min_notice_minutes": 90}
        )
    )
    newcomer = uuid.UUID(new_patient(client, given_name="Newcomer")["id"])
    practitioner_id = uuid.UUID(doctor["id"])
    day = Interval(now, monday + timedelta(hours=8))
    every = free_slots(
        weekly_hours=[WeeklyHours(0, monday.time(), monday.replace(hour=17).time())],
        zone=PARIS,
        busy=[],
        duration=LENGTH,
        window=day,
        grid=GRID,
    )
    refused: dict[Interval, str] = {}
    with db_sessions() as db:
        found = find_free_slots(
            db=db,
            practitioner_id=practitioner_id,
            window=day,
            duration=LENGTH,
            grid=GRID,
            now=now,
            margins=Margins(),
        )
        offered = [f.slot for f in found.slots]
        for slot in every:
            try:
                check_slot(
                    db=db,
                    patient_id=newcomer,
                    practitioner_id=practitioner_id,
                    slot=slot,
                    now=now,
                    rules=BookingRules(min_gap_days=14),
                    locked=True,
                )
            except DomainError as refusal:
                refused[slot] = refusal.code
        db.rollback()
    # Offered exactly when booking takes it.
    assert set(offered) <= set(every)
    assert [s for s in every if s not in refused] == offered, refused
    refusals = Counter(refused.values())
    # The day had each kind of refusal to tell apart, and free slots too.
    assert offered, refusals
    assert {"too-short-notice", "slot-taken", "outside-availability"} <= set(refusals)
    assert refusals["buffer-conflict"] > 0


def _at(monday: datetime, wall: str) -> str:
    hour, minute = map(int, wall.split(":"))
    return monday.replace(hour=hour, minute=minute).isoformat()


def test_proposals_keep_the_buffer_and_the_notice_and_each_books(
    client: TestClient, clock: Clock
) -> None:
    doctor = new_practitioner(client, availability=WEEKDAYS_9_TO_17, buffer_minutes=30)
    monday = next_weekday_at(0, 9)
    first = eligible_patient(client, doctor["id"], given_name="First")
    booked(client, patient_id=first["id"], practitioner_id=doctor["id"], start=monday)

    def proposed(patient: dict[str, Any]) -> dict[str, Any]:
        answer = ok(
            client.post(
                "/api/v1/scheduling/proposals",
                json={
                    "patient_id": patient["id"],
                    "practitioner_id": doctor["id"],
                    "sessions": 1,
                    "earliest": monday.date().isoformat(),
                },
            )
        )
        [proposal] = answer["proposals"]
        return proposal  # type: ignore[no-any-return]

    second = eligible_patient(client, doctor["id"], given_name="Second")
    visit = proposed(second)
    assert _walls([visit]) == ["10:15"]  # 09:00-09:45, then 30 minutes kept free
    booked(client, patient_id=second["id"], practitioner_id=doctor["id"], start=at(visit["start"]))
    ok(client.patch(f"/api/v1/practitioners/{doctor['id']}", json={"min_notice_minutes": 60}))
    clock.travel_to(monday + timedelta(hours=1, minutes=50))  # 10:50: nothing before 11:50
    third = eligible_patient(client, doctor["id"], given_name="Third")
    visit = proposed(third)
    assert _walls([visit]) == ["12:00"]
    booked(client, patient_id=third["id"], practitioner_id=doctor["id"], start=at(visit["start"]))


def test_fhir_slots_keep_the_buffer_busy_and_the_notice_out(
    client: TestClient, clock: Clock
) -> None:
    doctor = new_practitioner(
        client, availability=WEEKDAYS_9_TO_17, buffer_minutes=15, min_notice_minutes=60
    )
    monday = next_weekday_at(0, 9)
    patient = eligible_patient(client, doctor["id"])
    booked(
        client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday + 2 * LENGTH
    )
    clock.travel_to(monday - timedelta(minutes=16))  # 08:44: nothing before 09:44
    window = {
        "start": [f"ge{monday.isoformat()}", f"lt{(monday + timedelta(hours=4)).isoformat()}"]
    }
    found = entries(
        fhir(client.get(f"{BASE}/Slot", params={"schedule": doctor["id"], "_count": 100, **window}))
    )
    busy = [_walls([s])[0] for s in found if s["status"] == "busy"]
    free = [_walls([s])[0] for s in found if s["status"] == "free"]
    # 10:30-11:15 booked, 15 minutes kept free either side: 09:45 (ends 10:30) is busy too.
    assert busy == ["09:45", "10:00", "10:15", "10:30", "10:45", "11:00", "11:15"]
    assert free[:2] == ["11:30", "11:45"]
    assert "09:00" not in busy + free  # inside the notice: no slot at all
    assert free == _free(client, doctor, monday)[: len(free)]
    slot = next(s for s in found if s["status"] == "free")
    assert fhir(client.get(f"{BASE}/Slot/{slot['id']}"))["status"] == "free"
    inside = f"{doctor['id']}-{monday.astimezone(UTC):%Y%m%d%H%M}"  # 09:00
    assert client.get(f"{BASE}/Slot/{inside}").status_code == 404
