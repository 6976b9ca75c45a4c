"""The eligibility engine: pure rules from an evaluation to its flags and outcome.

No database, no HTTP: every rule is a plain function of `EvaluationFacts`, so each can be
tested on its own and in combination. The words (sites, risk factors, flags, outcomes) are
`app.vocabulary`'s; find a rule by its flag code.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from app.evaluations.ceap import CeapFinding
from app.vocabulary import (
    COUNSELLING_INCOMPLETE,
    FACE_ONLY,
    FACE_WITH_LEGS,
    RISK_FACTORS,
    VARICOSE_RECURRENT,
    VARICOSE_TREATMENT_FIRST,
    VENOUS_WORK_UP_NEEDED,
    CeapClass,
    Flag,
    FlagCode,
    Outcome,
    RiskFactor,
    Severity,
    Site,
    VaricoseVeins,
)


@dataclass(frozen=True)
class EvaluationFacts:
    """What the rules read from an evaluation."""

    sites: frozenset[Site]
    ceap: CeapFinding
    varicose_veins: VaricoseVeins
    varicose_treatment_recorded: bool
    risk_factors: Mapping[RiskFactor, bool | None] = field(default_factory=dict)
    benefits_and_risks_explained: bool = False


@dataclass(frozen=True)
class Assessment:
    flags: tuple[Flag, ...]
    outcome: Outcome

    @property
    def clearable(self) -> bool:
        """A clearance can turn this outcome into `eligible`."""
        return self.outcome is Outcome.CLEARANCE_REQUIRED


def varicose_flag(facts: EvaluationFacts) -> Flag | None:
    if facts.ceap.clinical_class is CeapClass.C2R:
        # Back after their treatment: the treatment recorded does not count any more.
        return VARICOSE_RECURRENT
    untreated = facts.varicose_veins is VaricoseVeins.PRESENT
    advanced_without_treatment = (
        facts.ceap.clinical_class.grade >= 2 and not facts.varicose_treatment_recorded
    )
    return VARICOSE_TREATMENT_FIRST if untreated or advanced_without_treatment else None


def venous_work_up_flag(facts: EvaluationFacts) -> Flag | None:
    """Skin changes or an ulcer (C4 to C6, subclasses and the pre-2020 C4 alike), with or
    without symptoms, and whatever treatment is recorded: a clinician clears the patient."""
    return VENOUS_WORK_UP_NEEDED if facts.ceap.clinical_class.grade >= 4 else None


def facial_flag(facts: EvaluationFacts) -> Flag | None:
    if Site.FACE not in facts.sites:
        return None
    return FACE_ONLY if facts.sites == {Site.FACE} else FACE_WITH_LEGS


def counselling_flag(facts: EvaluationFacts) -> Flag | None:
    return None if facts.benefits_and_risks_explained else COUNSELLING_INCOMPLETE


def unknown_risk_factor_flag(facts: EvaluationFacts) -> Flag | None:
    unknown = [factor.value for factor in RiskFactor if facts.risk_factors.get(factor) is None]
    if not unknown:
        return None
    return Flag(
        FlagCode.RISK_FACTOR_UNKNOWN,
        Severity.BLOCKING,
        "Not recorded as yes or no: " + ", ".join(unknown) + ".",
    )


def contraindication_flags(facts: EvaluationFacts) -> list[Flag]:
    """Absolute ones first, then relative ones, each in the order of the guidelines' lists."""
    present = [e.flag for f, e in RISK_FACTORS.items() if facts.risk_factors.get(f) is True]
    return [f for f in present if f.severity is Severity.ABSOLUTE] + [
        f for f in present if f.severity is Severity.RELATIVE
    ]


def assess(facts: EvaluationFacts) -> Assessment:
    """Every flag the evaluation raises, and the outcome they lead to."""
    single = (
        varicose_flag,
        venous_work_up_flag,
        facial_flag,
        counselling_flag,
        unknown_risk_factor_flag,
    )
    flags = [f for f in (rule(facts) for rule in single) if f is not None]
    flags += contraindication_flags(facts)
    return Assessment(flags=tuple(flags), outcome=_outcome(flags))


def _outcome(flags: list[Flag]) -> Outcome:
    codes = {f.code for f in flags}
    severities = {f.severity for f in flags}
    if Severity.ABSOLUTE in severities:
        return Outcome.CONTRAINDICATED
    if FACE_ONLY in flags:
        return Outcome.NOT_SUITABLE
    if VARICOSE_TREATMENT_FIRST.code in codes:
        return Outcome.VARICOSE_TREATMENT_FIRST
    if codes & {FlagCode.COUNSELLING_INCOMPLETE, FlagCode.RISK_FACTOR_UNKNOWN}:
        return Outcome.INCOMPLETE
    if Severity.RELATIVE in severities:
        return Outcome.CLEARANCE_REQUIRED
    return Outcome.ELIGIBLE


def outcome_after_clearance(assessment: Assessment, *, cleared: bool) -> Outcome:
    """A clearance lifts relative flags only (the relative contraindications, the venous
    work-up), and only when nothing stronger stands: nothing else changes."""
    return Outcome.ELIGIBLE if cleared and assessment.clearable else assessment.outcome


def valid_until(performed_at: datetime, *, months: int) -> datetime:
    """`performed_at` plus whole calendar months (31 Jan + 1 month = 28 or 29 Feb)."""
    month_index = performed_at.month - 1 + months
    year, month = performed_at.year + month_index // 12, month_index % 12 + 1
    day = min(performed_at.day, calendar.monthrange(year, month)[1])
    return performed_at.replace(year=year, month=month, day=day)
