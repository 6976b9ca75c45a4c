"""The eligibility engine: pure rules from an evaluation to its flags and outcome.

No database, no HTTP: every rule is a plain function of `EvaluationFacts`, so each can be
tested on its own and in combination. Find a rule by its flag code.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class Severity(enum.StrEnum):
    ABSOLUTE = "absolute"  # a contraindication nothing can clear
    # Booking refused until a later evaluation records otherwise; `facial-veins-excluded`
    # with leg sites blocks only the face (never treated), not the legs.
    BLOCKING = "blocking"
    RELATIVE = "relative"  # booking needs a clinician's documented clearance
    WARNING = "warning"  # shown to staff; does not stop booking


class Outcome(enum.StrEnum):
    """The evaluation's verdict, listed from the strongest to the weakest."""

    CONTRAINDICATED = "contraindicated"
    NOT_SUITABLE = "not-suitable"
    VARICOSE_TREATMENT_FIRST = "varicose-treatment-first"
    INCOMPLETE = "incomplete"
    CLEARANCE_REQUIRED = "clearance-required"
    ELIGIBLE = "eligible"


class Site(enum.StrEnum):
    LEFT_THIGH = "left_thigh"
    RIGHT_THIGH = "right_thigh"
    LEFT_KNEE = "left_knee"
    RIGHT_KNEE = "right_knee"
    LEFT_CALF = "left_calf"
    RIGHT_CALF = "right_calf"
    LEFT_ANKLE_FOOT = "left_ankle_foot"
    RIGHT_ANKLE_FOOT = "right_ankle_foot"
    FACE = "face"  # recorded so that it can be refused: never treated


class CeapClass(enum.StrEnum):
    """CEAP clinical class: C0 no visible disease, C1 spider veins, C2 varicose veins, ..."""

    C0 = "C0"
    C1 = "C1"
    C2 = "C2"
    C3 = "C3"
    C4 = "C4"
    C5 = "C5"
    C6 = "C6"

    @property
    def grade(self) -> int:
        return int(self.value[1])


class VaricoseVeins(enum.StrEnum):
    ABSENT = "absent"
    PRESENT = "present"
    TREATED = "treated"


class RiskFactor(enum.StrEnum):
    HORMONAL_CONTRACEPTION = "hormonal_contraception"
    HORMONE_REPLACEMENT_THERAPY = "hormone_replacement_therapy"
    HISTORY_OF_BLOOD_CLOTS = "history_of_blood_clots"
    THROMBOPHILIA = "thrombophilia"
    PREGNANCY = "pregnancy"
    BREASTFEEDING = "breastfeeding"
    SCLEROSANT_ALLERGY = "sclerosant_allergy"
    ACUTE_THROMBOSIS = "acute_thrombosis"
    LOCAL_INFECTION = "local_infection"
    IMMOBILITY = "immobility"
    RIGHT_TO_LEFT_SHUNT = "right_to_left_shunt"
    PERIPHERAL_ARTERIAL_DISEASE = "peripheral_arterial_disease"


@dataclass(frozen=True)
class Flag:
    code: str
    severity: Severity
    message: str


# Risk factors whose presence is a contraindication, with the flag each one raises
# (2014 European guidelines for sclerotherapy in chronic venous disorders).
ABSOLUTE_CONTRAINDICATIONS: dict[RiskFactor, Flag] = {
    RiskFactor.SCLEROSANT_ALLERGY: Flag(
        "sclerosant-allergy",
        Severity.ABSOLUTE,
        "Known allergy to a sclerosant: sclerotherapy is contraindicated.",
    ),
    RiskFactor.ACUTE_THROMBOSIS: Flag(
        "acute-thrombosis",
        Severity.ABSOLUTE,
        "Acute deep vein thrombosis or pulmonary embolism: sclerotherapy is contraindicated.",
    ),
    RiskFactor.LOCAL_INFECTION: Flag(
        "local-infection",
        Severity.ABSOLUTE,
        "Local infection or severe skin disease at the sites: not to be injected.",
    ),
    RiskFactor.IMMOBILITY: Flag(
        "immobility",
        Severity.ABSOLUTE,
        "Long-lasting immobility or bed confinement: thrombosis risk too high.",
    ),
    RiskFactor.RIGHT_TO_LEFT_SHUNT: Flag(
        "right-to-left-shunt",
        Severity.ABSOLUTE,
        "Known symptomatic right-to-left shunt (e.g. patent foramen ovale): "
        "sclerosant could reach the arterial circulation.",
    ),
}
RELATIVE_CONTRAINDICATIONS: dict[RiskFactor, Flag] = {
    RiskFactor.HORMONAL_CONTRACEPTION: Flag(
        "hormonal-contraception",
        Severity.RELATIVE,
        "Takes the birth-control pill: higher thrombosis risk; a clinician must clear treatment.",
    ),
    RiskFactor.HISTORY_OF_BLOOD_CLOTS: Flag(
        "thrombosis-history",
        Severity.RELATIVE,
        "History of blood clots (DVT or PE): a clinician must clear treatment.",
    ),
    RiskFactor.THROMBOPHILIA: Flag(
        "thrombophilia",
        Severity.RELATIVE,
        "Known thrombophilia: a clinician must clear treatment.",
    ),
    RiskFactor.HORMONE_REPLACEMENT_THERAPY: Flag(
        "hormone-replacement-therapy",
        Severity.RELATIVE,
        "Hormone replacement therapy: higher thrombosis risk; a clinician must clear treatment.",
    ),
    RiskFactor.PREGNANCY: Flag(
        "pregnancy",
        Severity.RELATIVE,
        "Pregnant: treatment is usually deferred; a clinician must clear it.",
    ),
    RiskFactor.BREASTFEEDING: Flag(
        "breastfeeding",
        Severity.RELATIVE,
        "Breastfeeding: a clinician must clear treatment.",
    ),
    RiskFactor.PERIPHERAL_ARTERIAL_DISEASE: Flag(
        "peripheral-arterial-disease",
        Severity.RELATIVE,
        "Severe peripheral arterial disease: a clinician must clear treatment.",
    ),
}

VARICOSE_TREATMENT_FIRST = Flag(
    "varicose-treatment-first",
    Severity.BLOCKING,
    "Varicose veins without recorded treatment: they are the likely cause of the spider veins "
    "and are treated first. Book micro-sclerotherapy after an evaluation records them treated.",
)
FACE_ONLY = Flag(
    "facial-veins-excluded",
    Severity.BLOCKING,
    "Only facial spider veins: the face is not treated by micro-sclerotherapy (scarring risk).",
)
# Blocking for the face only: the face is never a treatment site (completion records refuse
# it), and the legs' outcome follows from the other flags.
FACE_WITH_LEGS = Flag(
    "facial-veins-excluded",
    Severity.BLOCKING,
    "Facial spider veins are recorded but never treated (scarring risk): the face is "
    "excluded, the legs may proceed.",
)
COUNSELLING_INCOMPLETE = Flag(
    "counselling-incomplete",
    Severity.BLOCKING,
    "Benefits and risks have not been explained to the patient.",
)


@dataclass(frozen=True)
class EvaluationFacts:
    """What the rules read from an evaluation."""

    sites: frozenset[Site]
    ceap_class: CeapClass
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
    untreated = facts.varicose_veins is VaricoseVeins.PRESENT
    advanced_without_treatment = (
        facts.ceap_class.grade >= 2 and not facts.varicose_treatment_recorded
    )
    return VARICOSE_TREATMENT_FIRST if untreated or advanced_without_treatment else None


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
        "risk-factor-unknown",
        Severity.BLOCKING,
        "Not recorded as yes or no: " + ", ".join(unknown) + ".",
    )


def contraindication_flags(facts: EvaluationFacts) -> list[Flag]:
    """Absolute ones first, then relative ones, each in the order of the guidelines' lists."""
    present = {factor for factor, value in facts.risk_factors.items() if value is True}
    return [flag for factor, flag in ABSOLUTE_CONTRAINDICATIONS.items() if factor in present] + [
        flag for factor, flag in RELATIVE_CONTRAINDICATIONS.items() if factor in present
    ]


def assess(facts: EvaluationFacts) -> Assessment:
    """Every flag the evaluation raises, and the outcome they lead to."""
    single = (varicose_flag, facial_flag, counselling_flag, unknown_risk_factor_flag)
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
    if codes & {COUNSELLING_INCOMPLETE.code, "risk-factor-unknown"}:
        return Outcome.INCOMPLETE
    if Severity.RELATIVE in severities:
        return Outcome.CLEARANCE_REQUIRED
    return Outcome.ELIGIBLE


def outcome_after_clearance(assessment: Assessment, *, cleared: bool) -> Outcome:
    """A clearance lifts relative contraindications only: nothing else changes."""
    return Outcome.ELIGIBLE if cleared and assessment.clearable else assessment.outcome


def valid_until(performed_at: datetime, *, months: int) -> datetime:
    """`performed_at` plus whole calendar months (31 Jan + 1 month = 28 or 29 Feb)."""
    month_index = performed_at.month - 1 + months
    year, month = performed_at.year + month_index // 12, month_index % 12 + 1
    day = min(performed_at.day, calendar.monthrange(year, month)[1])
    return performed_at.replace(year=year, month=month, day=day)
