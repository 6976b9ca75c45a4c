"""Procedure: each completed session with its treatment record (what was given, where, how
much, what followed). Its id is the session's, as the Appointment's is.

A fulfilled session is a `completed` Procedure; one marked entered in error after it was
fulfilled is `entered-in-error` (the record stays: the sclerosant was given). The treatment
record is clinical detail: only roles that may read it see a Procedure at all.

The lines of injections: FHIR R4's Procedure has no element for what was injected where, in
what amount (FHIR would say it in MedicationAdministration resources, part of the Procedure,
which this interface does not serve). So `bodySite` lists the sites treated, `usedCode` the
sclerosants given, and each line is one complex extension (`injection`): its site, vessel,
sclerosant, concentration, form, for a foam its liquid-to-gas ratio (a Ratio) and gas, its
volume, how many injections and the dose it gave. A record of one line (as every record
written before lines were kept) also carries, as before, the Procedure-level concentration,
volume and dose; one of several lines does not: no single figure would be true of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.errors import NotFound
from app.fhir.appointments import StoredSession
from app.fhir.capability import Interaction
from app.fhir.codes import CodeSystem, concept, visit_type
from app.fhir.criteria import Criteria
from app.fhir.datatypes import instant, meta, reference
from app.fhir.search import SearchQuery
from app.fhir.search import instant as instant_param
from app.fhir.search import reference as reference_param
from app.models import CompletionRecord, InjectionLine, TreatmentSession
from app.sessions import listing
from app.vocabulary import Anaesthetic, SessionStatus

STRUCTURE_DEFINITION_BASE = "https://sclerosched.org/fhir/StructureDefinition/"


class Extension:
    """The project's extensions on a Procedure, by their StructureDefinition URLs."""

    CONCENTRATION = STRUCTURE_DEFINITION_BASE + "sclerosant-concentration"
    VOLUME = STRUCTURE_DEFINITION_BASE + "sclerosant-volume"
    DOSE = STRUCTURE_DEFINITION_BASE + "sclerosant-dose"
    COMPRESSION = STRUCTURE_DEFINITION_BASE + "compression"
    # A line of injections: a complex extension, its parts by these names.
    INJECTION = STRUCTURE_DEFINITION_BASE + "injection"


class InjectionPart:
    """The parts of an `injection` extension (relative URLs, as a complex extension's are)."""

    SITE = "site"
    VESSEL = "vessel"
    SCLEROSANT = "sclerosant"
    CONCENTRATION = "concentration"
    FORM = "form"
    FOAM_RATIO = "foamRatio"  # liquid to gas, unitless
    GAS = "gas"
    VOLUME = "volume"
    COUNT = "count"
    DOSE = "dose"


# UCUM units, each checked against FHIR's "Common UCUM units" value set
# (http://hl7.org/fhir/ValueSet/ucum-common), which lists `%` (percent), `mL` (milliliter) and
# `mg` (milligram) in the system http://unitsofmeasure.org.
UCUM = "http://unitsofmeasure.org"
PERCENT = "%"
MILLILITRE = "mL"
MILLIGRAM = "mg"

# The session statuses a Procedure shows, each as the Procedure's status.
PROCEDURE_STATUS: dict[SessionStatus, str] = {
    SessionStatus.FULFILLED: "completed",
    SessionStatus.ENTERED_IN_ERROR: "entered-in-error",
}

# A treatment record's fields, by name, whether it comes as a listed row's or as a record.
Record = Mapping[str, Any]

READ = Interaction("Procedure", "read", id_param="session_id")
SEARCH = Interaction(
    "Procedure",
    "search-type",
    search=(
        reference_param("patient", "Patient", "The patient: `Patient/<id>` or `<id>`."),
        instant_param(
            "date",
            "When the sclerosant was given, compared with eq, ge, gt, le or lt; repeat for a "
            "window. A date is that whole day in the clinic's time zone, a date-time with its "
            "offset its minute or second.",
            ("eq", "ge", "gt", "le", "lt"),
        ),
    ),
)


def procedure(session: StoredSession, record: Record) -> dict[str, Any]:
    """The session's treatment record as a Procedure."""
    lines: Sequence[Record] = record["injections"]
    extensions: list[dict[str, Any]] = []
    if len(lines) == 1:
        [line] = lines
        extensions += [
            _quantity(Extension.CONCENTRATION, line["concentration_percent"], PERCENT),
            _quantity(Extension.VOLUME, line["volume_ml"], MILLILITRE),
            _quantity(Extension.DOSE, line["dose_mg"], MILLIGRAM),
        ]
    extensions.append({"url": Extension.COMPRESSION, "valueBoolean": record["compression"]})
    extensions += [_injection(line) for line in lines]
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": str(session.id),
        "meta": meta(session.version, session.updated_at),
        "extension": extensions,
        "status": PROCEDURE_STATUS[session.status],
        "code": visit_type(),
        "subject": reference("Patient", session.patient_id),
        "performedDateTime": instant(record["administered_at"]),
        "performer": [{"actor": reference("Practitioner", session.practitioner_id)}],
        "bodySite": [concept(CodeSystem.SITE, site) for site in record["treated_sites"]],
    }
    if session.plan_id is not None:
        resource["basedOn"] = [reference("CarePlan", session.plan_id)]
    if record["complications"]:
        resource["complication"] = [
            concept(CodeSystem.COMPLICATION, code) for code in record["complications"]
        ]
    resource["followUp"] = [concept(CodeSystem.AFTERCARE, code) for code in record["aftercare"]]
    if record["notes"]:
        resource["note"] = [{"text": record["notes"]}]
    sclerosants = dict.fromkeys(str(line["sclerosant"]) for line in lines)
    used = [concept(CodeSystem.SCLEROSANT, code) for code in sclerosants]
    if record["anaesthetic"] != Anaesthetic.NONE:
        used.append(concept(CodeSystem.ANAESTHETIC, record["anaesthetic"]))
    resource["usedCode"] = used
    return resource


def _injection(line: Record) -> dict[str, Any]:
    """A line of injections as a complex extension: only the parts it has."""
    parts: list[dict[str, Any]] = []

    def coded(name: str, system: CodeSystem, code: str | None) -> None:
        if code is not None:
            parts.append({"url": name, "valueCodeableConcept": concept(system, str(code))})

    coded(InjectionPart.SITE, CodeSystem.SITE, line["site"])
    coded(InjectionPart.VESSEL, CodeSystem.VESSEL, line["vessel"])
    coded(InjectionPart.SCLEROSANT, CodeSystem.SCLEROSANT, line["sclerosant"])
    parts.append(_quantity(InjectionPart.CONCENTRATION, line["concentration_percent"], PERCENT))
    coded(InjectionPart.FORM, CodeSystem.SCLEROSANT_FORM, line["form"])
    if line["foam_ratio"] is not None:
        liquid, gas = (int(part) for part in str(line["foam_ratio"]).split(":"))
        ratio = {"numerator": {"value": liquid}, "denominator": {"value": gas}}
        parts.append({"url": InjectionPart.FOAM_RATIO, "valueRatio": ratio})
    coded(InjectionPart.GAS, CodeSystem.FOAM_GAS, line["gas"])
    parts.append(_quantity(InjectionPart.VOLUME, line["volume_ml"], MILLILITRE))
    if line["count"] is not None:
        parts.append({"url": InjectionPart.COUNT, "valuePositiveInt": line["count"]})
    parts.append(_quantity(InjectionPart.DOSE, line["dose_mg"], MILLIGRAM))
    return {"url": Extension.INJECTION, "extension": parts}


def _quantity(url: str, value: float, unit: str) -> dict[str, Any]:
    return {
        "url": url,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def record_of(session: TreatmentSession) -> Record | None:
    """A loaded session's treatment record by field (None: none was written)."""
    found = session.completion
    if found is None:
        return None
    record = {c.key: getattr(found, c.key) for c in CompletionRecord.__table__.columns}
    record["injections"] = [
        {c.key: getattr(line, c.key) for c in InjectionLine.__table__.columns}
        for line in found.injections
    ]
    return record


def get_treated_session(*, db: Session, session_id: uuid.UUID) -> tuple[TreatmentSession, Record]:
    """The session a Procedure shows and its treatment record, or `NotFound` (no such
    session, or none treated: booked, cancelled, never fulfilled)."""
    session = db.scalar(
        select(TreatmentSession)
        .options(
            selectinload(TreatmentSession.completion).selectinload(CompletionRecord.injections)
        )
        .where(TreatmentSession.id == session_id)
    )
    record = record_of(session) if session is not None else None
    if session is None or record is None or session.status not in PROCEDURE_STATUS:
        raise NotFound(f"No Procedure with id {session_id}.")
    return session, record


@dataclass(frozen=True)
class Found:
    """A page of the treated sessions a search matched, with their records, the cursor of the
    next page, and the patient the search asked about."""

    treated: Sequence[tuple[StoredSession, Record]]
    next_cursor: str | None
    patient_id: uuid.UUID | None


def search_treated_sessions(
    *, db: Session, query: SearchQuery, now: datetime, limit: int, cursor: str | None
) -> Found:
    """The treated sessions a Procedure search matches, by start, a page at a time."""
    asked = Criteria(query)
    patient_id = asked.one_record("patient")
    given_from, given_before = asked.time_window("date")
    if asked.matches_nothing:
        return Found((), None, patient_id)
    treated, next_cursor = find_treated_sessions(
        db=db,
        now=now,
        patient_id=patient_id,
        given_from=given_from,
        given_before=given_before,
        limit=limit,
        cursor=cursor,
    )
    return Found(treated, next_cursor, patient_id)


def find_treated_sessions(
    *,
    db: Session,
    now: datetime,
    patient_id: uuid.UUID | None,
    given_from: datetime | None,
    given_before: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[tuple[StoredSession, Record]], str | None]:
    """The treated sessions a Procedure search matches, with their records, by start, a page
    at a time: the calendar's own list (`app.sessions.listing`), filtered by when the
    sclerosant was given."""
    page, next_cursor = listing.list_sessions(
        db=db,
        now=now,
        patient_id=patient_id,
        statuses=tuple(PROCEDURE_STATUS),
        recorded=True,
        given_from=given_from,
        given_before=given_before,
        limit=limit,
        cursor=cursor,
        reviewed=False,
        histories=False,
    )
    return [(s, page.completions[s.id]) for s in page.sessions], next_cursor
