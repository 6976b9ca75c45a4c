"""A course driven through the API for the review and summary tests: a patient (70 kg) with a
plan, sessions booked in it a month apart, checked in and treated on their days."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Clock, new_patient, next_weekday_at, record_evaluation
from tests.sessions.steps import PARIS, at, booked, checked_in, ok


def dose(*sites: str, volume_ml: float = 2, sclerosant: str = "polidocanol") -> dict[str, Any]:
    """A completion record treating `sites` (0.5%: 5 mg a mL)."""
    return {
        "treated_sites": list(sites),
        "sclerosant": sclerosant,
        "concentration_percent": 0.5,
        "volume_ml": volume_ml,
    }


@dataclass
class Course:
    """A patient's course of treatment, treated a session at a time."""

    client: TestClient
    clock: Clock
    doctor: dict[str, Any]
    planned_sessions: int = 3
    patient: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.patient = new_patient(self.client)
        record_evaluation(
            self.client,
            self.patient["id"],
            self.doctor["id"],
            weight_kg=70,
            spider_vein_sites=["left-calf", "right-calf", "right-thigh"],
        )
        self.plan = ok(
            self.client.post(
                f"/api/v1/patients/{self.patient['id']}/treatment-plans",
                json={"planned_sessions": self.planned_sessions},
            )
        )

    @property
    def url(self) -> str:
        return f"/api/v1/treatment-plans/{self.plan['id']}"

    def book(self) -> dict[str, Any]:
        """The next session: the first, the doctor's first free slot on a Tuesday at least a
        week ahead; each next one 4 weeks after the last."""
        if self.sessions:
            start = at(self.sessions[-1]["start"]).astimezone(PARIS) + timedelta(days=28)
        else:
            tuesday = next_weekday_at(1, 9)
            window = {"from": tuesday.isoformat(), "to": (tuesday + timedelta(hours=8)).isoformat()}
            slots = ok(
                self.client.get(f"/api/v1/practitioners/{self.doctor['id']}/slots", params=window)
            )
            start = at(slots["slots"][0]["start"])
        visit = booked(
            self.client,
            patient_id=self.patient["id"],
            practitioner_id=self.doctor["id"],
            start=start,
            plan_id=self.plan["id"],
        )
        self.sessions.append(visit)
        return visit

    def treat(self, record: dict[str, Any]) -> dict[str, Any]:
        """Book the next session, check the patient in on its day, and record `record`."""
        visit = self.book()
        checked_in(self.client, self.clock, f"/api/v1/sessions/{visit['id']}")
        ok(self.client.post(f"/api/v1/sessions/{visit['id']}/complete", json=record))
        return visit

    def day_of(self, visit: dict[str, Any]) -> date:
        """A session's day, in Paris (where it takes place)."""
        return at(visit["start"]).astimezone(PARIS).date()

    def review(self, caller: TestClient | None = None, **body: Any) -> Any:
        body.setdefault("practitioner_id", self.doctor["id"])
        if isinstance(body.get("reviewed_at"), datetime):
            body["reviewed_at"] = body["reviewed_at"].isoformat()
        return (caller or self.client).post(f"{self.url}/reviews", json=body)

    def summary(self, caller: TestClient | None = None) -> dict[str, Any]:
        result: dict[str, Any] = ok((caller or self.client).get(f"{self.url}/summary"))
        return result
