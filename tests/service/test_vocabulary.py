"""One clinical vocabulary: declared once in `app.vocabulary`, and everything else agrees."""

from __future__ import annotations

import enum
import re

from fastapi.testclient import TestClient

from app.evaluations.schemas import RiskFactors
from app.vocabulary import (
    COUNSELLING_INCOMPLETE,
    FACE_ONLY,
    RISK_FACTORS,
    VARICOSE_RECURRENT,
    VARICOSE_TREATMENT_FIRST,
    VENOUS_WORK_UP_NEEDED,
    Aftercare,
    Anaesthetic,
    Complication,
    ConsentProcedure,
    ConsentRisk,
    ConsentStatus,
    EligibilityOutcome,
    FlagCode,
    FoamGas,
    FreedSlotStatus,
    NextVisitStatus,
    NoNextVisit,
    OfferStatus,
    Outcome,
    PlanStatus,
    RemovalAsked,
    ReviewComplication,
    RiskFactor,
    Sclerosant,
    SclerosantForm,
    SessionStatus,
    Severity,
    Site,
    SlotFreedBy,
    TreatmentResponse,
    VaricoseTreatmentKind,
    VaricoseVeins,
    Vessel,
    WaitlistRemoval,
    WaitlistStatus,
)
from tests.servers import ROOT

KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CODE_VOCABULARIES: list[type[enum.StrEnum]] = [
    Site,
    VaricoseVeins,
    VaricoseTreatmentKind,
    Severity,
    FlagCode,
    Outcome,
    EligibilityOutcome,
    Sclerosant,
    Vessel,
    SclerosantForm,
    FoamGas,
    Anaesthetic,
    Complication,
    TreatmentResponse,
    ReviewComplication,
    Aftercare,
    PlanStatus,
    SessionStatus,
    ConsentProcedure,
    ConsentRisk,
    ConsentStatus,
    NextVisitStatus,
    NoNextVisit,
    WaitlistStatus,
    WaitlistRemoval,
    RemovalAsked,
    OfferStatus,
    FreedSlotStatus,
    SlotFreedBy,
]


def test_code_values_are_kebab_case() -> None:
    for vocabulary in CODE_VOCABULARIES:
        for member in vocabulary:
            assert KEBAB.match(member.value), f"{vocabulary.__name__}.{member.name}"


def test_the_clinic_gives_every_removal_reason_but_the_server_s_own() -> None:
    asked = {reason.value for reason in RemovalAsked}
    assert asked == {r.value for r in WaitlistRemoval} - {WaitlistRemoval.PATIENT_ARCHIVED}
    assert all(RemovalAsked[r.name] == r for r in WaitlistRemoval if r.value in asked)


def test_fhir_spells_no_show_as_noshow() -> None:
    # The one code that is not two words: it is FHIR's AppointmentStatus code as written.
    assert SessionStatus.NOSHOW.value == "noshow"


def test_a_risk_factor_raises_the_flag_of_its_own_words() -> None:
    severities = [entry.flag.severity for entry in RISK_FACTORS.values()]
    assert severities == sorted(severities, key=[Severity.ABSOLUTE, Severity.RELATIVE].index)
    assert set(RISK_FACTORS) == set(RiskFactor)
    for factor, entry in RISK_FACTORS.items():
        assert factor.value == entry.flag.code.value.replace("-", "_")
        assert entry.flag.severity in (Severity.ABSOLUTE, Severity.RELATIVE)
        assert entry.question


def test_the_request_schema_asks_every_risk_factor_in_the_vocabulary_s_words(
    client: TestClient,
) -> None:
    assert list(RiskFactors.model_fields) == [factor.value for factor in RiskFactor]
    schema = client.get("/openapi.json").json()["components"]["schemas"]["RiskFactors"]
    assert list(schema["properties"]) == [factor.value for factor in RiskFactor]
    for factor, entry in RISK_FACTORS.items():
        assert schema["properties"][factor.value]["description"] == entry.question


def test_the_readme_flag_table_is_the_vocabulary() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([a-z-]+)` \| (absolute|relative|blocking)[^|]*\|", readme, re.M)
    evaluation_flags = [
        VARICOSE_TREATMENT_FIRST,
        VARICOSE_RECURRENT,
        VENOUS_WORK_UP_NEEDED,
        FACE_ONLY,
        COUNSELLING_INCOMPLETE,
        *(entry.flag for entry in RISK_FACTORS.values()),
    ]
    expected = {(f.code.value, f.severity.value) for f in evaluation_flags}
    expected.add((FlagCode.RISK_FACTOR_UNKNOWN.value, Severity.BLOCKING.value))
    assert set(rows) == expected
    assert len(rows) == len(expected)


def test_every_flag_code_is_declared_once() -> None:
    values = [code.value for code in FlagCode]
    assert len(values) == len(set(values))
