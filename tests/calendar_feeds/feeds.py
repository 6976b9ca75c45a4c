"""Steps the calendar-feed tests share: issuing a feed, reading and parsing it, booking."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from icalendar import Calendar, Event

from tests.factories import eligible_patient


def issue(client: TestClient, practitioner_id: str) -> dict[str, Any]:
    """A new feed of the practitioner (rotating any), as an admin issues it."""
    answer = client.post(f"/api/v1/practitioners/{practitioner_id}/calendar-feed")
    assert answer.status_code == 201, answer.text
    issued: dict[str, Any] = answer.json()
    return issued


def path_of(issued: dict[str, Any]) -> str:
    return urlsplit(issued["url"]).path


def fetch(anonymous: TestClient, issued: dict[str, Any], **headers: str) -> Any:
    return anonymous.get(path_of(issued), headers=headers)


def events(answer: Any) -> dict[str, Event]:
    """The feed's VEVENTs by UID, parsed by the icalendar package."""
    assert answer.status_code == 200, answer.text
    calendar = Calendar.from_ical(answer.content)
    found = {str(event["UID"]): event for event in calendar.walk("VEVENT")}
    assert len(found) == len(calendar.walk("VEVENT")), "UIDs must be unique"
    return found


def uid(session: dict[str, Any]) -> str:
    return f"{session['id']}@sclerosched"


def book(
    client: TestClient, doctor_id: str, start: datetime, **patient: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new eligible patient booked with the doctor at `start`: (patient, session)."""
    person = eligible_patient(client, doctor_id, **patient)
    answer = client.post(
        "/api/v1/sessions",
        json={"patient_id": person["id"], "practitioner_id": doctor_id, "start": start.isoformat()},
    )
    assert answer.status_code == 201, answer.text
    return person, answer.json()


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)
