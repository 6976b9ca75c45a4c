"""`/fhir/R4/Flag`: a patient's current eligibility flags as alerts, read and searched with
the REST API's permission for eligibility (never an integration key's) and its audit event."""

from __future__ import annotations

from uuid import uuid4

import pytest

from app.roles import Role
from tests.fhir.clinical import clinic, events_of, ids
from tests.fhir.fhir import BASE, entries, fhir, link, outcome
from tests.sessions.clinic import Clinic, ok

__all__ = ["clinic"]  # fixtures


def test_a_patient_s_flags_are_searched_and_read_again_by_id(clinic: Clinic) -> None:
    patient = clinic.patient(ceap_class="C2", varicose_veins="present")
    bundle = fhir(clinic.client.get(f"{BASE}/Flag", params={"patient": f"Patient/{patient}"}))
    [alert] = entries(bundle)
    assert alert["code"]["coding"][0]["code"] == "varicose-treatment-first"
    assert bundle["total"] == 1
    answer = clinic.client.get(f"{BASE}/Flag/{alert['id']}")
    assert fhir(answer) == alert
    assert answer.headers["etag"] == f'W/"{alert["meta"]["versionId"]}"'
    assert ids(
        fhir(clinic.client.get(f"{BASE}/Flag", params={"patient": patient, "status": "active"}))
    ) == [alert["id"]]
    assert (
        fhir(clinic.client.get(f"{BASE}/Flag", params={"patient": patient, "status": "inactive"}))[
            "total"
        ]
        == 0
    )
    events = [e for e in events_of(clinic.client, patient) if e["action"] == "read-eligibility"]
    assert len(events) == 3
    assert {(e["resource_type"], e["resource_id"]) for e in events} == {("patient", patient)}


def test_a_flag_a_newer_evaluation_no_longer_raises_is_gone(clinic: Clinic) -> None:
    patient = clinic.patient(ceap_class="C2", varicose_veins="present")
    [alert] = entries(fhir(clinic.client.get(f"{BASE}/Flag", params={"patient": patient})))
    treated = {"kind": "endovenous-thermal-ablation", "completed_on": "2026-01-05"}
    clinic.evaluate(patient, ceap_class="C2", varicose_veins="treated", varicose_treatment=treated)
    assert fhir(clinic.client.get(f"{BASE}/Flag", params={"patient": patient}))["total"] == 0
    outcome(clinic.client.get(f"{BASE}/Flag/{alert['id']}"), 404, "not-found")


def test_flags_page_with_count(clinic: Clinic) -> None:
    risks = {"hormonal_contraception": True, "thrombophilia": True, "pregnancy": True}
    patient = clinic.patient(risks=risks)
    everything = ids(fhir(clinic.client.get(f"{BASE}/Flag", params={"patient": patient})))
    assert len(everything) == 3
    page = fhir(clinic.client.get(f"{BASE}/Flag", params={"patient": patient, "_count": 2}))
    following = link(page, "next")
    assert following is not None
    rest = fhir(clinic.client.get(following))
    assert ids(page) + ids(rest) == everything
    assert link(rest, "next") is None


def test_an_unknown_patient_has_no_flags_and_no_read_is_recorded(clinic: Clinic) -> None:
    nobody = str(uuid4())
    assert fhir(clinic.client.get(f"{BASE}/Flag", params={"patient": nobody}))["total"] == 0
    assert events_of(clinic.client, nobody) == []


@pytest.mark.parametrize(
    "flag_id",
    [str(uuid4()), f"{uuid4().hex}-varicose", f"{uuid4().hex}-nothing", "x" * 64, "-"],
)
def test_an_id_naming_no_current_flag_is_a_404(clinic: Clinic, flag_id: str) -> None:
    outcome(clinic.client.get(f"{BASE}/Flag/{flag_id}"), 404, "not-found", "not-found")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": "active"},
        {"patient": "x", "status": "resolved"},
        {"patient": "x", "status": "http://hl7.org/fhir/flag-status|active"},
        {"patient": "x", "code": "varicose-treatment-first"},
        {"patient": "Practitioner/x"},
    ],
)
def test_a_bad_flag_search_is_a_400(clinic: Clinic, params: dict[str, str]) -> None:
    outcome(clinic.client.get(f"{BASE}/Flag", params=params), 400, _code(params))


def _code(params: dict[str, str]) -> str:
    return "unknown-search-parameter" if "code" in params else "invalid-search-parameter"


def test_an_integration_key_may_not_read_flags(clinic: Clinic) -> None:
    patient = clinic.patient(ceap_class="C2", varicose_veins="present")
    integration = clinic.client_as(Role.INTEGRATION)
    refused = integration.get(f"{BASE}/Flag", params={"patient": patient})
    outcome(refused, 403, "forbidden", "forbidden")
    [alert] = entries(fhir(clinic.client.get(f"{BASE}/Flag", params={"patient": patient})))
    outcome(integration.get(f"{BASE}/Flag/{alert['id']}"), 403, "forbidden", "forbidden")
    # The front desk reads eligibility: it sees them.
    desk = clinic.client_as(Role.RECEPTIONIST)
    assert ids(fhir(desk.get(f"{BASE}/Flag", params={"patient": patient}))) == [alert["id"]]
    assert ok(clinic.client.get(f"/api/v1/patients/{patient}/eligibility"))["bookable"] is False
