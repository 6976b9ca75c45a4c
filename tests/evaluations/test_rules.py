"""The eligibility rules, one by one and in combination, with no database or HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.evaluations.ceap import CeapFinding
from app.evaluations.rules import (
    Assessment,
    EvaluationFacts,
    assess,
    outcome_after_clearance,
    valid_until,
)
from app.vocabulary import (
    CeapClass,
    CeapModifier,
    Outcome,
    RiskFactor,
    Severity,
    Site,
    VaricoseVeins,
)

NO_RISKS = dict.fromkeys(RiskFactor, False)
CLEAN = EvaluationFacts(
    sites=frozenset({Site.LEFT_CALF, Site.RIGHT_THIGH}),
    ceap=CeapFinding(CeapClass.C1),
    varicose_veins=VaricoseVeins.ABSENT,
    varicose_treatment_recorded=False,
    risk_factors=NO_RISKS,
    benefits_and_risks_explained=True,
)


def facts(**changes: object) -> EvaluationFacts:
    risks = {**NO_RISKS, **changes.pop("risks", {})}  # type: ignore[dict-item]
    return replace(CLEAN, risk_factors=risks, **changes)  # type: ignore[arg-type]


def codes(assessment: Assessment) -> list[tuple[str, str]]:
    return [(f.code, f.severity.value) for f in assessment.flags]


def test_a_clean_evaluation_is_eligible_with_no_flags() -> None:
    assert assess(CLEAN) == Assessment(flags=(), outcome=Outcome.ELIGIBLE)


@pytest.mark.parametrize(
    ("changes", "flags", "outcome"),
    [
        # varicose-treatment-first
        (
            {"varicose_veins": VaricoseVeins.PRESENT},
            [("varicose-treatment-first", "blocking")],
            "varicose-treatment-first",
        ),
        (
            {"varicose_veins": VaricoseVeins.PRESENT, "varicose_treatment_recorded": True},
            [("varicose-treatment-first", "blocking")],
            "varicose-treatment-first",
        ),
        (
            {"ceap": CeapFinding(CeapClass.C2)},
            [("varicose-treatment-first", "blocking")],
            "varicose-treatment-first",
        ),
        (
            {"ceap": CeapFinding(CeapClass.C6)},
            [("varicose-treatment-first", "blocking"), ("venous-work-up-needed", "relative")],
            "varicose-treatment-first",
        ),
        # venous-work-up-needed (every class, modifier and varicose state: test_ceap_rules.py)
        (
            {
                "ceap": CeapFinding(CeapClass.C4),
                "varicose_veins": VaricoseVeins.TREATED,
                "varicose_treatment_recorded": True,
            },
            [("venous-work-up-needed", "relative")],
            "clearance-required",
        ),
        ({"ceap": CeapFinding(CeapClass.C0)}, [], "eligible"),
        (
            {"varicose_veins": VaricoseVeins.TREATED, "varicose_treatment_recorded": True},
            [],
            "eligible",
        ),
        # facial-veins-excluded
        (
            {"sites": frozenset({Site.FACE})},
            [("facial-veins-excluded", "blocking")],
            "not-suitable",
        ),
        (
            # Blocking for the face only: the legs may still be treated.
            {"sites": frozenset({Site.FACE, Site.LEFT_KNEE})},
            [("facial-veins-excluded", "blocking")],
            "eligible",
        ),
        # counselling-incomplete
        (
            {"benefits_and_risks_explained": False},
            [("counselling-incomplete", "blocking")],
            "incomplete",
        ),
        # relative contraindications, each on its own
        (
            {"risks": {RiskFactor.HORMONAL_CONTRACEPTION: True}},
            [("hormonal-contraception", "relative")],
            "clearance-required",
        ),
        (
            {"risks": {RiskFactor.HISTORY_OF_BLOOD_CLOTS: True}},
            [("history-of-blood-clots", "relative")],
            "clearance-required",
        ),
        (
            {"risks": {RiskFactor.THROMBOPHILIA: True}},
            [("thrombophilia", "relative")],
            "clearance-required",
        ),
        (
            {"risks": {RiskFactor.HORMONE_REPLACEMENT_THERAPY: True}},
            [("hormone-replacement-therapy", "relative")],
            "clearance-required",
        ),
        (
            {"risks": {RiskFactor.PREGNANCY: True}},
            [("pregnancy", "relative")],
            "clearance-required",
        ),
        (
            {"risks": {RiskFactor.BREASTFEEDING: True}},
            [("breastfeeding", "relative")],
            "clearance-required",
        ),
        (
            {"risks": {RiskFactor.PERIPHERAL_ARTERIAL_DISEASE: True}},
            [("peripheral-arterial-disease", "relative")],
            "clearance-required",
        ),
        # absolute contraindications, each on its own
        (
            {"risks": {RiskFactor.SCLEROSANT_ALLERGY: True}},
            [("sclerosant-allergy", "absolute")],
            "contraindicated",
        ),
        (
            {"risks": {RiskFactor.ACUTE_THROMBOSIS: True}},
            [("acute-thrombosis", "absolute")],
            "contraindicated",
        ),
        (
            {"risks": {RiskFactor.LOCAL_INFECTION: True}},
            [("local-infection", "absolute")],
            "contraindicated",
        ),
        ({"risks": {RiskFactor.IMMOBILITY: True}}, [("immobility", "absolute")], "contraindicated"),
        (
            {"risks": {RiskFactor.RIGHT_TO_LEFT_SHUNT: True}},
            [("right-to-left-shunt", "absolute")],
            "contraindicated",
        ),
        # risk-factor-unknown
        (
            {"risks": {RiskFactor.PREGNANCY: None}},
            [("risk-factor-unknown", "blocking")],
            "incomplete",
        ),
    ],
)
def test_each_rule(changes: dict[str, object], flags: list[tuple[str, str]], outcome: str) -> None:
    assessment = assess(facts(**changes))
    assert codes(assessment) == flags
    assert assessment.outcome == outcome


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        # contraindicated > not-suitable > varicose-treatment-first > incomplete > clearance-req.
        (
            {
                "sites": frozenset({Site.FACE}),
                "varicose_veins": VaricoseVeins.PRESENT,
                "risks": {RiskFactor.IMMOBILITY: True},
            },
            "contraindicated",
        ),
        (
            {
                "sites": frozenset({Site.FACE}),
                "varicose_veins": VaricoseVeins.PRESENT,
                "benefits_and_risks_explained": False,
            },
            "not-suitable",
        ),
        (
            {
                "varicose_veins": VaricoseVeins.PRESENT,
                "benefits_and_risks_explained": False,
                "risks": {RiskFactor.PREGNANCY: True},
            },
            "varicose-treatment-first",
        ),
        (
            {
                "benefits_and_risks_explained": False,
                "risks": {RiskFactor.HORMONAL_CONTRACEPTION: True},
            },
            "incomplete",
        ),
        (
            {"risks": {RiskFactor.THROMBOPHILIA: None, RiskFactor.HORMONAL_CONTRACEPTION: True}},
            "incomplete",
        ),
        (
            {
                "risks": {
                    RiskFactor.HORMONAL_CONTRACEPTION: True,
                    RiskFactor.HISTORY_OF_BLOOD_CLOTS: True,
                }
            },
            "clearance-required",
        ),
        (
            {
                "sites": frozenset({Site.FACE, Site.LEFT_CALF}),
                "risks": {RiskFactor.BREASTFEEDING: True},
            },
            "clearance-required",
        ),
        (
            {"ceap": CeapFinding(CeapClass.C3), "risks": {RiskFactor.LOCAL_INFECTION: True}},
            "contraindicated",
        ),
    ],
)
def test_outcome_precedence(changes: dict[str, object], outcome: str) -> None:
    assert assess(facts(**changes)).outcome == outcome


@pytest.mark.parametrize(
    "changes",
    [
        {"risks": {RiskFactor.HORMONAL_CONTRACEPTION: True}},
        {"risks": {RiskFactor.PREGNANCY: None}},
        {"benefits_and_risks_explained": False},
        {"ceap": CeapFinding(CeapClass.C2)},
    ],
)
def test_face_only_is_not_suitable_whatever_else_is_found(changes: dict[str, object]) -> None:
    assert assess(facts(sites=frozenset({Site.FACE}), **changes)).outcome == "not-suitable"


@pytest.mark.parametrize("factor", list(RiskFactor))
def test_each_unknown_risk_factor_keeps_the_evaluation_incomplete(factor: RiskFactor) -> None:
    assessment = assess(facts(risks={factor: None}))
    assert codes(assessment) == [("risk-factor-unknown", "blocking")]
    assert factor.value in assessment.flags[0].message
    assert assessment.outcome == "incomplete"


def test_all_flags_are_reported_together_not_just_the_strongest() -> None:
    assessment = assess(
        facts(
            sites=frozenset({Site.FACE, Site.LEFT_CALF}),
            ceap=CeapFinding(CeapClass.C2),
            benefits_and_risks_explained=False,
            risks={
                RiskFactor.HORMONAL_CONTRACEPTION: True,
                RiskFactor.SCLEROSANT_ALLERGY: True,
                RiskFactor.PREGNANCY: None,
            },
        )
    )
    assert [f.code for f in assessment.flags] == [
        "varicose-treatment-first",
        "facial-veins-excluded",
        "counselling-incomplete",
        "risk-factor-unknown",
        "sclerosant-allergy",
        "hormonal-contraception",
    ]
    assert "pregnancy" in assessment.flags[3].message


def test_unknown_risk_factors_are_named() -> None:
    flag = assess(replace(CLEAN, risk_factors={})).flags[0]
    assert flag.code == "risk-factor-unknown"
    for factor in RiskFactor:
        assert factor.value in flag.message


@pytest.mark.parametrize(
    ("changes", "clearable", "cleared_outcome"),
    [
        ({"risks": {RiskFactor.HORMONAL_CONTRACEPTION: True}}, True, "eligible"),
        (
            {"risks": {RiskFactor.HISTORY_OF_BLOOD_CLOTS: True, RiskFactor.PREGNANCY: True}},
            True,
            "eligible",
        ),
        (
            {
                "sites": frozenset({Site.FACE, Site.RIGHT_CALF}),
                "risks": {RiskFactor.THROMBOPHILIA: True},
            },
            True,
            "eligible",
        ),
        (
            {"risks": {RiskFactor.HORMONAL_CONTRACEPTION: True, RiskFactor.IMMOBILITY: True}},
            False,
            "contraindicated",
        ),
        (
            {
                "risks": {RiskFactor.HORMONAL_CONTRACEPTION: True},
                "benefits_and_risks_explained": False,
            },
            False,
            "incomplete",
        ),
        ({"varicose_veins": VaricoseVeins.PRESENT}, False, "varicose-treatment-first"),
        ({"sites": frozenset({Site.FACE})}, False, "not-suitable"),
        ({}, False, "eligible"),
    ],
)
def test_clearance_lifts_relative_contraindications_only(
    changes: dict[str, object], clearable: bool, cleared_outcome: str
) -> None:
    assessment = assess(facts(**changes))
    assert assessment.clearable is clearable
    assert outcome_after_clearance(assessment, cleared=False) == assessment.outcome
    assert outcome_after_clearance(assessment, cleared=True) == cleared_outcome


@pytest.mark.parametrize(
    ("performed", "months", "expected"),
    [
        (datetime(2026, 3, 15, 9, 30, tzinfo=UTC), 12, datetime(2027, 3, 15, 9, 30, tzinfo=UTC)),
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2027, 12, 31, tzinfo=UTC), 2, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2028, 2, 29, tzinfo=UTC), 12, datetime(2029, 2, 28, tzinfo=UTC)),
        (datetime(2026, 11, 30, tzinfo=UTC), 3, datetime(2027, 2, 28, tzinfo=UTC)),
    ],
)
def test_valid_until_adds_calendar_months(
    performed: datetime, months: int, expected: datetime
) -> None:
    assert valid_until(performed, months=months) == expected


risk_values = st.sampled_from([True, False, None])


@given(
    sites=st.frozensets(st.sampled_from(list(Site)), min_size=1),
    ceap=st.builds(
        CeapFinding, st.sampled_from(list(CeapClass)), st.sampled_from([None, *CeapModifier])
    ),
    varicose=st.sampled_from(list(VaricoseVeins)),
    treated=st.booleans(),
    risks=st.fixed_dictionaries(dict.fromkeys(RiskFactor, risk_values)),
    counselled=st.booleans(),
)
def test_outcome_is_never_more_permissive_than_its_flags(
    sites: frozenset[Site],
    ceap: CeapFinding,
    varicose: VaricoseVeins,
    treated: bool,
    risks: dict[RiskFactor, bool | None],
    counselled: bool,
) -> None:
    assessment = assess(EvaluationFacts(sites, ceap, varicose, treated, risks, counselled))
    # The facial flag beside leg sites blocks the face, not the legs' treatment.
    legs_too = sites != {Site.FACE}
    severities = {
        f.severity for f in assessment.flags if not (f.code == "facial-veins-excluded" and legs_too)
    }
    assert (assessment.outcome is Outcome.ELIGIBLE) == (severities <= {Severity.WARNING})
    if Severity.ABSOLUTE in severities:
        assert assessment.outcome is Outcome.CONTRAINDICATED
    if varicose is VaricoseVeins.PRESENT:
        assert assessment.outcome is not Outcome.ELIGIBLE
        assert outcome_after_clearance(assessment, cleared=True) is not Outcome.ELIGIBLE
    if any(value is None for value in risks.values()):
        assert outcome_after_clearance(assessment, cleared=True) is not Outcome.ELIGIBLE
