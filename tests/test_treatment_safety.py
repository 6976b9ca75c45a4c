"""Treat only whom we may treat, when we may: the eight findings of the outside test run,
each played through HTTP, refused or flagged, beside the legitimate path that still works.

Every case is one row of `FINDINGS`: it sets a clinic up through the API, moves the clinic's
clock to the session's day where the finding needs it, and checks what the service answers.
The suite runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.main import create_app
from app.models import SessionEvent, TreatmentSession
from app.roles import Role
from app.vocabulary import SessionStatus
from tests.conftest import (
    NO_RISKS,
    ClientFactory,
    Clock,
    assert_problem,
    count_rows,
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
        self, patient_id: str, *, performed_at: datetime | None = None, **changes: Any
    ) -> dict[str, Any]:
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


# 1. No eligibility check at treatment ------------------------------------------------------------


def _strand_and_refuse(clinic: Clinic, later: dict[str, Any], codes: list[str]) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    recorded = clinic.evaluate(patient, **later)
    assert [s["id"] for s in recorded["affected_sessions"]] == [visit["id"]]
    assert clinic.review() == [visit["id"]]
    assert reasons(clinic.read(visit)) == codes
    clinic.clock.on_the_day_of(visit)
    arrived = ok(clinic.check_in(visit))  # the desk checks in; the reasons come with it
    assert (arrived["status"], arrived["needs_review"], reasons(arrived)) == (
        "arrived",
        True,
        codes,
    )
    body = refused_treatment(clinic, visit, 409, "eligibility-blocked")
    assert [f["code"] for f in body["flags"]] == codes


def acute_thrombosis_found_after_booking(clinic: Clinic) -> None:
    _strand_and_refuse(clinic, {"risks": {"acute_thrombosis": True}}, ["acute-thrombosis"])


def varicose_veins_found_after_booking(clinic: Clinic) -> None:
    _strand_and_refuse(
        clinic, {"ceap_class": "C2", "varicose_veins": "present"}, ["varicose-treatment-first"]
    )


def relative_flag_not_cleared_then_cleared(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    pill = clinic.evaluate(patient, risks={"hormonal_contraception": True})
    assert [s["id"] for s in pill["affected_sessions"]] == [visit["id"]]
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    body = refused_treatment(clinic, visit, 409, "eligibility-blocked")
    assert (body["outcome"], [f["code"] for f in body["flags"]]) == (
        "clearance-required",
        ["hormonal-contraception"],
    )
    clearance = {"practitioner_id": clinic.doctor["id"], "reason": "Pill stopped 6 weeks ago"}
    ok(clinic.client.post(f"/api/v1/evaluations/{pill['id']}/clearance", json=clearance))
    assert clinic.review() == []
    assert ok(clinic.complete(visit))["session"]["status"] == "fulfilled"


def an_expired_evaluation_stops_treatment_but_not_the_record_of_one_given_in_time(
    clinic: Clinic,
) -> None:
    patient = new_patient(clinic.client)["id"]
    start = paris_day(2, 10)
    # Valid until 11:00 on the session's day.
    clinic.evaluate(patient, performed_at=(start + timedelta(hours=1)).replace(year=start.year - 1))
    visit = clinic.book(patient, start)
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    clinic.clock.travel_to(start + timedelta(hours=2))
    # Given now, after it expired: refused.
    body = refused_treatment(clinic, visit, 409, "eligibility-blocked")
    assert body["outcome"] == "evaluation-expired"
    # Given at 10:15, while it was valid, and written up now: kept, with a warning.
    done = ok(clinic.complete(visit, administered_at=paris_day(2, 10, 15).isoformat()))
    assert [w["code"] for w in done["warnings"]] == ["weight-missing", "found-since-treatment"]
    assert "evaluation-expired" in done["warnings"][1]["message"]


def a_site_no_longer_evaluated_since_the_stated_time_is_warned_of(clinic: Clinic) -> None:
    patient = clinic.patient()  # left calf and right thigh
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    then = clinic.clock()
    clinic.clock.travel_to(then + timedelta(minutes=20))
    clinic.evaluate(patient, spider_vein_sites=["right-calf"])
    done = ok(clinic.complete(visit, administered_at=then.isoformat()))
    assert [w["code"] for w in done["warnings"]][-1] == "found-since-treatment"
    assert "site-not-evaluated" in done["warnings"][-1]["message"]


def a_contraindication_on_record_when_it_was_given_is_not_dated_away(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    clinic.evaluate(patient, risks={"acute_thrombosis": True})
    then = clinic.clock()
    clinic.clock.travel_to(then + timedelta(minutes=20))
    clinic.evaluate(patient, notes="Duplex scan: no thrombosis after all")
    # Treated at `then`, when an acute thrombosis was the current finding: refused.
    refused = clinic.complete(visit, administered_at=then.isoformat())
    assert [f["code"] for f in assert_problem(refused, 409, "eligibility-blocked")["flags"]] == [
        "acute-thrombosis"
    ]
    assert count_rows(clinic.engine, "completion_records") == 0
    assert ok(clinic.complete(visit))["session"]["status"] == "fulfilled"


# 2. Treatment happens on its day -----------------------------------------------------------------


def two_sessions_fourteen_days_apart_cannot_both_be_treated_today(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=60)
    first = clinic.book(patient, paris_day(3, 10))
    second = clinic.book(patient, paris_day(17, 10))
    for visit in (first, second):
        body = assert_problem(clinic.check_in(visit), 409, "check-in-not-open")
        assert datetime.fromisoformat(body["opens"]) == paris_day(3 if visit is first else 17, 0)
    assert_problem(clinic.complete(first), 409, "invalid-transition")  # not checked in
    done = clinic.treat(first, concentration_percent=2.5, volume_ml=4)  # 100 mg of 120
    given = datetime.fromisoformat(done["session"]["completion"]["administered_at"])
    assert given.astimezone(PARIS).date() == paris_day(3, 10).date()
    # Still the first session's day: the second is not open, whatever is tried.
    assert_problem(clinic.check_in(second), 409, "check-in-not-open")
    # Its own day: treated, 14 days after the first.
    assert clinic.treat(second, concentration_percent=2.5, volume_ml=4)["session"]["status"] == (
        "fulfilled"
    )


def the_day_of_a_session_closes_at_midnight(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.travel_to(paris_day(4, 0, 5))
    assert_problem(clinic.check_in(visit), 409, "check-in-not-open")
    clinic.clock.travel_to(paris_day(3, 0, 5))
    ok(clinic.check_in(visit))
    # A record written the next morning says when the sclerosant was given, on the day.
    clinic.clock.travel_to(paris_day(4, 8))
    refused = clinic.complete(visit)
    assert assert_problem(refused, 422, "validation-error")["errors"][0]["loc"] == [
        "body",
        "administered_at",
    ]
    for wrong in (paris_day(2, 23), paris_day(3, 0), paris_day(4, 0, 1), paris_day(5, 10)):
        # before the check-in, or after the day; or in the future
        refused = clinic.complete(visit, administered_at=wrong.isoformat())
        assert_problem(refused, 422, "validation-error")
    done = ok(clinic.complete(visit, administered_at=paris_day(3, 10, 15).isoformat()))
    given = datetime.fromisoformat(done["session"]["completion"]["administered_at"])
    assert given == paris_day(3, 10, 15)


def a_new_time_zone_does_not_move_a_booked_sessions_day(clinic: Clinic) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    always = [{"weekday": d, "start": "00:00", "end": "23:59"} for d in range(7)]
    far = new_practitioner(clinic.client, name="Dr T", time_zone="Asia/Tokyo", availability=always)
    day = datetime.now(tokyo).date() + timedelta(days=3)
    start = datetime.combine(day, time(8), tzinfo=tokyo)
    visit = clinic.book(clinic.patient(), start, practitioner_id=far["id"])
    assert visit["time_zone"] == "Asia/Tokyo"
    # 08:00 in Tokyo is 23:00 the day before in UTC: moving the practitioner's profile to UTC
    # does not open check-in on that UTC day.
    ok(clinic.client.patch(f"/api/v1/practitioners/{far['id']}", json={"time_zone": "UTC"}))
    clinic.clock.travel_to(start - timedelta(hours=11))  # 21:00 in Tokyo, the day before
    assert_problem(clinic.check_in(visit), 409, "check-in-not-open")
    clinic.clock.travel_to(start - timedelta(minutes=30))
    assert ok(clinic.check_in(visit))["status"] == "arrived"


def a_session_checked_in_early_before_this_rule_still_waits_for_its_day(clinic: Clinic) -> None:
    visit = clinic.book(clinic.patient(), paris_day(3, 10))
    # Checked in today, as the service once allowed.
    with clinic.app.state.sessionmaker.begin() as db:
        stored = db.get(TreatmentSession, uuid.UUID(visit["id"]))
        stored.status = SessionStatus.ARRIVED
        db.add(
            SessionEvent(
                session_id=stored.id, action="check-in", from_status="booked", to_status="arrived"
            )
        )
    refused = clinic.complete(visit)
    assert assert_problem(refused, 422, "validation-error")["errors"][0]["loc"] == [
        "body",
        "administered_at",
    ]
    assert count_rows(clinic.engine, "completion_records") == 0
    clinic.clock.on_the_day_of(visit)
    assert ok(clinic.complete(visit))["session"]["status"] == "fulfilled"


def a_treatment_given_late_flags_the_next_session_too_close(clinic: Clinic) -> None:
    patient = clinic.patient()
    first = clinic.book(patient, paris_day(3, 10))
    second = clinic.book(patient, paris_day(17, 10))  # 14 days: exactly enough
    clinic.clock.on_the_day_of(first)
    ok(clinic.check_in(first))
    clinic.clock.travel_to(paris_day(3, 11, 40))
    done = ok(clinic.complete(first, administered_at=paris_day(3, 11, 30).isoformat()))
    assert [s["id"] for s in done["affected_sessions"]] == [second["id"]]
    assert reasons(clinic.read(second)) == ["interval-too-short"]
    assert clinic.review() == [second["id"]]
    clinic.clock.on_the_day_of(second)
    assert reasons(ok(clinic.check_in(second))) == ["interval-too-short"]
    refused_treatment(clinic, second, 422, "interval-too-short")
    clinic.clock.travel_to(paris_day(17, 10, 31))  # 14 x 24 hours less one since the first
    assert ok(clinic.complete(second))["session"]["status"] == "fulfilled"


# 3. A non-clinical role never raises the dose limit ----------------------------------------------


def a_receptionists_weight_never_raises_the_limit(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=50)  # the clinician's weight: 100 mg a day
    desk = clinic.client_as(Role.RECEPTIONIST)
    ok(desk.patch(f"/api/v1/patients/{patient}", json={"weight_kg": 400}))
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    big = {"concentration_percent": 3, "volume_ml": 20}  # 600 mg
    body = assert_problem(clinic.complete(visit, **big), 422, "dose-limit-exceeded")
    assert (body["dose_mg"], body["limit_mg"]) == (600, 100)
    # The clinician states today's weight in the record: that sets the limit.
    body = assert_problem(clinic.complete(visit, weight_kg=55, **big), 422, "dose-limit-exceeded")
    assert body["limit_mg"] == 110
    done = ok(clinic.complete(visit, weight_kg=55, concentration_percent=2.5, volume_ml=4.4))
    assert done["warnings"] == []
    assert done["session"]["completion"]["weight_kg"] == 55
    events = ok(
        clinic.client.get(
            "/api/v1/audit-events", params={"resource_id": patient, "resource_type": "patient"}
        )
    )["items"]
    (update,) = [e for e in events if e["action"] == "update"]
    assert (update["role"], update["changes"]) == (
        "receptionist",
        {"weight_kg": {"old": None, "new": 400.0}},
    )


def the_latest_clinical_weight_is_used_and_a_lower_one_on_record_wins(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=60)  # 120 mg a day
    clinic.evaluate(patient, notes="Follow-up, not weighed")  # current, no weight
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    big = {"concentration_percent": 3, "volume_ml": 4.1}  # 123 mg
    assert (
        assert_problem(clinic.complete(visit, **big), 422, "dose-limit-exceeded")["limit_mg"] == 120
    )
    # The front desk typed 45 kg on the record: the lower weight sets the limit (90 mg) ...
    ok(
        clinic.client_as(Role.RECEPTIONIST).patch(
            f"/api/v1/patients/{patient}", json={"weight_kg": 45}
        )
    )
    body = {"concentration_percent": 2.5, "volume_ml": 4}  # 100 mg
    assert (
        assert_problem(clinic.complete(visit, **body), 422, "dose-limit-exceeded")["limit_mg"] == 90
    )
    # ... until the clinician weighs the patient and says so.
    done = ok(clinic.complete(visit, weight_kg=61, **body))
    assert done["warnings"] == []


def a_weight_recorded_since_the_stated_time_is_not_dated_away(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=50)  # 100 mg a day
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    then = clinic.clock()
    clinic.clock.travel_to(then + timedelta(minutes=5))
    clinic.evaluate(patient, weight_kg=30, performed_at=clinic.clock())  # 60 mg: a correction
    clinic.clock.travel_to(then + timedelta(minutes=30))
    dose = {"concentration_percent": 2, "volume_ml": 4.5, "administered_at": then.isoformat()}
    body = assert_problem(clinic.complete(visit, **dose), 422, "dose-limit-exceeded")  # 90 mg
    assert body["limit_mg"] == 60
    # A weight stated well above the one on record is kept, but flagged.
    done = ok(clinic.complete(visit, weight_kg=45, concentration_percent=1, volume_ml=4))
    assert [w["code"] for w in done["warnings"]] == ["stated-weight-above-record"]


def the_patients_record_weight_bounds_the_dose_when_no_clinician_weighed(clinic: Clinic) -> None:
    patient = clinic.patient()  # no weight on the evaluation
    ok(clinic.client.patch(f"/api/v1/patients/{patient}", json={"weight_kg": 20}))  # 40 mg
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    body = assert_problem(
        clinic.complete(visit, concentration_percent=1, volume_ml=5), 422, "dose-limit-exceeded"
    )
    assert body["limit_mg"] == 40
    done = ok(clinic.complete(visit, concentration_percent=1, volume_ml=4))
    assert [w["code"] for w in done["warnings"]] == ["weight-not-clinical"]


def without_a_clinical_weight_the_check_is_reported_not_done(clinic: Clinic) -> None:
    patient = clinic.patient()  # no weight on the evaluation
    integration = clinic.client_as(Role.INTEGRATION)
    ok(integration.patch(f"/api/v1/patients/{patient}", json={"weight_kg": 90}))
    ok(integration.patch(f"/api/v1/patients/{patient}", json={"weight_kg": None}))
    visit = clinic.book(patient, paris_day(3, 10))
    done = clinic.treat(visit)
    assert [w["code"] for w in done["warnings"]] == ["weight-missing"]


# 4. A contraindication cannot be hidden by dates -------------------------------------------------


def an_evaluation_dated_ahead_does_not_outrank_a_later_one(clinic: Clinic) -> None:
    patient = new_patient(clinic.client)["id"]
    ahead = clinic.evaluate(patient, performed_at=clinic.clock() + timedelta(minutes=4))
    # Stored as the moment of recording: a clock a little fast is not "the future".
    assert datetime.fromisoformat(ahead["performed_at"]) <= clinic.clock()
    clinic.evaluate(patient, performed_at=clinic.clock(), risks={"acute_thrombosis": True})
    standing = ok(clinic.client.get(f"/api/v1/patients/{patient}/eligibility"))
    assert (standing["bookable"], standing["outcome"]) == (False, "contraindicated")
    assert_problem(clinic.try_book(patient, paris_day(3, 10)), 409, "eligibility-blocked")
    later = clinic.clock() + timedelta(minutes=10)
    body = {"performed_at": later.isoformat()}
    refused = clinic.client.post(
        f"/api/v1/patients/{patient}/evaluations",
        json={
            **body,
            "practitioner_id": clinic.doctor["id"],
            "spider_vein_sites": ["left-calf"],
            "ceap_class": "C1",
            "varicose_veins": "absent",
            "risk_factors": NO_RISKS,
            "benefits_and_risks_explained": True,
        },
    )
    assert assert_problem(refused, 422, "validation-error")["errors"][0]["loc"] == [
        "body",
        "performed_at",
    ]


def an_evaluation_before_the_patient_was_born_is_refused(clinic: Clinic) -> None:
    patient = new_patient(clinic.client, birth_date="1984-03-12")["id"]
    refused = clinic.client.post(
        f"/api/v1/patients/{patient}/evaluations",
        json={
            "practitioner_id": clinic.doctor["id"],
            "performed_at": "1984-03-10T10:00:00+01:00",
            "spider_vein_sites": ["left-calf"],
            "ceap_class": "C1",
            "varicose_veins": "absent",
            "risk_factors": NO_RISKS,
            "benefits_and_risks_explained": True,
        },
    )
    assert assert_problem(refused, 422, "validation-error")["errors"][0]["loc"] == [
        "body",
        "performed_at",
    ]
    # Nor can a birth date move after an evaluation already recorded.
    evaluated = clinic.patient(performed_at=clinic.clock() - timedelta(days=100))
    ten_days_ago = (clinic.clock() - timedelta(days=10)).date().isoformat()
    later = clinic.client.patch(f"/api/v1/patients/{evaluated}", json={"birth_date": ten_days_ago})
    assert assert_problem(later, 422, "validation-error")["errors"][0]["loc"] == [
        "body",
        "birth_date",
    ]


def a_backdated_allergy_is_not_ignored(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    backdated = clinic.evaluate(
        patient,
        performed_at=clinic.clock() - timedelta(days=30),
        risks={"sclerosant_allergy": True},
    )
    assert [s["id"] for s in backdated["affected_sessions"]] == [visit["id"]]
    standing = ok(clinic.client.get(f"/api/v1/patients/{patient}/eligibility"))
    assert standing["bookable"] is False
    assert [f["code"] for f in standing["flags"]] == [
        "evaluation-recorded-later",
        "sclerosant-allergy",
    ]
    assert_problem(clinic.try_book(patient, paris_day(20, 10)), 409, "eligibility-blocked")
    # A clinician looks again and records a newer evaluation: the patient may be treated.
    clinic.evaluate(patient, notes="Allergy ruled out by the allergist")
    assert clinic.review() == []
    assert clinic.treat(visit)["session"]["status"] == "fulfilled"


# 5. An archived patient is not treated -----------------------------------------------------------


def a_patient_already_checked_in_is_among_the_affected(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    clinic.clock.travel_to(paris_day(3, 11, 30))  # in the chair longer than booked
    recorded = clinic.evaluate(patient, risks={"local_infection": True})
    assert [(s["id"], s["status"]) for s in recorded["affected_sessions"]] == [
        (visit["id"], "arrived")
    ]
    archived = ok(clinic.client.delete(f"/api/v1/patients/{patient}"))
    assert [s["id"] for s in archived["affected_sessions"]] == [visit["id"]]


def an_archived_patient_is_not_treated(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    archived = ok(clinic.client.delete(f"/api/v1/patients/{patient}"))
    assert [s["id"] for s in archived["affected_sessions"]] == [visit["id"]]
    assert reasons(clinic.read(visit)) == ["patient-archived"]
    clinic.clock.on_the_day_of(visit)
    assert reasons(ok(clinic.check_in(visit))) == ["patient-archived"]
    refused_treatment(clinic, visit, 409, "patient-archived")
    refused = clinic.client.patch(f"/api/v1/patients/{patient}", json={"phone": "+33 1 23 45"})
    assert_problem(refused, 409, "patient-archived")


# 6. Entered in error, the treatment still counts -------------------------------------------------


def a_treatment_marked_entered_in_error_still_counts(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=60)
    first = clinic.book(patient, paris_day(3, 10))
    clinic.treat(first, concentration_percent=2.5, volume_ml=4)  # 100 mg of 120
    erased = clinic.client.post(
        f"/api/v1/sessions/{first['id']}/entered-in-error", json={"reason": "Wrong form"}
    )
    assert ok(erased)["status"] == "entered-in-error"
    # The interval rule still sees the injection: nothing within 14 days of it.
    assert_problem(clinic.try_book(patient, paris_day(10, 10)), 422, "interval-too-short")
    assert clinic.book(patient, paris_day(17, 10))["status"] == "booked"


def same_day_doses_still_count_when_entered_in_error(clinic: Clinic) -> None:
    """With no interval rule at all (a clinic's setting), two sessions on one day: the first,
    marked entered in error, still counts towards the daily limit."""
    settings: Settings = clinic.app.state.settings
    same_day = create_app(settings.model_copy(update={"min_session_interval_days": 0}))
    same_day.state.clock = clinic.clock
    admin = TestClient(same_day, raise_server_exceptions=False, headers=clinic.client.headers)
    try:
        other = Clinic(same_day, admin, clinic.clock, clinic.client_as, clinic.engine)
        patient = other.patient(weight_kg=60)
        morning = other.book(patient, paris_day(3, 9))
        afternoon = other.book(patient, paris_day(3, 15))
        other.treat(morning, concentration_percent=2.5, volume_ml=4)  # 100 mg
        ok(admin.post(f"/api/v1/sessions/{morning['id']}/entered-in-error", json={"reason": "x"}))
        other.clock.on_the_day_of(afternoon)
        ok(other.check_in(afternoon))
        body = assert_problem(
            other.complete(afternoon, concentration_percent=1, volume_ml=3),  # 30 mg more
            422,
            "dose-limit-exceeded",
        )
        assert body["limit_mg"] == 120
        assert ok(other.complete(afternoon, concentration_percent=1, volume_ml=2))  # 120 mg
    finally:
        same_day.state.engine.dispose()


# 7. Changes that strand bookings are visible -----------------------------------------------------


def a_practitioner_leaving_or_away_strands_their_bookings(clinic: Clinic) -> None:
    first, second = clinic.patient(), clinic.patient()
    early = clinic.book(first, paris_day(3, 10))
    late = clinic.book(second, paris_day(6, 10))
    away = {
        "start": paris_day(5, 0).isoformat(),
        "end": paris_day(7, 0).isoformat(),
        "reason": "Congress",
    }
    absence = ok(
        clinic.client.post(f"/api/v1/practitioners/{clinic.doctor['id']}/time-off", json=away)
    )
    assert [s["id"] for s in absence["affected_sessions"]] == [late["id"]]
    assert clinic.review() == [late["id"]]
    assert reasons(clinic.read(late)) == ["outside-availability"]
    # The front desk's integration sees that it needs review, not why.
    integration = clinic.client_as(Role.INTEGRATION)
    seen = clinic.read(late, integration)
    assert (seen["needs_review"], seen["review_reasons"]) == (True, None)

    pregnant = clinic.patient()
    pill = clinic.evaluate(pregnant, risks={"pregnancy": True})
    left = ok(
        clinic.client.patch(f"/api/v1/practitioners/{clinic.doctor['id']}", json={"active": False})
    )
    assert [s["id"] for s in left["affected_sessions"]] == [early["id"], late["id"]]
    assert clinic.review() == [early["id"], late["id"]]
    assert reasons(clinic.read(early)) == ["inactive-practitioner"]
    assert (
        ok(clinic.client.get("/api/v1/sessions", params={"needs_review": "false"}))["items"] == []
    )

    # A practitioner who left neither clears nor evaluates.
    clearance = {"practitioner_id": clinic.doctor["id"], "reason": "Deferred, then agreed"}
    refused = clinic.client.post(f"/api/v1/evaluations/{pill['id']}/clearance", json=clearance)
    assert_problem(refused, 422, "inactive-practitioner")
    assert count_rows(clinic.engine, "clearances") == 0
    before = count_rows(clinic.engine, "evaluations")
    again = {
        "practitioner_id": clinic.doctor["id"],
        "performed_at": clinic.clock().isoformat(),
        "spider_vein_sites": ["left-calf"],
        "ceap_class": "C1",
        "varicose_veins": "absent",
        "risk_factors": NO_RISKS,
        "benefits_and_risks_explained": True,
    }
    refused = clinic.client.post(f"/api/v1/patients/{pregnant}/evaluations", json=again)
    assert_problem(refused, 422, "inactive-practitioner")
    assert count_rows(clinic.engine, "evaluations") == before


def shorter_hours_and_a_course_on_hold_strand_their_bookings(clinic: Clinic) -> None:
    patient = clinic.patient()
    plan = ok(clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json={}))
    visit = clinic.book(patient, paris_day(3, 18), plan_id=plan["id"])
    held = ok(
        clinic.client.patch(f"/api/v1/treatment-plans/{plan['id']}", json={"status": "on-hold"})
    )
    assert [s["id"] for s in held["affected_sessions"]] == [visit["id"]]
    mornings = [{"weekday": d, "start": "07:00", "end": "13:00"} for d in range(7)]
    changed = ok(
        clinic.client.patch(
            f"/api/v1/practitioners/{clinic.doctor['id']}", json={"availability": mornings}
        )
    )
    assert [s["id"] for s in changed["affected_sessions"]] == [visit["id"]]
    assert reasons(clinic.read(visit)) == ["outside-availability", "plan-not-active"]


# 8. The smaller gaps -----------------------------------------------------------------------------


def proposals_offer_no_more_than_the_plan_has_left(clinic: Clinic) -> None:
    patient = clinic.patient()
    plan = ok(clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json={}))
    for days in (3, 31):
        clinic.book(patient, paris_day(days, 10), plan_id=plan["id"])
    ask = {"patient_id": patient, "plan_id": plan["id"], "sessions": 3}
    proposed = ok(
        clinic.client.post(
            "/api/v1/scheduling/proposals",
            json={**ask, "earliest": paris_day(40, 0).date().isoformat()},
        )
    )
    (last,) = proposed["proposals"]
    assert last["sequence"] == 3
    ok(clinic.try_book(patient, datetime.fromisoformat(last["start"]), plan_id=plan["id"]))
    assert_problem(
        clinic.try_book(patient, paris_day(120, 10), plan_id=plan["id"]), 409, "plan-full"
    )


def only_evaluated_sites_are_treated(clinic: Clinic) -> None:
    patient = clinic.patient()
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    refused = clinic.complete(visit, treated_sites=["left-calf", "left-knee"])
    assert assert_problem(refused, 422, "site-not-evaluated")["sites"] == ["left-knee"]
    assert count_rows(clinic.engine, "completion_records") == 0
    ok(clinic.complete(visit, treated_sites=["left-calf", "right-thigh"]))


def a_reschedule_keeps_the_former_practitioner(clinic: Clinic) -> None:
    colleague = new_practitioner(clinic.client, name="Dr B", availability=EVERY_DAY_7_TO_21)
    visit = clinic.book(clinic.patient(), paris_day(3, 10))
    moved = ok(
        clinic.client.post(
            f"/api/v1/sessions/{visit['id']}/reschedule",
            json={"start": paris_day(4, 10).isoformat(), "practitioner_id": colleague["id"]},
        )
    )
    assert moved["practitioner_id"] == colleague["id"]
    assert moved["history"][-1]["old_practitioner_id"] == clinic.doctor["id"]


def a_finished_plans_notes_keep_their_history(clinic: Clinic) -> None:
    patient = clinic.patient()
    plan = ok(
        clinic.client.post(
            f"/api/v1/patients/{patient}/treatment-plans",
            json={"planned_sessions": 1, "notes": "Matting risk, left knee"},
        )
    )
    clinic.treat(clinic.book(patient, paris_day(3, 10), plan_id=plan["id"]))
    url = f"/api/v1/treatment-plans/{plan['id']}"
    assert ok(clinic.client.get(url))["status"] == "completed"
    ok(clinic.client.patch(url, json={"notes": "Good result"}))
    ok(clinic.client.patch(url, json={"notes": None}))
    events = ok(clinic.client.get("/api/v1/audit-events", params={"resource_id": plan["id"]}))
    changes = [e["changes"] for e in events["items"] if e["action"] == "update"]
    assert changes == [  # newest first
        {"notes": {"old": "Good result", "new": None}},
        {"notes": {"old": "Matting risk, left knee", "new": "Good result"}},
    ]


def fourteen_days_are_counted_where_the_session_takes_place(clinic: Clinic) -> None:
    """The clinic is on Paris time; the practitioner in Kathmandu (UTC+5:45). Tuesday 01:00
    and 13 days later at 23:00 are 14 days apart in Paris, 13 where the sessions happen."""
    kathmandu = ZoneInfo("Asia/Kathmandu")
    far = new_practitioner(
        clinic.client,
        name="Dr K",
        time_zone="Asia/Kathmandu",
        availability=[{"weekday": d, "start": "00:00", "end": "23:59"} for d in range(7)],
    )
    patient = clinic.patient()
    day = datetime.now(kathmandu).date() + timedelta(days=3)
    first = datetime.combine(day, time(1), tzinfo=kathmandu)
    second = datetime.combine(day + timedelta(days=13), time(23), tzinfo=kathmandu)
    assert (second.astimezone(PARIS).date() - first.astimezone(PARIS).date()).days == 14
    ok(clinic.try_book(patient, first, practitioner_id=far["id"]))
    refused = clinic.try_book(patient, second, practitioner_id=far["id"])
    assert_problem(refused, 422, "interval-too-short")
    assert ok(clinic.try_book(patient, second + timedelta(hours=2), practitioner_id=far["id"]))


# The legitimate path -----------------------------------------------------------------------------


def a_same_day_check_in_and_completion_succeed(clinic: Clinic) -> None:
    patient = clinic.patient(weight_kg=70)
    visit = clinic.book(patient, paris_day(3, 10))
    done = clinic.treat(visit)
    assert (done["session"]["status"], done["warnings"]) == ("fulfilled", [])
    assert (done["session"]["needs_review"], done["session"]["review_reasons"]) == (False, [])
    assert clinic.review() == []


FINDINGS: list[Callable[[Clinic], None]] = [
    acute_thrombosis_found_after_booking,
    varicose_veins_found_after_booking,
    relative_flag_not_cleared_then_cleared,
    an_expired_evaluation_stops_treatment_but_not_the_record_of_one_given_in_time,
    a_contraindication_on_record_when_it_was_given_is_not_dated_away,
    a_site_no_longer_evaluated_since_the_stated_time_is_warned_of,
    two_sessions_fourteen_days_apart_cannot_both_be_treated_today,
    the_day_of_a_session_closes_at_midnight,
    a_session_checked_in_early_before_this_rule_still_waits_for_its_day,
    a_new_time_zone_does_not_move_a_booked_sessions_day,
    a_treatment_given_late_flags_the_next_session_too_close,
    a_receptionists_weight_never_raises_the_limit,
    the_latest_clinical_weight_is_used_and_a_lower_one_on_record_wins,
    a_weight_recorded_since_the_stated_time_is_not_dated_away,
    the_patients_record_weight_bounds_the_dose_when_no_clinician_weighed,
    without_a_clinical_weight_the_check_is_reported_not_done,
    an_evaluation_dated_ahead_does_not_outrank_a_later_one,
    an_evaluation_before_the_patient_was_born_is_refused,
    a_backdated_allergy_is_not_ignored,
    a_patient_already_checked_in_is_among_the_affected,
    an_archived_patient_is_not_treated,
    a_treatment_marked_entered_in_error_still_counts,
    same_day_doses_still_count_when_entered_in_error,
    a_practitioner_leaving_or_away_strands_their_bookings,
    shorter_hours_and_a_course_on_hold_strand_their_bookings,
    proposals_offer_no_more_than_the_plan_has_left,
    only_evaluated_sites_are_treated,
    a_reschedule_keeps_the_former_practitioner,
    a_finished_plans_notes_keep_their_history,
    fourteen_days_are_counted_where_the_session_takes_place,
    a_same_day_check_in_and_completion_succeed,
]


@pytest.fixture
def clinic(
    app: FastAPI, client: TestClient, clock: Clock, client_as: ClientFactory, engine: Engine
) -> Clinic:
    return Clinic(app, client, clock, client_as, engine)


@pytest.mark.parametrize("finding", FINDINGS, ids=lambda f: f.__name__)
def test_finding(finding: Callable[[Clinic], None], clinic: Clinic) -> None:
    finding(clinic)
