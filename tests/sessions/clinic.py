"""A clinic driven through the API for the treatment-safety findings: one doctor available every
day, 07:00 to 21:00 in Paris, the clinic's clock, and the steps the findings share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.factories import (
    NO_RISKS,
    ClientFactory,
    Clock,
    assert_problem,
    consented,
    new_patient,
    new_practitioner,
    table_snapshot,
)

PARIS = ZoneInfo("Europe/Paris")


EVERY_DAY_7_TO_21 = [{"weekday": d, "start": "07:00", "end": "21:00"} for d in range(7)]


DOSE_20_MG = {"treated_sites": ["left-calf"], "sclerosant": "polidocanol"}
DOSE_20_MG |= {"concentration_percent": 0.5, "volume_ml": 4}


def paris_day(days_ahead: int, hour: int, minute: int = 0) -> datetime:
    day = datetime.now(PARIS).date() + timedelta(days=days_ahead)
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def ok(response: Any) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


@dataclass
class Clinic:
    """A clinic driven through the API: one doctor available every day, 07:00 to 21:00 in
    Paris, and the clinic's clock."""

    app: FastAPI
    client: TestClient
    clock: Clock
    client_as: ClientFactory
    engine: Engine
    doctor: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.doctor = new_practitioner(self.client, availability=EVERY_DAY_7_TO_21)

    def evaluate(
        self,
        patient_id: str,
        *,
        performed_at: datetime | None = None,
        consent: bool = True,
        **changes: Any,
    ) -> dict[str, Any]:
        """An evaluation of the patient by the doctor (an hour ago) with `changes` applied;
        with `consent`, when the risks were explained, the patient's consent signed then."""
        body = {
            "practitioner_id": self.doctor["id"],
            "performed_at": (performed_at or self.clock() - timedelta(hours=1)).isoformat(),
            "spider_vein_sites": ["left-calf", "right-thigh"],
            "ceap_class": "C1",
            "varicose_veins": "absent",
            "risk_factors": {**NO_RISKS, **changes.pop("risks", {})},
            "benefits_and_risks_explained": True,
            **changes,
        }
        result: dict[str, Any] = ok(
            self.client.post(f"/api/v1/patients/{patient_id}/evaluations", json=body)
        )
        if consent and body["benefits_and_risks_explained"] is True:
            consented(self.client, patient_id, self.doctor["id"], obtained_at=body["performed_at"])
        return result

    def patient(self, **evaluation: Any) -> str:
        """An eligible patient (their evaluation records `evaluation`'s changes)."""
        patient_id: str = new_patient(self.client)["id"]
        self.evaluate(patient_id, **evaluation)
        return patient_id

    def book(self, patient_id: str, start: datetime, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = ok(self.try_book(patient_id, start, **body))
        return result

    def try_book(self, patient_id: str, start: datetime, **body: Any) -> Any:
        return self.client.post(
            "/api/v1/sessions",
            json={
                "patient_id": patient_id,
                "practitioner_id": self.doctor["id"],
                "start": start.isoformat(),
                **body,
            },
        )

    def read(self, visit: dict[str, Any], caller: TestClient | None = None) -> dict[str, Any]:
        result: dict[str, Any] = ok((caller or self.client).get(f"/api/v1/sessions/{visit['id']}"))
        return result

    def check_in(self, visit: dict[str, Any]) -> Any:
        return self.client.post(f"/api/v1/sessions/{visit['id']}/check-in")

    def complete(self, visit: dict[str, Any], **record: Any) -> Any:
        return self.client.post(
            f"/api/v1/sessions/{visit['id']}/complete", json={**DOSE_20_MG, **record}
        )

    def treat(self, visit: dict[str, Any], **record: Any) -> dict[str, Any]:
        """Check the patient in on the session's day and record the treatment."""
        self.clock.on_the_day_of(visit)
        ok(self.check_in(visit))
        result: dict[str, Any] = ok(self.complete(visit, **record))
        return result

    def review(self) -> list[str]:
        """The ids `GET /sessions?needs_review=true` lists."""
        page = ok(self.client.get("/api/v1/sessions", params={"needs_review": "true"}))
        return [s["id"] for s in page["items"]]


def reasons(session: dict[str, Any]) -> list[str]:
    return [r["code"] for r in session["review_reasons"]]


def refused_treatment(clinic: Clinic, visit: dict[str, Any], status: int, code: str) -> Any:
    """Completion is refused and writes nothing: the session stays arrived, no record."""
    before = table_snapshot(clinic.engine, "completion_records", "treatment_sessions")
    body = assert_problem(clinic.complete(visit), status, code)
    assert table_snapshot(clinic.engine, "completion_records", "treatment_sessions") == before
    assert clinic.read(visit)["status"] == "arrived"
    return body
