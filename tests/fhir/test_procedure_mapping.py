"""Procedure: each completed session's treatment record as FHIR R4 writes it, and the treated
sessions a Procedure search finds."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.fhir.codes import CodeSystem
from app.fhir.procedures import (
    UCUM,
    Extension,
    find_treated_sessions,
    get_treated_session,
    procedure,
)
from tests.fhir.clinical import clinic, db, instant, parsed
from tests.sessions.clinic import Clinic, foam, line, ok, paris_day

__all__ = ["clinic", "db"]  # fixtures

RECORD = {
    "treated_sites": ["left-calf", "right-thigh"],
    "sclerosant": "polidocanol",
    "concentration_percent": 0.5,
    "volume_ml": 4,
    "anaesthetic": "topical",
    "compression": True,
    "complications": ["pain"],
    "aftercare": ["walk", "avoid-hot-baths"],
    "notes": "Tolerated well",
}


def _extension(resource: dict[str, Any], url: str) -> Any:
    [found] = [e for e in resource["extension"] if e["url"] == url]
    return found


def test_a_completed_session_is_a_procedure_with_its_treatment_record(
    clinic: Clinic, db: Session
) -> None:
    patient = clinic.patient(weight_kg=70)
    plan = ok(clinic.client.post(f"/api/v1/patients/{patient}/treatment-plans", json={}))
    visit = clinic.book(patient, paris_day(3, 10), plan_id=plan["id"])
    done = clinic.treat(visit, **RECORD)["session"]
    session, record = get_treated_session(db=db, session_id=uuid.UUID(visit["id"]))
    resource = procedure(session, record)
    model = parsed(resource)
    assert (model.id, model.status) == (visit["id"], "completed")
    assert model.subject.reference == f"Patient/{patient}"
    assert [p.actor.reference for p in model.performer] == [f"Practitioner/{clinic.doctor['id']}"]
    assert model.performedDateTime == instant(done["completion"]["administered_at"])
    assert [b.coding[0].code for b in model.bodySite] == ["left-calf", "right-thigh"]
    assert {b.coding[0].system for b in model.bodySite} == {CodeSystem.SITE}
    used = {(u.coding[0].system, u.coding[0].code) for u in model.usedCode}
    assert used == {(CodeSystem.SCLEROSANT, "polidocanol"), (CodeSystem.ANAESTHETIC, "topical")}
    assert [(c.coding[0].system, c.coding[0].code) for c in model.complication] == [
        (CodeSystem.COMPLICATION, "pain")
    ]
    assert [f.coding[0].code for f in model.followUp] == ["walk", "avoid-hot-baths"]
    assert [n.text for n in model.note] == ["Tolerated well"]
    assert [b.reference for b in model.basedOn] == [f"CarePlan/{plan['id']}"]
    concentration = _extension(resource, Extension.CONCENTRATION)["valueQuantity"]
    assert concentration == {"value": 0.5, "unit": "%", "system": UCUM, "code": "%"}
    volume = _extension(resource, Extension.VOLUME)["valueQuantity"]
    assert (volume["value"], volume["code"]) == (4, "mL")
    dose = _extension(resource, Extension.DOSE)["valueQuantity"]
    assert (dose["value"], dose["code"]) == (done["completion"]["dose_mg"], "mg") == (20, "mg")
    assert _extension(resource, Extension.COMPRESSION)["valueBoolean"] is True
    assert model.meta.versionId == str(done["version"])


def _parts(injection: dict[str, Any]) -> dict[str, Any]:
    """An `injection` extension's parts by name, each its value."""
    return {
        part["url"]: next(v for k, v in part.items() if k.startswith("value"))
        for part in injection["extension"]
    }


def test_each_line_of_injections_is_an_extension_of_the_procedure(
    clinic: Clinic, db: Session
) -> None:
    visit = clinic.book(clinic.patient(weight_kg=70), paris_day(3, 10))
    clinic.clock.on_the_day_of(visit)
    ok(clinic.check_in(visit))
    sts = line(site="right-thigh", sclerosant="sodium-tetradecyl-sulfate", volume_ml=1, count=5)
    ok(clinic.inject(visit, line(), foam(2.5, site="right-thigh"), sts))
    resource = procedure(*get_treated_session(db=db, session_id=uuid.UUID(visit["id"])))
    model = parsed(resource)
    assert [b.coding[0].code for b in model.bodySite] == ["left-calf", "right-thigh"]
    assert [u.coding[0].code for u in model.usedCode] == [
        "polidocanol",
        "sodium-tetradecyl-sulfate",
    ]
    urls = [e["url"] for e in resource["extension"]]
    # Several lines: no single concentration, volume or dose is true of the procedure.
    assert urls == [Extension.COMPRESSION] + [Extension.INJECTION] * 3
    spider, foamed, other = (_parts(e) for e in resource["extension"][1:])
    assert spider["site"]["coding"] == [{"system": CodeSystem.SITE, "code": "left-calf"}]
    assert spider["vessel"]["coding"] == [{"system": CodeSystem.VESSEL, "code": "telangiectasia"}]
    assert spider["form"]["coding"][0] == {"system": CodeSystem.SCLEROSANT_FORM, "code": "liquid"}
    assert spider["concentration"] == {"value": 0.5, "unit": "%", "system": UCUM, "code": "%"}
    assert (spider["volume"]["value"], spider["volume"]["code"]) == (2, "mL")
    assert (spider["dose"]["value"], spider["dose"]["code"]) == (10, "mg")
    assert spider["count"] == 10
    assert "foamRatio" not in spider
    assert "gas" not in spider
    assert foamed["foamRatio"] == {"numerator": {"value": 1}, "denominator": {"value": 4}}
    assert foamed["gas"]["coding"] == [{"system": CodeSystem.FOAM_GAS, "code": "co2-o2"}]
    assert (foamed["volume"]["value"], foamed["dose"]["value"]) == (2.5, 5)  # its liquid: 0.5 mL
    assert other["sclerosant"]["coding"][0]["code"] == "sodium-tetradecyl-sulfate"
    # The search reads the same lines from the calendar's rows.
    found, _ = find_treated_sessions(
        db=db,
        now=clinic.clock(),
        patient_id=uuid.UUID(visit["patient_id"]),
        given_from=None,
        given_before=None,
        limit=50,
        cursor=None,
    )
    assert [procedure(*treated) for treated in found] == [resource]


def test_a_record_of_one_line_without_a_site_keeps_its_procedure_figures(
    clinic: Clinic, db: Session
) -> None:
    visit = clinic.book(clinic.patient(), paris_day(3, 10))
    clinic.treat(visit)  # the single-agent body
    resource = procedure(*get_treated_session(db=db, session_id=uuid.UUID(visit["id"])))
    parsed(resource)
    [injection] = [e for e in resource["extension"] if e["url"] == Extension.INJECTION]
    parts = _parts(injection)
    assert set(parts) == {"sclerosant", "concentration", "form", "volume", "dose"}
    assert _extension(resource, Extension.DOSE)["valueQuantity"]["value"] == parts["dose"]["value"]


def test_a_plain_record_leaves_out_what_was_not_done(clinic: Clinic, db: Session) -> None:
    visit = clinic.book(clinic.patient(), paris_day(3, 10))
    clinic.treat(visit)
    resource = procedure(*get_treated_session(db=db, session_id=uuid.UUID(visit["id"])))
    parsed(resource)
    assert [u["coding"][0]["code"] for u in resource["usedCode"]] == ["polidocanol"]
    for absent in ("complication", "note", "basedOn"):
        assert absent not in resource
    assert _extension(resource, Extension.COMPRESSION)["valueBoolean"] is False


def test_a_treatment_marked_entered_in_error_stays_a_procedure_in_error(
    clinic: Clinic, db: Session
) -> None:
    visit = clinic.book(clinic.patient(), paris_day(3, 10))
    clinic.treat(visit)
    ok(
        clinic.client.post(
            f"/api/v1/sessions/{visit['id']}/entered-in-error", json={"reason": "Wrong chart"}
        )
    )
    model = parsed(procedure(*get_treated_session(db=db, session_id=uuid.UUID(visit["id"]))))
    assert model.status == "entered-in-error"


def test_a_session_never_treated_is_no_procedure(clinic: Clinic, db: Session) -> None:
    booked = clinic.book(clinic.patient(), paris_day(3, 10))
    wrong = clinic.book(clinic.patient(), paris_day(3, 12))
    ok(
        clinic.client.post(
            f"/api/v1/sessions/{wrong['id']}/entered-in-error", json={"reason": "Duplicate"}
        )
    )
    for session_id in (booked["id"], wrong["id"], str(uuid.uuid4())):
        with pytest.raises(NotFound):
            get_treated_session(db=db, session_id=uuid.UUID(session_id))
    found, _ = find_treated_sessions(
        db=db,
        now=clinic.clock(),
        patient_id=None,
        given_from=None,
        given_before=None,
        limit=50,
        cursor=None,
    )
    assert found == []


def test_a_search_finds_treatments_by_patient_and_when_they_were_given(
    clinic: Clinic, db: Session
) -> None:
    patient, other = clinic.patient(), clinic.patient()
    first = clinic.book(patient, paris_day(3, 10))
    second = clinic.book(patient, paris_day(31, 10))
    elsewhere = clinic.book(other, paris_day(3, 12))
    untreated = clinic.book(other, paris_day(40, 10))
    given = {}
    for visit in (first, elsewhere, second):
        done = clinic.treat(visit)["session"]
        given[visit["id"]] = instant(done["completion"]["administered_at"])

    def found(**search: Any) -> list[str]:
        page, _ = find_treated_sessions(
            db=db,
            now=clinic.clock(),
            limit=50,
            cursor=None,
            **{"patient_id": None, "given_from": None, "given_before": None, **search},
        )
        for session, record in page:
            parsed(procedure(session, record))
        return [str(session.id) for session, _ in page]

    assert found() == [first["id"], elsewhere["id"], second["id"]]
    assert untreated["id"] not in found()
    assert found(patient_id=uuid.UUID(patient)) == [first["id"], second["id"]]
    at = given[first["id"]]
    assert found(given_from=at, given_before=at + timedelta(microseconds=1)) == [first["id"]]
    assert found(given_from=at + timedelta(microseconds=1)) == [elsewhere["id"], second["id"]]
    assert found(given_before=given[second["id"]]) == [first["id"], elsewhere["id"]]
