"""Evaluation, clearance and eligibility bodies. Field names are a contract with front-end apps
and the EHR mapping: change them only with a new API version."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from app.evaluations.rules import CeapClass, Outcome, RiskFactor, Severity, Site, VaricoseVeins
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


class VaricoseTreatmentKind(enum.StrEnum):
    ENDOVENOUS_THERMAL_ABLATION = "endovenous_thermal_ablation"
    ENDOVENOUS_CHEMICAL_ABLATION = "endovenous_chemical_ablation"
    SURGERY = "surgery"
    FOAM_SCLEROTHERAPY = "foam_sclerotherapy"
    COMPRESSION_SCLEROTHERAPY = "compression_sclerotherapy"
    OTHER = "other"


class EligibilityOutcome(enum.StrEnum):
    """An evaluation's outcome, or why there is no evaluation to go by."""

    CONTRAINDICATED = Outcome.CONTRAINDICATED.value
    NOT_SUITABLE = Outcome.NOT_SUITABLE.value
    VARICOSE_TREATMENT_FIRST = Outcome.VARICOSE_TREATMENT_FIRST.value
    INCOMPLETE = Outcome.INCOMPLETE.value
    CLEARANCE_REQUIRED = Outcome.CLEARANCE_REQUIRED.value
    ELIGIBLE = Outcome.ELIGIBLE.value
    EVALUATION_MISSING = "evaluation-missing"
    EVALUATION_EXPIRED = "evaluation-expired"
    PATIENT_ARCHIVED = "patient-archived"


def _date_not_in_the_future(value: date) -> date:
    if value > (datetime.now(UTC) + timedelta(hours=14)).date():
        raise ValueError("is in the future")
    return value


def _distinct_sites(sites: list[Site]) -> list[Site]:
    if len(set(sites)) != len(sites):
        raise ValueError("a site is listed twice")
    return sites


class VaricoseTreatment(InputModel):
    kind: VaricoseTreatmentKind
    completed_on: Annotated[CalendarDate, AfterValidator(_date_not_in_the_future)] = Field(
        examples=["2026-06-02"]
    )


class RiskFactors(InputModel):
    """Each factor is true, false, or null (not known). A factor left out is not known, and an
    unknown factor keeps the evaluation `incomplete`: the rules never guess."""

    hormonal_contraception: Boolean | None = Field(
        default=None, description="Takes the birth-control pill"
    )
    hormone_replacement_therapy: Boolean | None = None
    history_of_blood_clots: Boolean | None = Field(
        default=None, description="Past deep vein thrombosis or pulmonary embolism"
    )
    thrombophilia: Boolean | None = None
    pregnancy: Boolean | None = None
    breastfeeding: Boolean | None = None
    sclerosant_allergy: Boolean | None = None
    acute_thrombosis: Boolean | None = Field(default=None, description="Acute DVT or PE now")
    local_infection: Boolean | None = Field(
        default=None, description="Local infection or skin disease at the sites"
    )
    immobility: Boolean | None = Field(
        default=None, description="Long immobility or bed confinement"
    )
    right_to_left_shunt: Boolean | None = Field(
        default=None, description="Known right-to-left shunt, e.g. a symptomatic PFO"
    )
    peripheral_arterial_disease: Boolean | None = Field(
        default=None, description="Severe peripheral arterial disease"
    )


class EvaluationCreate(InputModel):
    practitioner_id: uuid.UUID = Field(description="The clinician who performed it")
    performed_at: Instant = Field(
        description="When it was performed: not in the future. A clock up to 5 minutes fast "
        "is accepted, and the time is then stored as the moment of recording",
        examples=["2026-11-20T10:30:00+01:00"],
    )
    spider_vein_sites: Annotated[
        list[Site], Field(min_length=1, max_length=len(Site)), AfterValidator(_distinct_sites)
    ] = Field(examples=[["left_calf", "right_thigh"]])
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
    practitioner_id: uuid.UUID = Field(description="The clinician taking the decision")
    reason: Annotated[RequiredText, AfterValidator(_says_something)] = Field(
        examples=["Pill stopped 6 weeks ago; low-dose polidocanol, walking advised."]
    )


class ClearanceSummary(ReadModel):
    """That a clinician cleared the evaluation, and when: what the front desk sees."""

    id: uuid.UUID
    practitioner_id: uuid.UUID
    created_at: datetime


class ClearanceRead(ClearanceSummary):
    reason: str


class VaricoseTreatmentRead(ReadModel):
    kind: VaricoseTreatmentKind
    completed_on: date


class EvaluationSummary(ReadModel):
    """An evaluation's outcome and flags without its clinical detail: what a receptionist
    sees (the role needs `clinical:read` for the rest)."""

    id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    performed_at: datetime
    outcome: Outcome = Field(description="After any clearance: `eligible` once cleared")
    flags: list[FlagRead]
    valid_until: datetime
    clearance: ClearanceSummary | None
    created_at: datetime


class EvaluationRead(EvaluationSummary):
    """The whole evaluation, for clinicians."""

    spider_vein_sites: list[Site]
    ceap_class: CeapClass
    varicose_veins: VaricoseVeins
    varicose_treatment: VaricoseTreatmentRead | None
    risk_factors: dict[RiskFactor, bool | None]
    benefits_and_risks_explained: bool
    patient_expectations: str | None
    notes: str | None
    weight_kg: float | None
    clearance: ClearanceRead | None


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
    clearance: ClearanceRead | ClearanceSummary | None = Field(
        description="With its reason for roles that may read clinical detail"
    )
