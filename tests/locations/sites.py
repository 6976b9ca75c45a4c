"""Helpers of the location tests: sites and rooms set up through the API, practitioners who
see patients at one site (no room of their own: the site's rooms are all there is), and
bookings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import WEEKDAYS_9_TO_17


def new_location(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {"name": "Clinique Rive Gauche", "address": "12 rue de Rennes, Paris", **overrides}
    response = client.post("/api/v1/locations", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def practitioner_at(
    client: TestClient, location: dict[str, Any], name: str = "Dr Amélie Laurent", **more: Any
) -> dict[str, Any]:
    """A practitioner with weekday hours, 09:00 to 17:00 on the location's clock, there."""
    hours = [{**h, "location_id": location["id"]} for h in WEEKDAYS_9_TO_17]
    body = {"name": name, "time_zone": "Europe/Paris", "availability": hours, **more}
    response = client.post("/api/v1/practitioners", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def book(
    client: TestClient,
    patient: dict[str, Any],
    doctor: dict[str, Any],
    start: datetime,
    **more: Any,
) -> Any:
    """`POST /api/v1/sessions` for the patient with the practitioner at `start`."""
    body = {
        "patient_id": patient["id"],
        "practitioner_id": doctor["id"],
        "start": start.isoformat(),
        **more,
    }
    return client.post("/api/v1/sessions", json=body)


def booked(
    client: TestClient,
    patient: dict[str, Any],
    doctor: dict[str, Any],
    start: datetime,
    **more: Any,
) -> dict[str, Any]:
    response = book(client, patient, doctor, start, **more)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
