"""Evaluation, clearance and eligibility bodies. Field names are a contract with front-end apps
and the EHR mapping: change them only with a new API version."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    computed_field,
    model_validator,
)

from app.evaluations import ceap
from app.evaluations.ceap import CeapFinding
from app.pagination import Page
from app.patients.schemas import Weight
from app.schemas import (
    AffectedSessions,
    Boolean,
    CalendarDate,
    FreeText,
    InputModel,
    Instant,
    ReadModel,
    RequiredText,
)
from app.vocabulary import (
    RISK_FACTORS,
    CeapClass,
    EligibilityOutcome,
    Outcome,
    Severity,
    Site,
    VaricoseTreatmentKind,
    VaricoseVeins,
)


def _date_not_in_the_future(value: date) -> date:
    if value > (datetime.now(UTC) + timedelta(hours=14)).date():
        raise ValueError("is in the future")
    return value


def _distinct_sites(sites: list[Site]) -> list[Site]:
    if len(set(sites)) != len(sites):
        raise ValueError("a site is listed twice")
    return sites


def _new_ceap_class(value: object) -> CeapFinding:
    if not isinstance(value, str):
        raise ValueError("must be a string, e.g. C2s")
    return ceap.new_finding(value)


# Validated here rather than by the schema's pattern, so that a refusal says how to write it
# (`C4` alone: use C4a, C4b or C4c); the pattern documents the same values.
NewCeapClass = Annotated[
    CeapFinding,
    PlainValidator(_new_ceap_class),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": ceap.NEW_PATTERN}),
]

_VIEW = "`full` for roles that read clinical detail, `summary` for the others"


class VaricoseTreatment(InputModel):
    kind: VaricoseTreatmentKind
    completed_on: Annotated[CalendarDate, AfterValidator(_date_not_in_the_future)] = Field(
        examples=["2026-06-02"]
    )


Answer = Boolean | None


def _questions_from_the_vocabulary(schema: dict[str, Any]) -> None:
    for factor, entry in RISK_FACTORS.items():
        schema["properties"][factor.value]["description"] = entry.question


class RiskFactors(InputModel):
    """Each factor is true, false, or null (not known). A factor left out is not known, and an
    unknown factor keeps the evaluation `incomplete`: the rules never guess.

    One field per `app.vocabulary.RiskFactor`, in its order (a test holds them together); each
    field's description is the vocabulary's question."""

    model_config = ConfigDict(json_schema_extra=_questions_from_the_vocabulary)

    hormonal_contraception: Answer = None
    hormone_replacement_therapy: Answer = None
    history_of_blood_clots: Answer = None
    thrombophilia: Answer = None
    pregnancy: Answer = None
    breastfeeding: Answer = None
    sclerosant_allergy: Answer = None
    acute_thrombosis: Answer = None
    local_infection: Answer = None
    immobility: Answer = None
    right_to_left_shunt: Answer = None
    peripheral_arterial_disease: Answer = None


class EvaluationCreate(InputModel):
    practitioner_id: uuid.UUID | None = Field(
        default=None,
        description="The clinician who performed it: you, the practitioner your account is "
        "linked to (the default). Naming anyone else is a 403 `not-own-practitioner`, except "
        "for an admin, who records it on that practitioner's behalf",
    )
    performed_at: Instant = Field(
        description="When it was performed: not in the future. A clock up to 5 minutes fast "
        "is accepted, and the time is then stored as the moment of recording",
        examples=["2026-11-20T10:30:00+01:00"],
    )
    spider_vein_sites: Annotated[
        list[Site], Field(min_length=1, max_length=len(Site)), AfterValidator(_distinct_sites)
    ] = Field(examples=[["left-calf", "right-thigh"]])
    ceap_class: NewCeapClass = Field(
        description="The CEAP clinical class (2020 revision) as CEAP writes it: C0, C1, C2, "
        "C2r (recurrent varicose veins), C3, C4a, C4b, C4c (corona phlebectatica), C5, C6 or "
        "C6r, with s (symptomatic) or a (asymptomatic) appended if recorded: `C2s`, `C2ra`, "
        "`C4as`. Capital C, lower-case suffixes. C4 alone, the pre-2020 class, is refused: "
        "use C4a, C4b or C4c",
        examples=["C1", "C2s", "C4as"],
    )
    varicose_veins: VaricoseVeins = Field(examples=["absent"])
    varicose_treatment: VaricoseTreatment | None = Field(
        default=None, description="Required when varicose_veins is `treated`, refused otherwise"
    )
    risk_factors: RiskFactors
    benefits_and_risks_explained: Boolean
    patient_expectations: FreeText | None = None
    notes: FreeText | None = None
    weight_kg: Weight | None = None

    @model_validator(mode="after")
    def _treatment_matches_varicose_veins(self) -> EvaluationCreate:
        treated = self.varicose_veins is VaricoseVeins.TREATED
        if treated and self.varicose_treatment is None:
            raise ValueError("varicose_treatment (kind, completed_on) is required when treated")
        if not treated and self.varicose_treatment is not None:
            raise ValueError("varicose_treatment is only recorded when varicose_veins is treated")
        # The evaluation found the veins treated: the treatment came before it (its calendar
        # day, wherever the clinic is: hence the latest date on Earth at that instant).
        latest = (self.performed_at + timedelta(hours=14)).date()
        if self.varicose_treatment and self.varicose_treatment.completed_on > latest:
            raise ValueError("varicose_treatment.completed_on is after performed_at")
        return self


class FlagRead(ReadModel):
    code: str = Field(examples=["hormonal-contraception"])
    severity: Severity
    message: str


def _says_something(value: str) -> str:
    # Invisible characters (a zero-width space) are not a documented reason.
    if not any(character.isalnum() for character in value):
        raise ValueError("must state the reason in words")
    return value


class ClearanceCreate(InputModel):
    practitioner_id: uuid.UUID | None = Field(
        default=None,
        description="The clinician taking the decision: you, the practitioner your account is "
        "linked to (the default). Naming anyone else is a 403 `not-own-practitioner`, except "
        "for an admin, who records it on that practitioner's behalf",
    )
    reason: Annotated[RequiredText, AfterValidator(_says_something)] = Field(
        examples=["Pill stopped 6 weeks ago; low-dose polidocanol, walking advised."]
    )


class _Clearance(ReadModel):
    id: uuid.UUID
    practitioner_id: uuid.UUID
    created_at: datetime


class ClearanceSummary(_Clearance):
    """That a clinician cleared the evaluation, and when: what the front desk sees."""

    view: Literal["summary"] = Field(default="summary", description=_VIEW)


class ClearanceRead(_Clearance):
    """The clearance with the clinician's reason, for roles that read clinical detail."""

    view: Literal["full"] = Field(default="full", description=_VIEW)
    reason: str


ClearanceView = Annotated[ClearanceRead | ClearanceSummary, Field(discriminator="view")]


class VaricoseTreatmentRead(ReadModel):
    kind: VaricoseTreatmentKind
    completed_on: date


class CeapRead(ReadModel):
    """`ceap_class` broken down."""

    clinical_class: CeapClass = Field(
        description="The class without its modifier. `C4`: recorded before the 2020 classes "
        "(skin changes, C4a to C4c unspecified)",
        examples=["C4a"],
    )
    symptomatic: bool | None = Field(
        description="s: true, a: false, neither recorded: null", examples=[True]
    )


class _Evaluation(ReadModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    performed_at: datetime
    outcome: Outcome = Field(description="After any clearance: `eligible` once cleared")
    flags: list[FlagRead]
    valid_until: datetime
    created_at: datetime


class EvaluationSummary(_Evaluation):
    """An evaluation's outcome and flags without its clinical detail: what a receptionist
    sees (the role needs `clinical:read` for the rest)."""

    view: Literal["summary"] = Field(default="summary", description=_VIEW)
    clearance: ClearanceSummary | None


class EvaluationRead(_Evaluation):
    """The whole evaluation, for clinicians."""

    view: Literal["full"] = Field(default="full", description=_VIEW)
    spider_vein_sites: list[Site]
    ceap_class: str = Field(
        pattern=ceap.STORED_PATTERN,
        description="As recorded: the CEAP clinical class with s (symptomatic) or a "
        "(asymptomatic) appended if recorded; `C4` alone on evaluations recorded before the "
        "2020 classes",
        examples=["C4as"],
    )
    varicose_veins: VaricoseVeins
    varicose_treatment: VaricoseTreatmentRead | None
    risk_factors: RiskFactors
    benefits_and_risks_explained: bool
    patient_expectations: str | None
    notes: str | None
    weight_kg: float | None
    clearance: ClearanceRead | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ceap(self) -> CeapRead:
        """The clinical class and whether the patient has symptoms."""
        finding = ceap.stored_finding(self.ceap_class)
        return CeapRead(clinical_class=finding.clinical_class, symptomatic=finding.symptomatic)


EvaluationView = Annotated[EvaluationRead | EvaluationSummary, Field(discriminator="view")]


class EvaluationPage(Page[EvaluationView]):
    """A page of evaluations, each in full or in summary as the caller's role allows."""


class EvaluationRecorded(EvaluationRead):
    """A new evaluation, and the upcoming sessions it leaves needing review."""

    affected_sessions: AffectedSessions


class EligibilityRead(ReadModel):
    """The patient's standing now, as booking sees it."""

    bookable: bool = Field(description="Micro-sclerotherapy may be booked now")
    outcome: EligibilityOutcome
    flags: list[FlagRead]
    evaluation_id: uuid.UUID | None
    valid_until: datetime | None
    clearance: ClearanceView | None = Field(
        description="With its reason for roles that may read clinical detail"
    )
