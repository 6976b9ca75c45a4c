"""Steps the waitlist tests share: putting patients on the list, freeing slots, reading the
offers made, and what the outbox told of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.models import OutboxEvent
from tests.sessions.clinic import PARIS, Clinic, ok, paris_day

# The slot the tests free: three weeks ahead, 10:00 in Paris (the clinic's doctor sees patients
# every day, 07:00 to 21:00).
SLOT = 21


def slot_start() -> datetime:
    return paris_day(SLOT, 10)


def day(moment: datetime, shift: int = 0) -> str:
    """The Paris day of `moment`, `shift` days later."""
    return (moment.astimezone(PARIS).date() + timedelta(days=shift)).isoformat()


@dataclass
class Waitlist:
    """The clinic's waitlist, through the API."""

    clinic: Clinic

    def try_add(self, patient_id: str, **body: Any) -> Any:
        start = slot_start()
        body = {"earliest": day(start, -3), "latest": day(start, 3), **body}
        return self.clinic.client.post("/api/v1/waitlist", json={"patient_id": patient_id, **body})

    def add(self, patient_id: str, **body: Any) -> dict[str, Any]:
        """The patient on the list, by default for the three days either side of the slot."""
        response = self.try_add(patient_id, **body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = ok(self.clinic.client.get(f"/api/v1/waitlist/{entry['id']}"))
        return result

    def offers(self, **params: Any) -> list[dict[str, Any]]:
        """Every offer, newest first (reading them sweeps first)."""
        page = ok(self.clinic.client.get("/api/v1/waitlist/offers", params=params))
        assert page["next_cursor"] is None
        items: list[dict[str, Any]] = page["items"]
        return items

    def standing(self) -> list[dict[str, Any]]:
        return self.offers(status="offered")

    def offered_to(self) -> list[str]:
        """The patients a standing offer is for."""
        return [offer["patient_id"] for offer in self.standing()]

    def booked_at_slot(self, patient_id: str | None = None) -> dict[str, Any]:
        """A session booked at the slot (for a new eligible patient unless one is named)."""
        return self.clinic.book(patient_id or self.clinic.patient(), slot_start())

    def cancel(self, visit: dict[str, Any]) -> dict[str, Any]:
        body = {"reason": "Patient called: cannot come"}
        result: dict[str, Any] = ok(
            self.clinic.client.post(f"/api/v1/sessions/{visit['id']}/cancel", json=body)
        )
        return result

    def answer(self, offer: dict[str, Any], how: str) -> Any:
        return self.clinic.client.post(f"/api/v1/waitlist/offers/{offer['id']}/{how}")

    def told(self, kind: str) -> list[dict[str, Any]]:
        """The outbox's events of that type, oldest first: their ids."""
        with self.clinic.engine.connect() as connection:
            rows = connection.execute(
                select(OutboxEvent.session_id, OutboxEvent.patient_id, OutboxEvent.plan_id)
                .where(OutboxEvent.type == kind)
                .order_by(OutboxEvent.seq)
            ).all()
        return [
            {"session_id": str(r.session_id), "patient_id": str(r.patient_id), "plan_id": r.plan_id}
            for r in rows
        ]
