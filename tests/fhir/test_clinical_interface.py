"""The clinical resources as the interface declares them: listed in the CapabilityStatement with
exactly the search parameters their routes take, each needing the REST API's permission for
the same records, and no input, however odd, answered with a 500."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from app.fhir import appointments, care_plans, flags, procedures
from app.roles import GRANTS, Permission, Role
from app.vocabulary import SessionStatus
from tests.fhir.clinical import clinic
from tests.fhir.fhir import BASE, fhir, outcome
from tests.sessions.clinic import Clinic, paris_day

__all__ = ["clinic"]  # fixtures

MODULES = (appointments, care_plans, flags, procedures)
PERMISSIONS = {
    "Appointment": Permission.SESSIONS_READ,
    "CarePlan": Permission.PLANS_READ,
    "Flag": Permission.EVALUATIONS_READ_OUTCOME,
    "Procedure": Permission.CLINICAL_READ,
}


def test_the_capability_statement_lists_each_resource_s_reads_and_searches(
    anonymous: TestClient,
) -> None:
    statement = fhir(anonymous.get(f"{BASE}/metadata"))
    listed = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for module in MODULES:
        kind = module.READ.resource
        assert module.SEARCH.resource == kind
        entry = listed[kind]
        # An Appointment is also updated (cancelled): `test_operations` holds that.
        updated = [{"code": "update"}] if kind == "Appointment" else []
        assert entry["interaction"] == [{"code": "read"}, {"code": "search-type"}, *updated]
        declared = [(p.name, p.type) for p in module.SEARCH.search]
        assert [(p["name"], p["type"]) for p in entry["searchParam"]] == declared
        assert all(p["documentation"] for p in entry["searchParam"])
    assert [p.name for p in appointments.SEARCH.search] == [
        "patient",
        "practitioner",
        "date",
        "status",
    ]
    assert [p.name for p in procedures.SEARCH.search] == ["patient", "date"]
    assert [p.name for p in care_plans.SEARCH.search] == ["patient", "status"]
    assert [p.name for p in flags.SEARCH.search] == ["patient", "status"]


def test_the_readme_s_status_tables_are_the_mappings() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Connecting an EHR")[1].split("\n## ")[0]
    rows = dict(re.findall(r"^\s*\| ([^|]+?) \| `?([a-z-]+|the same)`? \|$", section, re.M))
    for status, shown in care_plans.CARE_PLAN_STATUS.items():
        assert rows[status.value] == shown
    same = "booked, arrived, fulfilled, cancelled, noshow, entered-in-error"
    assert rows[same] == "the same"
    for status, shown in appointments.APPOINTMENT_STATUS.items():
        if status is SessionStatus.PENDING:
            assert rows["a hold (`$hold`, `POST /api/v1/holds`) not yet expired"] == shown
        else:
            assert (status.value in same.split(", "), shown) == (True, status.value)
    for status, shown in procedures.PROCEDURE_STATUS.items():
        assert [v for k, v in rows.items() if k.startswith(status.value)] == [shown]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_reads_what_the_rest_api_lets_it_read(clinic: Clinic, role: Role) -> None:
    patient = clinic.patient(ceap_class="C2", varicose_veins="present")
    caller = clinic.client_as(role)
    for kind, permission in PERMISSIONS.items():
        params = {"patient": patient}
        answer = caller.get(f"{BASE}/{kind}", params=params)
        if permission in GRANTS[role]:
            assert fhir(answer)["type"] == "searchset"
        else:
            body = outcome(answer, 403, "forbidden", "forbidden")
            assert permission.value in body["issue"][0]["diagnostics"]
    # As the README's table says: an integration key reads appointments and plans only.
    allowed = {k for k, p in PERMISSIONS.items() if p in GRANTS[Role.INTEGRATION]}
    assert allowed == {"Appointment", "CarePlan"}


def test_no_credential_is_a_401(anonymous: TestClient) -> None:
    for kind in PERMISSIONS:
        outcome(anonymous.get(f"{BASE}/{kind}"), 401, "authentication-required", "login")
        outcome(anonymous.get(f"{BASE}/{kind}/{uuid4()}"), 401, "authentication-required")


ODD = [
    "",
    " ",
    "%",
    "\u00e9",
    "Patient/",
    "/",
    "ge",
    "le2027",
    "eq2027-01",
    "gt2027-01-04T25:00:00Z",
    "2027-01-04T09:00:00+25:00",
    "lt0001-01-01",
    "ge9999-12-31",
    "2027-01-04T09:00:00.1234567890Z",
    "a|b|c",
    "|",
    "booked,,",
    "\\,",
    "x" * 400,
    str(uuid4()).upper(),
    "Patient/" + "9" * 64,
]


@pytest.mark.parametrize("kind", sorted(PERMISSIONS))
def test_no_odd_value_of_any_parameter_is_a_500(clinic: Clinic, kind: str) -> None:
    clinic.book(clinic.patient(), paris_day(3, 10))
    module = {m.READ.resource: m for m in MODULES}[kind]
    names = [p.name for p in module.SEARCH.search]
    for name in names:
        for value in ODD:
            params: dict[str, Any] = {name: value}
            if kind == "Flag" and name != "patient":
                params["patient"] = str(uuid4())
            answer = clinic.client.get(f"{BASE}/{kind}", params=params)
            assert answer.status_code in (200, 400), (name, value, answer.text)
            fhir(answer, answer.status_code)
    for odd in ["x", "-", "..a", "9" * 64, str(uuid4()), f"{uuid4().hex}-x"]:
        answer = clinic.client.get(f"{BASE}/{kind}/{odd}")
        assert answer.status_code == 404, (odd, answer.text)
        fhir(answer, 404)
