"""A practitioner's hours at two sites are judged in real time: hours that meet at any moment
of the coming year are refused (one practitioner, one site at a time), hours that only look
alike on two wall clocks are not; and at one site, as ever, by the wall clock."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.models import Practitioner
from tests.factories import assert_problem, count_rows, new_practitioner


def _site(client: TestClient, name: str, zone: str) -> str:
    made = client.post("/api/v1/locations", json={"name": name, "time_zone": zone})
    assert made.status_code == 201, made.text
    site: str = made.json()["id"]
    return site


def _hours(*spans: tuple[str, str, str]) -> list[dict[str, Any]]:
    return [{"weekday": 0, "start": a, "end": b, "location_id": s} for s, a, b in spans]


def test_hours_at_two_sites_that_meet_in_real_time_are_refused(
    client: TestClient, engine: Any
) -> None:
    paris = _site(client, "Rive Gauche", "Europe/Paris")
    new_york = _site(client, "Upper East Side", "America/New_York")
    before = count_rows(engine, Practitioner.__tablename__)
    # 14:00-18:00 in Paris and 08:00-12:00 in New York are both 13:00-17:00 UTC in winter.
    meeting = _hours((paris, "14:00", "18:00"), (new_york, "08:00", "12:00"))
    body = {"name": "Dr Two Places", "time_zone": "Europe/Paris", "availability": meeting}

    refused = assert_problem(
        client.post("/api/v1/practitioners", json=body), 422, "validation-error"
    )

    assert "one site at a time" in refused["errors"][0]["msg"]
    assert count_rows(engine, Practitioner.__tablename__) == before  # nothing stored


def test_hours_that_only_look_alike_on_two_clocks_are_kept(client: TestClient) -> None:
    paris = _site(client, "Rive Gauche", "Europe/Paris")
    new_york = _site(client, "Upper East Side", "America/New_York")
    # 08:00-11:00 in Paris is over before 09:00 comes in New York, all year round.
    apart = _hours((paris, "08:00", "11:00"), (new_york, "09:00", "17:00"))

    doctor = new_practitioner(client, availability=apart)

    assert sorted((h["location_id"], h["start"]) for h in doctor["availability"]) == sorted(
        [(paris, "08:00"), (new_york, "09:00")]
    )
    # Moved to meet, it is refused and the hours stay as they were.
    url = f"/api/v1/practitioners/{doctor['id']}"
    meeting = _hours((paris, "14:00", "18:00"), (new_york, "08:00", "12:00"))
    assert_problem(client.patch(url, json={"availability": meeting}), 422, "validation-error")
    kept = client.get(url).json()["availability"]
    assert sorted((h["location_id"], h["start"]) for h in kept) == sorted(
        [(paris, "08:00"), (new_york, "09:00")]
    )


def test_at_one_site_or_two_on_one_clock_overlapping_hours_are_refused(
    client: TestClient,
) -> None:
    left, right = _site(client, "Left Bank", "Europe/Paris"), _site(client, "Right", "Europe/Paris")
    for spans in (
        ((left, "09:00", "12:00"), (left, "11:00", "13:00")),
        ((left, "09:00", "12:00"), (right, "11:00", "13:00")),
    ):
        body = {"name": "Dr Busy", "time_zone": "Europe/Paris", "availability": _hours(*spans)}
        assert_problem(client.post("/api/v1/practitioners", json=body), 422, "validation-error")
    # Touching is not meeting.
    new_practitioner(
        client, availability=_hours((left, "09:00", "12:00"), (right, "12:00", "13:00"))
    )
