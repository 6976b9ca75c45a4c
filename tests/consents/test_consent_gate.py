"""A treatment is recorded only while the patient's consent stands: obtained by the moment the
sclerosant was given and not withdrawn by then. Booking needs none, and a withdrawal after the
treatment leaves it recorded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.consents.service import ConsentMissing, require_consent
from tests.factories import (
    FOAM_RISKS,
    RISKS_EXPLAINED,
    assert_problem,
    consented,
    count_rows,
    new_patient,
    table_snapshot,
)
from tests.sessions.clinic import RECORDS, Clinic, foam, line, ok, paris_day, refused_treatment


def _checked_in(clinic: Clinic, patient: str) -> dict[str, Any]:
    """The patient's session on day 3 at 10:00, checked in at 09:50 (the clinic's clock)."""
    visit = clinic.book(patient, paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    return visit


def _unconsented(clinic: Clinic) -> str:
    """An eligible patient (evaluated yesterday) who has signed no consent yet."""
    patient: str = new_patient(clinic.client)["id"]
    clinic.evaluate(patient, performed_at=clinic.clock() - timedelta(days=1), consent=False)
    return patient


def _withdraw(clinic: Clinic, consent: dict[str, Any], at: datetime | None = None) -> Any:
    body = {"withdrawn_at": at.isoformat()} if at else {}
    return ok(clinic.client.post(f"/api/v1/consents/{consent['id']}/withdraw", json=body))


def test_booking_needs_no_consent_and_completion_is_refused_without_one(clinic: Clinic) -> None:
    patient = _unconsented(clinic)
    visit = _checked_in(clinic, patient)  # booked and checked in all the same
    body = refused_treatment(clinic, visit, 409, "consent-missing")
    assert (body["procedure"], body["foam"]) == ("micro-sclerotherapy", False)
    assert "Record the patient's informed consent" in body["detail"]
    # The refusal tells about the patient: it is in the trail, against them.
    denied = clinic.client.get(
        "/api/v1/audit-events", params={"patient_id": patient, "outcome": "denied"}
    ).json()["items"]
    assert [(e["action"], e["resource_id"], e["detail"]) for e in denied] == [
        ("complete", visit["id"], "409 consent-missing")
    ]
    # The happy path: the patient signs, the treatment is recorded.
    consented(clinic.client, patient, clinic.doctor["id"], obtained_at=clinic.clock())
    done = ok(clinic.complete(visit))
    assert done["session"]["status"] == "fulfilled"


def test_a_withdrawn_consent_allows_no_treatment_until_a_new_one_is_signed(
    clinic: Clinic,
) -> None:
    patient = _unconsented(clinic)
    consent = consented(clinic.client, patient, clinic.doctor["id"])
    visit = _checked_in(clinic, patient)
    _withdraw(clinic, consent)
    refused_treatment(clinic, visit, 409, "consent-missing")
    consented(clinic.client, patient, clinic.doctor["id"], obtained_at=clinic.clock())
    assert ok(clinic.complete(visit))["session"]["status"] == "fulfilled"


def test_a_consent_signed_after_the_sclerosant_was_given_does_not_cover_it(
    clinic: Clinic,
) -> None:
    patient = _unconsented(clinic)
    visit = _checked_in(clinic, patient)
    given = clinic.clock() + timedelta(minutes=5)  # 09:55
    clinic.clock.travel_to(given + timedelta(minutes=30))
    signed = given + timedelta(minutes=15)
    consented(clinic.client, patient, clinic.doctor["id"], obtained_at=signed)
    late = clinic.complete(visit, administered_at=given.isoformat())
    assert_problem(late, 409, "consent-missing")
    assert count_rows(clinic.engine, "completion_records") == 0
    # Given once the form was signed: recorded (the form entered later counts from its time).
    done = ok(clinic.complete(visit, administered_at=(given + timedelta(minutes=20)).isoformat()))
    assert done["session"]["status"] == "fulfilled"


def test_a_consent_withdrawn_before_the_sclerosant_was_given_does_not_cover_it(
    clinic: Clinic,
) -> None:
    patient = _unconsented(clinic)
    consent = consented(clinic.client, patient, clinic.doctor["id"])
    visit = _checked_in(clinic, patient)
    checked_in = clinic.clock()
    clinic.clock.travel_to(checked_in + timedelta(hours=1))
    # The patient withdrew at 10:10; the record is written at 10:50.
    _withdraw(clinic, consent, at=checked_in + timedelta(minutes=20))
    for minutes in (30, 20):  # after the withdrawal, and at its very moment
        given = (checked_in + timedelta(minutes=minutes)).isoformat()
        assert_problem(clinic.complete(visit, administered_at=given), 409, "consent-missing")
    # Given at 10:00, while the consent stood: recorded.
    given = (checked_in + timedelta(minutes=10)).isoformat()
    assert ok(clinic.complete(visit, administered_at=given))["session"]["status"] == "fulfilled"


def test_a_withdrawal_after_the_treatment_leaves_it_recorded(clinic: Clinic) -> None:
    patient = _unconsented(clinic)
    consent = consented(clinic.client, patient, clinic.doctor["id"])
    visit = _checked_in(clinic, patient)
    done = ok(clinic.complete(visit))
    clinic.clock.travel_to(clinic.clock() + timedelta(hours=2))
    # Not dated back to the treatment or before it: it was given while the consent stood.
    given_at = datetime.fromisoformat(done["session"]["completion"]["administered_at"])
    url = f"/api/v1/consents/{consent['id']}/withdraw"
    for backdated in (given_at, given_at - timedelta(minutes=1)):
        before = table_snapshot(clinic.engine, "consents")
        answer = clinic.client.post(url, json={"withdrawn_at": backdated.isoformat()})
        problem = assert_problem(answer, 422, "validation-error")
        assert "recorded while this consent stood" in str(problem["errors"])
        assert table_snapshot(clinic.engine, "consents") == before
    withdrawn = _withdraw(clinic, consent, at=given_at + timedelta(minutes=1))
    assert withdrawn["status"] == "withdrawn"
    session = clinic.read(visit)
    assert session["status"] == "fulfilled"
    assert session["completion"] == done["session"]["completion"]
    procedure = clinic.client.get(f"/fhir/R4/Procedure/{visit['id']}")
    assert procedure.json()["status"] == "completed"
    # The next visit, though, waits for a new consent.
    later = clinic.book(patient, paris_day(31, 10))
    clinic.clock.on_the_day_of(later)
    ok(clinic.check_in(later))
    refused_treatment(clinic, later, 409, "consent-missing")


@pytest.fixture
def db(db_sessions: sessionmaker[Session]) -> Iterator[Session]:
    with db_sessions() as session:
        yield session


def test_foam_needs_its_own_risks_explained(clinic: Clinic, db: Session) -> None:
    patient = _unconsented(clinic)
    liquid = consented(clinic.client, patient, clinic.doctor["id"])
    now = clinic.clock()
    patient_id = uuid.UUID(patient)
    assert str(require_consent(db, patient_id, now, foam=False).id) == liquid["id"]
    with pytest.raises(ConsentMissing) as refused:
        require_consent(db, patient_id, now, foam=True)
    assert refused.value.discloses == patient_id
    assert "visual and neurological disturbances" in refused.value.detail
    foam = consented(
        clinic.client,
        patient,
        clinic.doctor["id"],
        obtained_at=now - timedelta(days=2),  # older than the liquid one, and still standing
        risks_explained=[*RISKS_EXPLAINED, *FOAM_RISKS],
    )
    db.rollback()  # a new snapshot: the consent just recorded
    assert str(require_consent(db, patient_id, now, foam=True).id) == foam["id"]
    assert str(require_consent(db, patient_id, now, foam=False).id) == liquid["id"]
    with pytest.raises(ConsentMissing):
        require_consent(db, patient_id, now - timedelta(days=3), foam=False)
    with pytest.raises(ConsentMissing):
        require_consent(db, uuid.uuid4(), now, foam=False)


def test_a_foam_line_needs_a_consent_that_explained_foams_risks(clinic: Clinic) -> None:
    """Over HTTP: a consent without foam's visual and neurological risks covers a liquid
    treatment, not a foam one (409, nothing written); one that explained them covers both."""
    patient = _unconsented(clinic)
    consented(clinic.client, patient, clinic.doctor["id"], obtained_at=clinic.clock())
    visit = _checked_in(clinic, patient)
    lines = (line(), foam(2, site="left-calf"))
    before = table_snapshot(clinic.engine, *RECORDS)
    body = assert_problem(clinic.inject(visit, *lines), 409, "consent-missing")
    assert (body["procedure"], body["foam"]) == ("micro-sclerotherapy", True)
    assert "visual and neurological disturbances" in body["detail"]
    assert table_snapshot(clinic.engine, *RECORDS) == before
    consented(
        clinic.client,
        patient,
        clinic.doctor["id"],
        obtained_at=clinic.clock(),
        risks_explained=[*RISKS_EXPLAINED, *FOAM_RISKS],
    )
    done = ok(clinic.inject(visit, *lines))
    assert [i["form"] for i in done["session"]["completion"]["injections"]] == ["liquid", "foam"]


def test_a_liquid_treatment_needs_no_foam_risks(clinic: Clinic) -> None:
    patient = _unconsented(clinic)
    consented(clinic.client, patient, clinic.doctor["id"], obtained_at=clinic.clock())
    visit = _checked_in(clinic, patient)
    assert ok(clinic.inject(visit, line()))["session"]["status"] == "fulfilled"
