"""FHIR Slot: computed by the REST free-slot search's engine, never stored: free where it offers
a slot, busy where a session takes one, nothing in time off, the past or off the grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Clock, eligible_patient, new_practitioner, next_weekday_at
from tests.fhir.fhir import BASE, entries, fhir, link, outcome
from tests.sessions.steps import PARIS, booked, ok


def _slots(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """The slots a search finds (a page of 100: more than any window here holds)."""
    bundle = fhir(client.get(f"{BASE}/Slot", params={"_count": 100, **params}))
    assert link(bundle, "next") is None
    return entries(bundle)


def _wall(slot: dict[str, Any]) -> str:
    return datetime.fromisoformat(slot["start"]).astimezone(PARIS).strftime("%H:%M")


def _window(start: datetime, end: datetime) -> dict[str, Any]:
    return {"start": [f"ge{start.isoformat()}", f"lt{end.isoformat()}"]}


def test_slots_are_free_or_taken_by_sessions_and_none_in_time_off(
    client: TestClient, doctor: dict[str, Any]
) -> None:
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
                "end": (monday + timedelta(hours=6)).isoformat(),
                "reason": "Training",
            },
        )
    )
    found = _slots(
        client, schedule=f"Schedule/{doctor['id']}", **_window(monday, monday + timedelta(hours=9))
    )
    busy = [_wall(s) for s in found if s["status"] == "busy"]
    free = [_wall(s) for s in found if s["status"] == "free"]
    # 45-minute slots on the quarter hour: those the 10:00-10:45 session overlaps are busy.
    assert busy == ["09:30", "09:45", "10:00", "10:15", "10:30"]
    assert free[:3] == ["09:00", "09:15", "10:45"]
    assert not {"13:30", "14:00", "14:45"} & set(free + busy)  # time off 14:00-15:00
    assert "13:15" in free
    assert "15:00" in free
    assert free[-1] == "16:15"  # the last 45 minutes before 17:00
    for slot in found:
        assert slot["schedule"] == {"reference": f"Schedule/{doctor['id']}"}
        start, end = (datetime.fromisoformat(slot[k]) for k in ("start", "end"))
        assert end - start == timedelta(minutes=45)  # the REST booking's default
        assert slot["id"] == f"{doctor['id']}-{start.astimezone(UTC):%Y%m%d%H%M}"
    # Free: exactly what the REST free-slot search offers.
    rest = client.get(
        f"/api/v1/practitioners/{doctor['id']}/slots",
        params={
            "from": monday.isoformat(),
            "to": (monday + timedelta(hours=9, minutes=45)).isoformat(),
        },
    ).json()["slots"]
    assert [datetime.fromisoformat(s["start"]) for s in rest] == [
        datetime.fromisoformat(s["start"]) for s in found if s["status"] == "free"
    ]


def test_status_selects_free_or_busy(client: TestClient, doctor: dict[str, Any]) -> None:
    monday = next_weekday_at(0, 9)
    patient = eligible_patient(client, doctor["id"])
    booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=monday)
    window = _window(monday, monday + timedelta(hours=2))
    every = _slots(client, schedule=doctor["id"], **window)
    busy = _slots(client, schedule=doctor["id"], status="busy", **window)
    free = _slots(client, schedule=doctor["id"], status="free", **window)
    assert busy
    assert free
    assert {s["status"] for s in busy} == {"busy"}
    assert {s["status"] for s in free} == {"free"}
    assert sorted(s["id"] for s in busy + free) == sorted(s["id"] for s in every)
    assert _slots(client, schedule=doctor["id"], status="busy-unavailable", **window) == []


def test_a_slot_reads_by_its_stable_id_free_then_busy_then_free(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    tuesday = next_weekday_at(1, 11)
    window = _window(tuesday, tuesday + timedelta(hours=1))
    [first, *_] = _slots(client, schedule=doctor["id"], **window)
    assert next(s["id"] for s in _slots(client, schedule=doctor["id"], **window)) == first["id"]
    answer = client.get(f"{BASE}/Slot/{first['id']}")
    assert fhir(answer) == first
    assert "etag" not in answer.headers  # computed: no version to name
    patient = eligible_patient(client, doctor["id"])
    session = booked(client, patient_id=patient["id"], practitioner_id=doctor["id"], start=tuesday)
    assert fhir(client.get(f"{BASE}/Slot/{first['id']}"))["status"] == "busy"
    ok(client.post(f"/api/v1/sessions/{session['id']}/cancel", json={"reason": "Unwell"}))
    assert fhir(client.get(f"{BASE}/Slot/{first['id']}"))["status"] == "free"


def test_slots_that_are_not_are_404(client: TestClient, doctor: dict[str, Any]) -> None:
    monday = next_weekday_at(0, 9)
    sunday = next_weekday_at(6, 10)

    def slot(at: datetime, practitioner: str = doctor["id"]) -> str:
        return f"{BASE}/Slot/{practitioner}-{at.astimezone(UTC):%Y%m%d%H%M}"

    assert fhir(client.get(slot(monday)))["status"] == "free"
    for missing in (
        slot(monday + timedelta(minutes=5)),  # off the grid
        slot(sunday),  # outside the weekly hours
        slot(monday + timedelta(hours=7, minutes=30)),  # runs past 17:00
        slot(monday - timedelta(weeks=2)),  # past
        slot(monday + timedelta(days=120)),  # past the planning horizon
        slot(monday, "0b0b0b0b-0000-4000-8000-000000000000"),
        f"{BASE}/Slot/{doctor['id']}-209913311200",  # no such day
        f"{BASE}/Slot/{doctor['id'].upper()}-{monday.astimezone(UTC):%Y%m%d%H%M}",
        f"{BASE}/Slot/not-a-slot",
    ):
        outcome(client.get(missing), 404, "not-found", "not-found")


def test_an_inactive_practitioner_and_the_past_have_no_slots(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    assert _slots(client, schedule=doctor["id"], **_window(now - timedelta(days=10), now)) == []
    recent = _window(now - timedelta(days=3), now + timedelta(days=7))
    later = entries(fhir(client.get(f"{BASE}/Slot", params={"schedule": doctor["id"], **recent})))
    assert later
    assert all(datetime.fromisoformat(s["start"]) >= now for s in later)
    far = now + timedelta(days=100)
    assert _slots(client, schedule=doctor["id"], **_window(far, far + timedelta(days=7))) == []
    client.patch(f"/api/v1/practitioners/{doctor['id']}", json={"active": False})
    assert _slots(client, schedule=doctor["id"], **_window(now, now + timedelta(days=7))) == []


def test_slots_of_every_schedule_page_by_start(client: TestClient, doctor: dict[str, Any]) -> None:
    other = new_practitioner(client, name="Dr Paul Martin")  # Mondays 09:00-17:00
    monday = next_weekday_at(0, 9)
    window = _window(monday, monday + timedelta(hours=3))
    whole = _slots(client, **window)
    assert {s["schedule"]["reference"] for s in whole} == {
        f"Schedule/{doctor['id']}",
        f"Schedule/{other['id']}",
    }
    starts = [(s["start"], s["schedule"]["reference"].split("/")[1]) for s in whole]
    assert starts == sorted(starts)
    seen: list[str] = []
    bundle = fhir(client.get(f"{BASE}/Slot", params={"_count": 5, **window}))
    assert "total" not in bundle
    while True:
        seen += [s["id"] for s in entries(bundle)]
        url = link(bundle, "next")
        if url is None:
            break
        bundle = fhir(client.get(url))
    assert seen == [s["id"] for s in whole]
    assert fhir(client.get(f"{BASE}/Slot", params={"_count": 100, **window}))["total"] == len(whole)


@pytest.mark.parametrize(
    "params",
    [
        {},  # no window
        {"start": "ge2027-01-04T09:00:00+01:00"},  # unbounded
        {"start": "lt2027-01-04T09:00:00+01:00"},
        {"start": ["ge2027-01-04T09:00:00+01:00", "lt2027-03-04T09:00:00+01:00"]},  # too long
        {"start": ["eq2027-01-04T09:00:00+01:00", "lt2027-01-05T09:00:00+01:00"]},
        {"start": ["ge2027-01-04T09:00:00", "lt2027-01-05T09:00:00+01:00"]},  # no offset
        {"start": ["ge2027-02-30", "lt2027-03-05"]},
        {"start": ["ge2027-01-04T25:00:00Z", "lt2027-01-05T00:00:00Z"]},
        {"start": ["gesoon", "lt2027-01-05"]},
        {"start": ["ge2027-01-04,ge2027-01-05", "lt2027-01-06"]},
        {"start": ["ge2027-01-04", "lt2027-01-05"], "status": "maybe"},
        {"start": ["ge2027-01-04", "lt2027-01-05"], "schedule": "Practitioner/x"},
        {"start": ["ge2027-01-04", "lt2027-01-05"], "date": "2027-01-04"},
        {"start": ["ge2027-01-04", "lt2027-01-05"], "_count": "0"},
        {"start": ["ge2027-01-04", "lt2027-01-05"], "_count": "-1"},
        {"start": ["ge2027-01-04", "lt2027-01-05"], "_cursor": "forged"},
        {"start": ["ge0001-01-04", "lt0001-01-05"]},
    ],
)
def test_bad_slot_searches_are_400_outcomes(
    client: TestClient, doctor: dict[str, Any], params: dict[str, Any]
) -> None:
    answer = client.get(f"{BASE}/Slot", params={"schedule": doctor["id"], **params})
    assert answer.status_code == 400, answer.text
    assert fhir(answer, 400)["issue"][0]["code"] in {"invalid", "not-supported"}


def test_a_date_alone_is_midnight_in_the_clinics_zone(
    client: TestClient, doctor: dict[str, Any]
) -> None:
    monday = next_weekday_at(0, 9).date()
    found = _slots(
        client,
        schedule=doctor["id"],
        start=[f"ge{monday.isoformat()}", f"lt{(monday + timedelta(days=1)).isoformat()}"],
    )
    assert _wall(found[0]) == "09:00"
    assert _wall(found[-1]) == "16:15"
    assert {datetime.fromisoformat(s["start"]).astimezone(PARIS).date() for s in found} == {monday}


def test_a_live_hold_makes_its_slot_busy_and_an_expired_one_frees_it(
    client: TestClient, doctor: dict[str, Any], clock: Clock
) -> None:
    wednesday = next_weekday_at(2, 10)
    patient = eligible_patient(client, doctor["id"])
    slot = f"{BASE}/Slot/{doctor['id']}-{wednesday.astimezone(UTC):%Y%m%d%H%M}"
    assert fhir(client.get(slot))["status"] == "free"
    kept = ok(
        client.post(
            "/api/v1/holds",
            json={
                "patient_id": patient["id"],
                "practitioner_id": doctor["id"],
                "start": wednesday.isoformat(),
            },
        )
    )
    assert fhir(client.get(slot))["status"] == "busy"
    window = _window(wednesday, wednesday + timedelta(hours=1))
    busy = {s["id"] for s in _slots(client, schedule=doctor["id"], status="busy", **window)}
    assert slot.rsplit("/", 1)[1] in busy
    clock.travel_to(datetime.fromisoformat(kept["expires_at"]) + timedelta(seconds=1))
    assert fhir(client.get(slot))["status"] == "free"
