"""A clinic driven through the API for the treatment-safety findings: one doctor available every
day, 07:00 to 21:00 in Paris, the clinic's clock, and the steps the findings share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.main import create_app
from tests.factories import (
    FOAM_RISKS,
    NO_RISKS,
    RISKS_EXPLAINED,
    ApiClient,
    ClientFactory,
    Clock,
    assert_problem,
    consented,
    dispose,
    new_patient,
    new_practitioner,
    table_snapshot,
)

PARIS = ZoneInfo("Europe/Paris")
# What a completion writes: a refused one leaves each as it was.
RECORDS = ("completion_records", "injection_lines", "treatment_sessions")


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
            consented(
                self.client,
                patient_id,
                self.doctor["id"],
                obtained_at=body["performed_at"],
                risks_explained=[*RISKS_EXPLAINED, *FOAM_RISKS],  # liquid or foam
            )
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

    def inject(self, visit: dict[str, Any], *lines: dict[str, Any], **record: Any) -> Any:
        """Complete the session with these lines of injections (`line`)."""
        return self.client.post(
            f"/api/v1/sessions/{visit['id']}/complete", json={"injections": lines, **record}
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


def line(**changes: Any) -> dict[str, Any]:
    """A line of injections: by default 2 mL of 0.5% liquid polidocanol in 10 injections into
    the spider veins of the left calf (10 mg, as Asclera's label gives)."""
    return {
        "site": "left-calf",
        "vessel": "telangiectasia",
        "sclerosant": "polidocanol",
        "concentration_percent": 0.5,
        "form": "liquid",
        "volume_ml": 2,
        "count": 10,
        **changes,
    }


def foam(volume_ml: float, **changes: Any) -> dict[str, Any]:
    """A line of 1% polidocanol foam, 1:4 with CO2 and oxygen, into reticular veins."""
    made = {
        "vessel": "reticular",
        "concentration_percent": 1,
        "form": "foam",
        "foam_ratio": "1:4",
        "gas": "co2-o2",
        "volume_ml": volume_ml,
        "count": 4,
    }
    return line(**{**made, **changes})


@contextmanager
def same_day_clinic(clinic: Clinic) -> Iterator[Clinic]:
    """The clinic with no interval rule at all (a clinic's setting): two sessions of one
    patient may be treated on one day."""
    settings: Settings = clinic.app.state.settings
    same_day = create_app(settings.model_copy(update={"min_session_interval_days": 0}))
    same_day.state.clock = clinic.clock
    admin = ApiClient(same_day, raise_server_exceptions=False, headers=clinic.client.headers)
    try:
        yield Clinic(same_day, admin, clinic.clock, clinic.client_as, clinic.engine)
    finally:
        dispose(same_day)


def reasons(session: dict[str, Any]) -> list[str]:
    return [r["code"] for r in session["review_reasons"]]


def refused_treatment(clinic: Clinic, visit: dict[str, Any], status: int, code: str) -> Any:
    """Completion is refused and writes nothing: the session stays arrived, no record."""
    before = table_snapshot(clinic.engine, *RECORDS)
    body = assert_problem(clinic.complete(visit), status, code)
    assert table_snapshot(clinic.engine, *RECORDS) == before
    assert clinic.read(visit)["status"] == "arrived"
    return body
