"""CEAP 2020 classes: how an evaluation writes them, and what the rules make of each one (every
class, with and without its modifier, by what is recorded of varicose veins)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.evaluations.ceap import NEW_PATTERN, CeapFinding, new_finding, stored_finding
from app.evaluations.rules import EvaluationFacts, assess, outcome_after_clearance
from app.vocabulary import (
    CEAP_2020_CLASSES,
    CEAP_CLASS_VALUES,
    CeapClass,
    CeapModifier,
    Outcome,
    RiskFactor,
    Severity,
    Site,
    VaricoseVeins,
)

C = CeapClass
S, A = CeapModifier.SYMPTOMATIC, CeapModifier.ASYMPTOMATIC


@pytest.mark.parametrize(
    ("text", "finding", "symptomatic"),
    [
        ("C0", CeapFinding(C.C0), None),
        ("C1", CeapFinding(C.C1), None),
        ("C2", CeapFinding(C.C2), None),
        ("C2s", CeapFinding(C.C2, S), True),
        ("C2a", CeapFinding(C.C2, A), False),  # C2 asymptomatic: there is no class C2a
        ("C2r", CeapFinding(C.C2R), None),
        ("C2ra", CeapFinding(C.C2R, A), False),
        ("C3s", CeapFinding(C.C3, S), True),
        ("C4a", CeapFinding(C.C4A), None),  # class C4a: a bare C4 is no 2020 class
        ("C4as", CeapFinding(C.C4A, S), True),
        ("C4aa", CeapFinding(C.C4A, A), False),
        ("C4b", CeapFinding(C.C4B), None),
        ("C4cs", CeapFinding(C.C4C, S), True),
        ("C5a", CeapFinding(C.C5, A), False),
        ("C6", CeapFinding(C.C6), None),
        ("C6rs", CeapFinding(C.C6R, S), True),
    ],
)
def test_a_class_as_ceap_writes_it(
    text: str, finding: CeapFinding, symptomatic: bool | None
) -> None:
    assert new_finding(text) == finding
    assert str(finding) == text
    assert finding.symptomatic is symptomatic


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("C4", "use C4a"),
        ("C4s", "use C4a"),  # the pre-2020 C4, symptomatic: still the bare C4
        ("c4", "use C4a"),
        ("C4A", "is written C4a"),
        ("c1", "is written C1"),
        ("C2R", "is written C2r"),
        ("C2RA", "is written C2ra"),
        ("C2x", "C2 takes the modifier s (symptomatic) or a (asymptomatic)"),
        ("C2rx", "C2r takes the modifier"),
        ("C4ab", "C4a takes the modifier"),
        ("C1ss", "C1 takes the modifier"),
        ("C7", "is not a CEAP clinical class"),
        ("C4x", "is not a CEAP clinical class"),
        ("C6R3", "C6 takes the modifier"),
        ("", "is not a CEAP clinical class"),
        (" C1", "is not a CEAP clinical class"),
        ("C1 ", "C1 takes the modifier"),
        ("CEAP C2", "is not a CEAP clinical class"),
    ],
)
def test_what_is_refused_says_how_to_write_it(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        new_finding(text)


def test_the_documented_pattern_and_the_parser_agree() -> None:
    written = {str(CeapFinding(c, m)) for c in CeapClass for m in (None, *CeapModifier)}
    for text in written | {"C4a", "c1", "C2R", "C7", "C44"}:
        try:
            accepted = str(new_finding(text)) == text
        except ValueError:
            accepted = False
        assert accepted is bool(re.match(NEW_PATTERN, text)), text


def test_every_stored_value_reads_back() -> None:
    assert len(set(CEAP_CLASS_VALUES)) == len(CEAP_CLASS_VALUES) == 34
    for value in CEAP_CLASS_VALUES:
        assert str(stored_finding(value)) == value
    assert stored_finding("C4") == CeapFinding(C.C4)  # recorded before 2020


# --- The rules, for every class ---------------------------------------------------------------

V = "varicose-treatment-first"
W = "venous-work-up-needed"

# Each class, and the flags it raises when varicose veins are absent, present, and treated
# (with the treatment recorded).
BY_CLASS = [
    (C.C0, [], [V], []),
    (C.C1, [], [V], []),
    (C.C2, [V], [V], []),
    (C.C2R, [V], [V], [V]),  # recurrent: the treatment recorded does not count
    (C.C3, [V], [V], []),
    (C.C4A, [V, W], [V, W], [W]),
    (C.C4B, [V, W], [V, W], [W]),
    (C.C4C, [V, W], [V, W], [W]),
    (C.C5, [V, W], [V, W], [W]),
    (C.C6, [V, W], [V, W], [W]),
    (C.C6R, [V, W], [V, W], [W]),
    (C.C4, [V, W], [V, W], [W]),  # recorded before 2020: as C4a to C4c
]
STATES = [
    (VaricoseVeins.ABSENT, False),
    (VaricoseVeins.PRESENT, False),
    (VaricoseVeins.TREATED, True),
]
CLEAN = EvaluationFacts(
    sites=frozenset({Site.LEFT_CALF}),
    ceap=CeapFinding(C.C1),
    varicose_veins=VaricoseVeins.ABSENT,
    varicose_treatment_recorded=False,
    risk_factors=dict.fromkeys(RiskFactor, False),
    benefits_and_risks_explained=True,
)


def test_the_table_has_every_class() -> None:
    assert [row[0] for row in BY_CLASS] == [*CEAP_2020_CLASSES, C.C4]


@pytest.mark.parametrize("modifier", [None, S, A])
@pytest.mark.parametrize("state", range(3), ids=["absent", "present", "treated"])
@pytest.mark.parametrize("row", BY_CLASS, ids=[row[0].value for row in BY_CLASS])
def test_each_class_modifier_and_varicose_state(
    row: tuple[CeapClass, list[str], list[str], list[str]],
    state: int,
    modifier: CeapModifier | None,
) -> None:
    clinical_class, expected = row[0], row[1 + state]
    varicose_veins, treatment_recorded = STATES[state]
    facts = replace(
        CLEAN,
        ceap=CeapFinding(clinical_class, modifier),
        varicose_veins=varicose_veins,
        varicose_treatment_recorded=treatment_recorded,
    )
    assessment = assess(facts)
    assert [f.code for f in assessment.flags] == expected
    if V in expected:  # blocking: a clearance lifts nothing, a later evaluation must
        assert assessment.outcome is Outcome.VARICOSE_TREATMENT_FIRST
        cleared = Outcome.VARICOSE_TREATMENT_FIRST
    elif W in expected:  # relative: a clinician clears the patient once worked up
        assert assessment.outcome is Outcome.CLEARANCE_REQUIRED
        cleared = Outcome.ELIGIBLE
    else:
        assert assessment.outcome is Outcome.ELIGIBLE
        cleared = Outcome.ELIGIBLE
    assert outcome_after_clearance(assessment, cleared=True) is cleared


def test_the_flags_say_why() -> None:
    recurrent = assess(replace(CLEAN, ceap=CeapFinding(C.C2R), varicose_treatment_recorded=True))
    assert "Recurrent varicose veins (CEAP C2r)" in recurrent.flags[0].message
    assert recurrent.flags[0].severity is Severity.BLOCKING
    ulcer = assess(
        replace(
            CLEAN,
            ceap=CeapFinding(C.C6R, S),
            varicose_veins=VaricoseVeins.TREATED,
            varicose_treatment_recorded=True,
        )
    )
    assert "duplex" in ulcer.flags[0].message
    assert ulcer.flags[0].severity is Severity.RELATIVE


@pytest.mark.parametrize(
    ("risks", "counselled", "outcome"),
    [
        # The work-up beside a relative contraindication: one clearance lifts both.
        ({RiskFactor.HORMONAL_CONTRACEPTION: True}, True, Outcome.CLEARANCE_REQUIRED),
        # Nothing stronger is loosened by it: incomplete and contraindicated stand.
        ({}, False, Outcome.INCOMPLETE),
        ({RiskFactor.PREGNANCY: None}, True, Outcome.INCOMPLETE),
        ({RiskFactor.LOCAL_INFECTION: True}, True, Outcome.CONTRAINDICATED),
    ],
)
def test_the_work_up_takes_its_place_among_the_outcomes(
    risks: dict[RiskFactor, bool | None], counselled: bool, outcome: Outcome
) -> None:
    facts = replace(
        CLEAN,
        ceap=CeapFinding(C.C5),
        varicose_veins=VaricoseVeins.TREATED,
        varicose_treatment_recorded=True,
        risk_factors={**CLEAN.risk_factors, **risks},
        benefits_and_risks_explained=counselled,
    )
    assessment = assess(facts)
    assert W in [f.code for f in assessment.flags]
    assert assessment.outcome is outcome
    expected = Outcome.ELIGIBLE if outcome is Outcome.CLEARANCE_REQUIRED else outcome
    assert outcome_after_clearance(assessment, cleared=True) is expected


def _as_before_2020(finding: CeapFinding) -> CeapFinding:
    """A class the rules treat as they treated every class then: before the 2020 classes, C2
    to C6 all raised the same flags, as C3 still does."""
    return CeapFinding(C.C3) if finding.clinical_class.grade >= 2 else finding


@given(
    clinical_class=st.sampled_from(list(CeapClass)),
    modifier=st.sampled_from([None, *CeapModifier]),
    varicose=st.sampled_from(list(VaricoseVeins)),
    treated=st.booleans(),
    counselled=st.booleans(),
    risks=st.fixed_dictionaries(dict.fromkeys(RiskFactor, st.sampled_from([True, False, None]))),
)
def test_never_looser_than_before_the_2020_classes(
    clinical_class: CeapClass,
    modifier: CeapModifier | None,
    varicose: VaricoseVeins,
    treated: bool,
    counselled: bool,
    risks: dict[RiskFactor, bool | None],
) -> None:
    """Every flag the rules raised before still stands, and the outcome, cleared or not, is
    never weaker than it was."""
    finding = CeapFinding(clinical_class, modifier)
    facts = EvaluationFacts(
        frozenset({Site.RIGHT_CALF}), finding, varicose, treated, risks, counselled
    )
    now = assess(facts)
    before = assess(replace(facts, ceap=_as_before_2020(finding)))
    assert {f.code for f in before.flags} <= {f.code for f in now.flags}
    strongest = list(Outcome).index
    assert strongest(now.outcome) <= strongest(before.outcome)
    for cleared in (False, True):
        assert strongest(outcome_after_clearance(now, cleared=cleared)) <= strongest(
            outcome_after_clearance(before, cleared=cleared)
        )
