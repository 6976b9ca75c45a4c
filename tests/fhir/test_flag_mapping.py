"""Flag: a patient's current eligibility flags as alerts, by the rules booking asks, with ids
that find each flag again."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.evaluations.service import current_eligibility, standing_flags
from app.fhir.codes import CodeSystem
from app.fhir.flags import FLAG_CATEGORY, FLAG_KEYS, flag_id, flags, read_flag_id
from app.vocabulary import FlagCode
from tests.fhir.clinical import clinic, db, instant, parsed
from tests.sessions.clinic import Clinic, ok

__all__ = ["clinic", "db"]  # fixtures


def test_every_flag_code_has_its_own_short_key_making_a_fhir_id() -> None:
    assert set(FLAG_KEYS) == set(FlagCode)
    assert len(set(FLAG_KEYS.values())) == len(FLAG_KEYS)
    patient_id = uuid.uuid4()
    for code in FlagCode:
        made = flag_id(patient_id, code)
        assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", made), made
        assert read_flag_id(made) == (patient_id, code)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "varicose",
        f"{uuid.uuid4().hex}-",
        f"{uuid.uuid4().hex}-no-such-flag",
        f"{uuid.uuid4().hex.upper()}-varicose",
        f"{uuid.uuid4()}-varicose",
        f"{uuid.uuid4().hex}-varicose-",
        f"{uuid.uuid4().hex}varicose",
    ],
)
def test_an_id_that_names_no_flag_reads_as_none(text: str) -> None:
    assert read_flag_id(text) is None


def test_untreated_varicose_veins_are_an_alert_found_by_the_evaluating_clinician(
    clinic: Clinic, db: Session
) -> None:
    patient = clinic.patient(ceap_class="C2", varicose_veins="present")
    evaluation = ok(clinic.client.get(f"/api/v1/patients/{patient}/evaluations"))["items"][0]
    standing = standing_flags(db=db, patient_id=uuid.UUID(patient), now=clinic.clock())
    assert standing is not None
    [alert] = flags(standing)
    model = parsed(alert)
    assert model.id == flag_id(uuid.UUID(patient), FlagCode.VARICOSE_TREATMENT_FIRST)
    assert model.status == "active"
    assert model.subject.reference == f"Patient/{patient}"
    assert model.author.reference == f"Practitioner/{clinic.doctor['id']}"
    assert model.period.start == instant(evaluation["performed_at"])
    [coding] = model.code.coding
    assert (coding.system, coding.code) == (CodeSystem.FLAG, "varicose-treatment-first")
    rest = next(f for f in evaluation["flags"] if f["code"] == "varicose-treatment-first")
    assert coding.display == model.code.text == rest["message"]
    categories = {(c.coding[0].system, c.coding[0].code) for c in model.category}
    assert categories == {(FLAG_CATEGORY, "clinical"), (CodeSystem.FLAG_SEVERITY, "blocking")}
    assert model.meta.lastUpdated == instant(evaluation["created_at"])


def test_skin_changes_are_a_relative_alert_for_a_venous_work_up(
    clinic: Clinic, db: Session
) -> None:
    treated = {"kind": "surgery", "completed_on": "2025-09-01"}
    patient = clinic.patient(
        ceap_class="C4cs", varicose_veins="treated", varicose_treatment=treated
    )
    standing = standing_flags(db=db, patient_id=uuid.UUID(patient), now=clinic.clock())
    assert standing is not None
    [alert] = flags(standing)
    model = parsed(alert)
    assert model.id == f"{uuid.UUID(patient).hex}-work-up"
    assert read_flag_id(model.id) == (uuid.UUID(patient), FlagCode.VENOUS_WORK_UP_NEEDED)
    assert (model.code.coding[0].system, model.code.coding[0].code) == (
        CodeSystem.FLAG,
        "venous-work-up-needed",
    )
    categories = {(c.coding[0].system, c.coding[0].code) for c in model.category}
    assert categories == {(FLAG_CATEGORY, "clinical"), (CodeSystem.FLAG_SEVERITY, "relative")}
    assert "duplex" in model.code.text


def test_the_flags_are_the_standing_s_that_booking_asks(clinic: Clinic, db: Session) -> None:
    patient = clinic.patient(
        risks={"hormonal_contraception": True, "sclerosant_allergy": True},
        benefits_and_risks_explained=False,
    )
    now = clinic.clock()
    standing = standing_flags(db=db, patient_id=uuid.UUID(patient), now=now)
    assert standing is not None
    expected = current_eligibility(db=db, patient_id=uuid.UUID(patient), now=now).flags
    alerts = flags(standing)
    for alert in alerts:
        parsed(alert)
    assert [a["code"]["coding"][0]["code"] for a in alerts] == [f.code.value for f in expected]
    severities = {
        a["code"]["coding"][0]["code"]: a["category"][1]["coding"][0]["code"] for a in alerts
    }
    assert severities["sclerosant-allergy"] == "absolute"
    assert severities["hormonal-contraception"] == "relative"
    assert len({a["id"] for a in alerts}) == len(alerts)


def test_an_eligible_patient_has_no_flag_and_an_unknown_one_no_standing(
    clinic: Clinic, db: Session
) -> None:
    patient = clinic.patient()
    standing = standing_flags(db=db, patient_id=uuid.UUID(patient), now=clinic.clock())
    assert standing is not None
    assert flags(standing) == []
    assert standing_flags(db=db, patient_id=uuid.uuid4(), now=clinic.clock()) is None


def test_no_evaluation_yet_is_an_alert_since_the_patient_was_registered(
    clinic: Clinic, db: Session
) -> None:
    patient = ok(clinic.client.post("/api/v1/patients", json=_PERSON))
    standing = standing_flags(db=db, patient_id=uuid.UUID(patient["id"]), now=clinic.clock())
    assert standing is not None
    [alert] = flags(standing)
    model = parsed(alert)
    assert model.code.coding[0].code == "evaluation-missing"
    assert model.period.start == instant(patient["created_at"])
    assert model.author is None


def test_an_expired_evaluation_is_an_alert_from_when_it_expired(
    clinic: Clinic, db: Session
) -> None:
    patient = clinic.patient(ceap_class="C2", varicose_veins="present")
    evaluation = ok(clinic.client.get(f"/api/v1/patients/{patient}/evaluations"))["items"][0]
    expired = instant(evaluation["valid_until"])
    standing = standing_flags(db=db, patient_id=uuid.UUID(patient), now=expired + timedelta(days=1))
    assert standing is not None
    alerts = {a["code"]["coding"][0]["code"]: parsed(a) for a in flags(standing)}
    assert set(alerts) == {"evaluation-expired", "varicose-treatment-first"}
    assert alerts["evaluation-expired"].period.start == expired
    assert alerts["evaluation-expired"].author is None
    # What the old evaluation found still stands, found by its clinician.
    assert alerts["varicose-treatment-first"].author.reference.endswith(clinic.doctor["id"])
    assert alerts["evaluation-expired"].meta.lastUpdated == expired


def test_an_archived_patient_is_an_administrative_alert(clinic: Clinic, db: Session) -> None:
    patient = clinic.patient()
    archived = ok(clinic.client.delete(f"/api/v1/patients/{patient}"))
    standing = standing_flags(db=db, patient_id=uuid.UUID(patient), now=clinic.clock())
    assert standing is not None
    [alert] = flags(standing)
    model = parsed(alert)
    assert model.code.coding[0].code == "patient-archived"
    assert model.category[0].coding[0].code == "admin"
    assert model.period.start == instant(archived["archived_at"])


def test_a_flag_s_version_follows_what_it_says(clinic: Clinic, db: Session) -> None:
    patient = clinic.patient(ceap_class="C2", varicose_veins="present")
    first = standing_flags(db=db, patient_id=uuid.UUID(patient), now=clinic.clock())
    again = standing_flags(db=db, patient_id=uuid.UUID(patient), now=clinic.clock())
    assert first is not None
    assert again is not None
    assert flags(first) == flags(again)
    db.rollback()  # a new transaction: it sees the next evaluation
    clinic.evaluate(patient, ceap_class="C3", varicose_veins="present")
    later = standing_flags(db=db, patient_id=uuid.UUID(patient), now=clinic.clock())
    assert later is not None
    [before], [after] = flags(first), flags(later)
    assert before["id"] == after["id"]
    assert before["meta"]["versionId"] != after["meta"]["versionId"]
    assert instant(after["meta"]["lastUpdated"]) > instant(before["meta"]["lastUpdated"])


_PERSON = {"given_name": "Ana", "family_name": "Lima", "birth_date": "1990-05-01", "sex": "female"}
