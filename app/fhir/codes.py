"""The project's code systems, each declared once: one base URL and a name per vocabulary.

No SNOMED CT, LOINC or UCUM code is used: a standard code goes here only once verified from its
source and cited beside it. Every code value is the REST API's own (kebab-case, from
`app.vocabulary`), so one grep finds a code in both dialects.
"""

from __future__ import annotations

import enum

CODE_SYSTEM_BASE = "https://sclerosched.org/fhir/CodeSystem/"
# Identifier systems (NamingSystem), apart from the code systems.
IDENTIFIER_BASE = "https://sclerosched.org/fhir/sid/"


class CodeSystem(enum.StrEnum):
    """A vocabulary of the project's, by its canonical URL."""

    # The REST API's stable error codes (`not-found`, `eligibility-blocked`, ...): an
    # OperationOutcome's `issue.details.coding` carries them.
    ERROR_CODE = CODE_SYSTEM_BASE + "error-code"
    FLAG = CODE_SYSTEM_BASE + "flag"  # app.vocabulary.FlagCode
    FLAG_SEVERITY = CODE_SYSTEM_BASE + "flag-severity"  # app.vocabulary.Severity
    ELIGIBILITY_OUTCOME = CODE_SYSTEM_BASE + "eligibility-outcome"
    SITE = CODE_SYSTEM_BASE + "site"  # app.vocabulary.Site
    SCLEROSANT = CODE_SYSTEM_BASE + "sclerosant"
    VESSEL = CODE_SYSTEM_BASE + "vessel"  # app.vocabulary.Vessel
    SCLEROSANT_FORM = CODE_SYSTEM_BASE + "sclerosant-form"  # app.vocabulary.SclerosantForm
    FOAM_GAS = CODE_SYSTEM_BASE + "foam-gas"  # app.vocabulary.FoamGas
    COMPLICATION = CODE_SYSTEM_BASE + "complication"
    AFTERCARE = CODE_SYSTEM_BASE + "aftercare"
    ANAESTHETIC = CODE_SYSTEM_BASE + "anaesthetic"
    PLAN_STATUS = CODE_SYSTEM_BASE + "plan-status"
    CONSENT_PROCEDURE = CODE_SYSTEM_BASE + "consent-procedure"  # app.vocabulary.ConsentProcedure
    SESSION_STATUS = CODE_SYSTEM_BASE + "session-status"
    # What is booked: a slot, a schedule, an appointment are all for this one kind of visit.
    VISIT_TYPE = CODE_SYSTEM_BASE + "visit-type"


class IdentifierSystem(enum.StrEnum):
    # Practitioners have no identifier of their own in the model: the FHIR interface gives
    # each one, in this system, whose value is the practitioner's id.
    PRACTITIONER_ID = IDENTIFIER_BASE + "practitioner-id"


# The one visit type the clinic books.
MICRO_SCLEROTHERAPY_SESSION = "micro-sclerotherapy-session"


def coding(system: CodeSystem, code: str, display: str | None = None) -> dict[str, str]:
    """A Coding in one of the project's systems."""
    found = {"system": system.value, "code": code}
    if display:
        found["display"] = display
    return found


def concept(system: CodeSystem, code: str, display: str | None = None) -> dict[str, object]:
    """A CodeableConcept of one coding in one of the project's systems."""
    return {"coding": [coding(system, code, display)]}


def visit_type() -> dict[str, object]:
    """The visit type every slot, schedule and appointment is for."""
    return concept(
        CodeSystem.VISIT_TYPE, MICRO_SCLEROTHERAPY_SESSION, "Micro-sclerotherapy session"
    )
