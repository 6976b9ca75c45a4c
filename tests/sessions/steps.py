"""Steps the sessions tests share: booking through the API, checking in on the day."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.factories import (
    Clock,
    new_patient,
    next_weekday_at,
    record_evaluation,
)

PARIS = ZoneInfo("Europe/Paris")


def book(client: TestClient, **body: Any) -> Any:
    if isinstance(body.get("start"), datetime):
        body["start"] = body["start"].isoformat()
    return client.post("/api/v1/sessions", json=body)


def booked(client: TestClient, **body: Any) -> dict[str, Any]:
    response = book(client, **body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def listed_day(
    client: TestClient, app: FastAPI, practitioner_id: str, day: datetime
) -> tuple[list[dict[str, Any]], list[str]]:
    """The practitioner's sessions of the day starting at `day` as the calendar lists them,
    and the text of every statement the API sent to list them."""
    sent: list[str] = []

    def seen(*args: Any) -> None:
        sent.append(args[2])  # the statement's text

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        window = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}
        listed = ok(
            client.get("/api/v1/sessions", params={"practitioner_id": practitioner_id, **window})
        )["items"]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return listed, sent


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


def arrived_for_completion(
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


def next_spring_forward_monday() -> datetime:
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


SMALL_DOSE = {
    "treated_sites": ["left-calf"],
    "sclerosant": "polidocanol",
    "concentration_percent": 0.5,
    "volume_ml": 2,
}


def first_visit_of_a_course(
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
