"""Evaluation, clearance and eligibility bodies. Field names are a contract with front-end apps
and the EHR mapping: change them only with a new API version."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

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
    ceap_class: CeapClass = Field(examples=["C1"])
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
    ceap_class: CeapClass
    varicose_veins: VaricoseVeins
    varicose_treatment: VaricoseTreatmentRead | None
    risk_factors: RiskFactors
    benefits_and_risks_explained: bool
    patient_expectations: str | None
    notes: str | None
    weight_kg: float | None
    clearance: ClearanceRead | None


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
