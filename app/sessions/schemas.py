"""Session, life-cycle and completion bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

from app.evaluations.schemas import FlagRead
from app.pagination import Page
from app.patients.schemas import Weight
from app.scheduling.schemas import DurationMinutes, ProposalsRead
from app.schemas import (
    AffectedSessions,
    Boolean,
    FreeText,
    InputModel,
    Instant,
    Integer,
    Number,
    ReadModel,
    RequiredText,
    Stored,
)
from app.sessions import dosing
from app.vocabulary import (
    Aftercare,
    Anaesthetic,
    Complication,
    FoamGas,
    Sclerosant,
    SclerosantForm,
    SessionStatus,
    Site,
    Vessel,
)

Reason = RequiredText
WithinNotice = Annotated[
    Boolean,
    Field(
        description="Book (or move) inside the practitioner's minimum notice: needs "
        "`sessions:book-within-notice` (403 without it), and is audited. It lifts the notice "
        "only: never the buffer, overlaps, eligibility or any clinical rule",
    ),
]


T = TypeVar("T")


def _distinct(items: list[T]) -> list[T]:
    if len(set(items)) != len(items):
        raise ValueError("an item is listed twice")
    return items


class SessionCreate(InputModel):
    """The patient, the practitioner and the start, or a hold that names them (`hold_id`, from
    `POST /api/v1/holds`): the held slot is then booked, with every check booking makes."""

    patient_id: uuid.UUID | None = Field(default=None, description="Required without `hold_id`")
    practitioner_id: uuid.UUID | None = Field(
        default=None, description="Required without `hold_id`"
    )
    start: Instant | None = Field(
        default=None,
        examples=["2027-01-04T09:00:00+01:00"],
        description="Required without `hold_id`",
    )
    duration_minutes: DurationMinutes = Field(
        default=45, description="Booking a hold: the hold's length"
    )
    plan_id: uuid.UUID | None = Field(default=None, description="The course it belongs to")
    room_id: uuid.UUID | None = Field(
        default=None,
        description="The room (`GET /api/v1/locations/{id}/rooms`); default: a free room of "
        "the location where the practitioner sees patients then. Booking a hold: the hold's",
    )
    hold_id: uuid.UUID | None = Field(
        default=None,
        description="A hold to book: the slot it keeps. Any of the fields above that is sent "
        "must match it",
    )
    within_notice: WithinNotice = False

    @model_validator(mode="after")
    def _names_the_slot(self) -> SessionCreate:
        if self.hold_id is None:
            missing = [
                name
                for name in ("patient_id", "practitioner_id", "start")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)}: required unless a hold_id is given")
        return self


class RescheduleBody(InputModel):
    start: Instant = Field(examples=["2027-01-11T09:00:00+01:00"])
    duration_minutes: DurationMinutes | None = Field(default=None, description="Default: keep")
    practitioner_id: uuid.UUID | None = Field(default=None, description="Default: keep")
    room_id: uuid.UUID | None = Field(
        default=None,
        description="Default: keep its room if it is free then, else a free room of the "
        "location where the practitioner sees patients then",
    )
    reason: FreeText | None = None
    within_notice: WithinNotice = False


class ReasonBody(InputModel):
    reason: Reason = Field(examples=["Patient called: unwell"])


def _plausible_foam_ratio(value: str) -> str:
    return str(dosing.foam_ratio(value))


FoamRatioText = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{1,2}:[0-9]{1,2}$"),
    AfterValidator(_plausible_foam_ratio),
]
InjectionCount = Annotated[Integer, Field(ge=1, le=500)]
# No more lines than one per site, vessel, sclerosant and form.
MOST_LINES = len(Site) * len(Vessel) * len(Sclerosant) * len(SclerosantForm)


class InjectionCreate(InputModel):
    """One line of injections: where, into which veins, what, as a liquid or a foam, how much
    and how many times."""

    site: Site = Field(description="A leg site the current evaluation assessed")
    vessel: Vessel
    sclerosant: Sclerosant
    concentration_percent: Number = Field(gt=0, le=3, examples=[0.5])
    form: SclerosantForm
    foam_ratio: FoamRatioText | None = Field(
        default=None,
        examples=["1:4"],
        description="A foam's, required for one (none for a liquid): liquid to gas parts, "
        "whole numbers from 1 to 10, at least as much gas as liquid. Only the liquid part "
        "counts towards the dose",
    )
    gas: FoamGas | None = Field(
        default=None, description="A foam's, required for one (none for a liquid)"
    )
    volume_ml: Number = Field(
        gt=0,
        le=20,
        examples=[1.2],
        description="All these injections together; a foam's: the foam's volume",
    )
    count: InjectionCount = Field(examples=[6], description="How many injections")

    @model_validator(mode="after")
    def _foam_fields(self) -> InjectionCreate:
        foam = self.form is SclerosantForm.FOAM
        given = [name for name in ("foam_ratio", "gas") if getattr(self, name) is not None]
        if foam and len(given) < 2:
            raise ValueError("a foam needs its foam_ratio and its gas")
        if not foam and given:
            raise ValueError(f"{', '.join(given)}: a foam's only, not a liquid's")
        return self


_SINGLE_AGENT = ("treated_sites", "sclerosant", "concentration_percent", "volume_ml")
# Marked deprecated in the OpenAPI document (not with pydantic's `deprecated`, which warns
# whenever the service itself reads the field).
_DEPRECATED: dict[str, JsonValue] = {"deprecated": True}


class CompletionCreate(InputModel):
    """What was done: the lines of injections given (`injections`). No anaesthetic and no
    compression unless recorded.

    The single-agent body of earlier versions (`treated_sites`, `sclerosant`,
    `concentration_percent`, `volume_ml`: one sclerosant given as a liquid) is still accepted,
    deprecated: it is recorded as one line without a site. Send one form or the other."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "injections": [
                        {
                            "site": "left-calf",
                            "vessel": "telangiectasia",
                            "sclerosant": "polidocanol",
                            "concentration_percent": 0.5,
                            "form": "liquid",
                            "volume_ml": 1.8,
                            "count": 9,
                        },
                        {
                            "site": "right-thigh",
                            "vessel": "reticular",
                            "sclerosant": "polidocanol",
                            "concentration_percent": 1,
                            "form": "foam",
                            "foam_ratio": "1:4",
                            "gas": "co2-o2",
                            "volume_ml": 2,
                            "count": 4,
                        },
                    ],
                    "compression": True,
                    "weight_kg": 64,
                }
            ]
        }
    )

    injections: (
        Annotated[list[InjectionCreate], Field(min_length=1, max_length=MOST_LINES)] | None
    ) = Field(
        default=None,
        description="The injections given, a line per site, vessel, sclerosant, "
        "concentration and form. Required unless the deprecated single-agent fields are sent",
    )
    treated_sites: (
        Annotated[list[Site], Field(min_length=1, max_length=len(Site)), AfterValidator(_distinct)]
        | None
    ) = Field(
        default=None,
        examples=[["left-calf", "right-thigh"]],
        description="Deprecated (send `injections`): the sites, with the fields below",
        json_schema_extra=_DEPRECATED,
    )
    sclerosant: Sclerosant | None = Field(
        default=None,
        description="Deprecated (send `injections`): given as a liquid",
        json_schema_extra=_DEPRECATED,
    )
    concentration_percent: Number | None = Field(
        default=None,
        gt=0,
        le=3,
        examples=[0.5],
        description="Deprecated (send `injections`)",
        json_schema_extra=_DEPRECATED,
    )
    volume_ml: Number | None = Field(
        default=None,
        gt=0,
        le=20,
        examples=[4],
        description="Deprecated (send `injections`)",
        json_schema_extra=_DEPRECATED,
    )
    anaesthetic: Anaesthetic = Anaesthetic.NONE
    compression: Boolean = False
    complications: Annotated[list[Complication], AfterValidator(_distinct)] = []
    aftercare: Annotated[list[Aftercare], Field(min_length=1), AfterValidator(_distinct)] = [
        Aftercare.WALK,
        Aftercare.AVOID_PROLONGED_STANDING_OR_SITTING,
    ]
    notes: FreeText | None = None
    administered_at: Instant | None = Field(
        default=None,
        description="When the sclerosant was given: after the check-in, on the session's day. "
        "Default: now. State it when the record is written after that day",
    )
    weight_kg: Weight | None = Field(
        default=None,
        description="The patient's weight as the clinician finds it today; default: the one on "
        "the current evaluation. Sets the polidocanol limit (2 mg per kg per day)",
    )

    @model_validator(mode="after")
    def _one_form(self) -> CompletionCreate:
        sent = [name for name in _SINGLE_AGENT if getattr(self, name) is not None]
        if self.injections is not None and sent:
            raise ValueError(
                f"send either injections or the single-agent fields, not both ({', '.join(sent)})"
            )
        if self.injections is None:
            missing = [name for name in _SINGLE_AGENT if name not in sent]
            if len(missing) == len(_SINGLE_AGENT):
                raise ValueError("injections: required")
            if missing:
                raise ValueError(f"{', '.join(missing)}: required without injections")
        return self

    @property
    def sites(self) -> list[Site]:
        """The sites treated: the lines', in order, or those the single-agent body named."""
        if self.injections is None:
            return list(self.treated_sites or ())
        return list(dict.fromkeys(line.site for line in self.injections))

    def given(self) -> list[dosing.Injection]:
        """The injections given, a line each; the single-agent body's as one liquid line
        without a site, a vessel or a count."""
        if self.injections is None:
            assert self.sclerosant is not None
            assert self.concentration_percent is not None
            assert self.volume_ml is not None
            return [
                dosing.Injection(
                    sclerosant=self.sclerosant,
                    concentration_percent=self.concentration_percent,
                    form=SclerosantForm.LIQUID,
                    volume_ml=self.volume_ml,
                )
            ]
        return [
            dosing.Injection(
                sclerosant=line.sclerosant,
                concentration_percent=line.concentration_percent,
                form=line.form,
                volume_ml=line.volume_ml,
                foam_ratio=dosing.foam_ratio(line.foam_ratio) if line.foam_ratio else None,
                gas=line.gas,
                site=line.site,
                vessel=line.vessel,
                count=line.count,
            )
            for line in self.injections
        ]


class InjectionRead(ReadModel):
    site: Site | None = Field(
        description="Null on a line recorded without one: a record written before lines were "
        "kept, or through the single-agent body (its sites are the record's `treated_sites`)"
    )
    vessel: Vessel | None = Field(description="Null on a line recorded without one")
    sclerosant: Sclerosant
    concentration_percent: float
    form: SclerosantForm
    foam_ratio: str | None = Field(description="A foam's: liquid to gas, e.g. `1:4`")
    gas: FoamGas | None
    volume_ml: float = Field(description="A foam's: the foam's volume")
    count: int | None = Field(description="How many injections; null when not recorded")
    dose_mg: float = Field(description="The drug given: a foam's from its liquid part")


class DoseTotal(ReadModel):
    sclerosant: Sclerosant
    dose_mg: float


class InjectionTotals(ReadModel):
    """What the session's lines add up to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "doses": [{"sclerosant": "polidocanol", "dose_mg": 20.0}],
                    "liquid_ml": 4.0,
                    "foam_ml": 0.0,
                }
            ]
        }
    )

    doses: list[DoseTotal] = Field(description="The drug given, per sclerosant")
    liquid_ml: float = Field(description="Given as a liquid")
    foam_ml: float = Field(description="Given as a foam (its volume, gas included)")


class CompletionRead(ReadModel):
    injections: list[InjectionRead]
    totals: InjectionTotals = Field(
        default_factory=lambda: InjectionTotals(doses=[], liquid_ml=0, foam_ml=0),
        description="What the lines add up to",
        examples=[
            {
                "doses": [{"sclerosant": "polidocanol", "dose_mg": 20.0}],
                "liquid_ml": 4.0,
                "foam_ml": 0.0,
            }
        ],
    )
    treated_sites: list[Site] = Field(
        description="The lines' sites, in order (a record without sites per line: the ones "
        "it named)"
    )
    sclerosant: Sclerosant | None = Field(
        default=None,
        description="Deprecated (read `injections`): the sclerosant when every line gave the "
        "same one, else null",
        json_schema_extra=_DEPRECATED,
    )
    concentration_percent: float | None = Field(
        default=None,
        description="Deprecated: the concentration when every line gave one sclerosant at one "
        "concentration, else null",
        json_schema_extra=_DEPRECATED,
    )
    volume_ml: float | None = Field(
        default=None,
        description="Deprecated: the volume injected (liquid and foam) when every line gave "
        "one sclerosant, else null",
        json_schema_extra=_DEPRECATED,
    )
    dose_mg: float | None = Field(
        default=None,
        description="Deprecated (read `totals`): the drug given when every line gave one "
        "sclerosant, else null",
        json_schema_extra=_DEPRECATED,
    )
    anaesthetic: Anaesthetic
    compression: bool
    complications: list[Complication]
    aftercare: list[Aftercare]
    notes: str | None
    warnings: list[FlagRead]
    administered_at: datetime = Field(description="When the sclerosant was given")
    weight_kg: float | None = Field(description="The weight the clinician stated, if any")
    recorded_at: datetime

    @model_validator(mode="after")
    def _totals(self) -> CompletionRead:
        """The totals, and the single-agent fields of earlier versions, from the lines."""
        doses: dict[Sclerosant, float] = {}
        for line in self.injections:
            doses[line.sclerosant] = doses.get(line.sclerosant, 0.0) + line.dose_mg
        self.totals = InjectionTotals(
            doses=[DoseTotal(sclerosant=s, dose_mg=round(mg, 3)) for s, mg in doses.items()],
            liquid_ml=_volume(self.injections, SclerosantForm.LIQUID),
            foam_ml=_volume(self.injections, SclerosantForm.FOAM),
        )
        if len(self.totals.doses) == 1:
            [only] = self.totals.doses
            self.sclerosant, self.dose_mg = only.sclerosant, only.dose_mg
            self.volume_ml = round(sum(line.volume_ml for line in self.injections), 3)
            strengths = {line.concentration_percent for line in self.injections}
            self.concentration_percent = strengths.pop() if len(strengths) == 1 else None
        return self


def _volume(lines: list[InjectionRead], form: SclerosantForm) -> float:
    return round(sum(line.volume_ml for line in lines if line.form is form), 3)


class SessionEventRead(ReadModel):
    action: str
    from_status: SessionStatus | None
    to_status: SessionStatus
    old_start: datetime | None = Field(validation_alias="old_start_at")
    old_end: datetime | None = Field(validation_alias="old_end_at")
    old_practitioner_id: uuid.UUID | None = Field(
        description="A reschedule: who had the session before"
    )
    reason: str | None = Field(
        description="Why (a reschedule, a cancellation, an entry in error), as the clinic wrote "
        "it: free text, clinical; null for roles without `clinical:read`"
    )
    at: datetime
    within_notice: bool = Field(
        default=False,
        description="Booked or moved inside the practitioner's minimum notice, by staff "
        "allowed to (`within_notice`)",
    )


class SessionRead(Stored):
    id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID
    plan_id: uuid.UUID | None
    location_id: uuid.UUID = Field(description="The site where it takes place")
    room_id: uuid.UUID = Field(description="The room it takes there")
    start: datetime = Field(validation_alias="start_at")
    end: datetime = Field(validation_alias="end_at")
    time_zone: str = Field(
        description="Where it takes place (its location's zone when booked): its day, for "
        "check-in and treatment, is that zone's",
        examples=["Europe/Paris"],
    )
    status: SessionStatus
    cancel_reason: str | None = Field(
        description="Why it was cancelled, as the clinic wrote it: free text, clinical; null "
        "for roles without `clinical:read`"
    )
    completion: CompletionRead | None = Field(
        description="What was done, once fulfilled; null for roles without `clinical:read`"
    )
    history: list[SessionEventRead] = Field(validation_alias="events")
    needs_review: bool = Field(
        default=False,
        description="Booked or checked in, but no longer passing the booking checks (the "
        "patient's standing, the practitioner, the time): to be moved, cancelled or settled",
    )
    review_reasons: list[FlagRead] | None = Field(
        default=None,
        description="Why it needs review (empty when it does not); null for roles that may "
        "not read eligibility",
    )


class CompletionResult(ReadModel):
    session: SessionRead
    warnings: list[FlagRead]
    affected_sessions: AffectedSessions = Field(
        description="The patient's sessions still to come that this treatment (given later "
        "than booked, say) brings within 14 days of it: flagged for review"
    )
    next_follow_up: ProposalsRead | None = Field(
        description="The proposal for the course's next visit; null when none is left"
    )


class SessionPage(Page[SessionRead]):
    """A page of sessions."""
