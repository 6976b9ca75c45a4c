"""Consent bodies. Field names are a contract with front-end apps and the EHR mapping: change
them only with a new API version."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from app.pagination import Page
from app.schemas import FreeText, InputModel, Instant, ShortText, Stored
from app.vocabulary import RISKS_TO_EXPLAIN, ConsentProcedure, ConsentRisk, ConsentStatus

# As the clinic numbers its consent form's versions: "2026-03", "v4", "CF-12 rev. 2".
DocumentVersion = Annotated[ShortText, Field(max_length=64)]

_VIEW = "`full` for roles that read clinical detail, `summary` for the others"
_EXAMPLE_RISKS = [
    risk.value for risk in sorted(RISKS_TO_EXPLAIN[ConsentProcedure.MICRO_SCLEROTHERAPY])
]


def _distinct(risks: list[ConsentRisk]) -> list[ConsentRisk]:
    if len(set(risks)) != len(risks):
        raise ValueError("a risk is listed twice")
    return risks


class ConsentCreate(InputModel):
    document_version: DocumentVersion = Field(
        description="The version of the clinic's consent form the patient signed",
        examples=["2026-03"],
    )
    procedure: ConsentProcedure = Field(examples=["micro-sclerotherapy"])
    risks_explained: Annotated[
        list[ConsentRisk],
        Field(min_length=1, max_length=len(ConsentRisk)),
        AfterValidator(_distinct),
    ] = Field(
        description="The risks explained to the patient, each once. Micro-sclerotherapy needs "
        "at least hyperpigmentation, matting, ulceration, allergic-reaction and "
        "extravasation; foam also needs visual-disturbance and neurological-disturbance",
        examples=[_EXAMPLE_RISKS],
    )
    practitioner_id: uuid.UUID | None = Field(
        default=None,
        description="The clinician who took it: you, the practitioner your account is linked "
        "to (the default). Naming anyone else is a 403 `not-own-practitioner`, except for an "
        "admin, who records it on that practitioner's behalf",
    )
    obtained_at: Instant = Field(
        description="When the patient signed: not in the future (a clock up to 5 minutes fast "
        "is accepted, and the time is then stored as the moment of recording), nor before "
        "the patient's birth",
        examples=["2026-11-20T10:30:00+01:00"],
    )

    @field_validator("risks_explained")
    @classmethod
    def _the_procedure_s_risks(
        cls, risks: list[ConsentRisk], info: ValidationInfo
    ) -> list[ConsentRisk]:
        procedure = info.data.get("procedure")
        if procedure is None:
            return risks  # refused already, for the procedure
        missing = sorted(RISKS_TO_EXPLAIN[procedure] - set(risks))
        if missing:
            raise ValueError(f"{procedure.value} needs these explained too: {', '.join(missing)}")
        return risks


class ConsentWithdrawal(InputModel):
    withdrawn_at: Instant | None = Field(
        default=None,
        description="When the patient withdrew it; default now. Not in the future (a clock up "
        "to 5 minutes fast is taken as now), nor before the consent was obtained",
        examples=["2026-12-01T16:00:00+01:00"],
    )
    reason: FreeText | None = Field(default=None, examples=["Prefers to wait until autumn."])


class _Consent(Stored):
    id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    procedure: ConsentProcedure
    document_version: str
    obtained_at: datetime
    status: ConsentStatus = Field(description="`withdrawn` once the patient withdrew it")
    withdrawn_at: datetime | None


class ConsentSummary(_Consent):
    """That the patient consented, to what and since when (and whether they withdrew it):
    what the front desk sees (the role needs `clinical:read` for the rest)."""

    view: Literal["summary"] = Field(default="summary", description=_VIEW)


class ConsentRead(_Consent):
    """The whole consent, for clinicians: the risks explained, and why it was withdrawn."""

    view: Literal["full"] = Field(default="full", description=_VIEW)
    risks_explained: list[ConsentRisk]
    withdrawal_reason: str | None


ConsentView = Annotated[ConsentRead | ConsentSummary, Field(discriminator="view")]


class ConsentPage(Page[ConsentView]):
    """A page of consents, each in full or in summary as the caller's role allows."""
