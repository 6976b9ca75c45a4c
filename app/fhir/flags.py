"""Flag: a patient's current eligibility flags (their standing's, by the same rules booking
asks: `app.evaluations.service.standing_flags`) as alerts an EHR can show. Only what stands
now is a Flag: a flag a newer evaluation no longer raises is gone (no `inactive` Flags).

A Flag's id names the patient and the flag: the patient's id in hex, a hyphen, and the flag
code's short key (`FLAG_KEYS`). FHIR ids are at most 64 characters, too few for a UUID and
the longest codes; the keys are declared once, here, and never reused for another code.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.errors import NotFound
from app.evaluations.service import StandingFlag, StandingFlags, standing_flags
from app.fhir.capability import Interaction
from app.fhir.codes import CodeSystem, coding
from app.fhir.criteria import Criteria
from app.fhir.datatypes import instant, reference
from app.fhir.search import InvalidSearch, SearchQuery
from app.fhir.search import reference as reference_param
from app.fhir.search import token as token_param
from app.vocabulary import FlagCode, Severity

READ = Interaction("Flag", "read", id_param="flag_id")
SEARCH = Interaction(
    "Flag",
    "search-type",
    search=(
        reference_param("patient", "Patient", "Required: the patient, `Patient/<id>` or `<id>`."),
        token_param(
            "status",
            "active: the flags that stand now (every Flag here is); inactive or "
            "entered-in-error: none.",
        ),
    ),
)

FLAG_KEYS: dict[FlagCode, str] = {
    FlagCode.VARICOSE_TREATMENT_FIRST: "varicose",
    FlagCode.VENOUS_WORK_UP_NEEDED: "work-up",
    FlagCode.FACIAL_VEINS_EXCLUDED: "face",
    FlagCode.COUNSELLING_INCOMPLETE: "counselling",
    FlagCode.RISK_FACTOR_UNKNOWN: "risk-unknown",
    FlagCode.SCLEROSANT_ALLERGY: "allergy",
    FlagCode.ACUTE_THROMBOSIS: "acute-thrombosis",
    FlagCode.LOCAL_INFECTION: "infection",
    FlagCode.IMMOBILITY: "immobility",
    FlagCode.RIGHT_TO_LEFT_SHUNT: "shunt",
    FlagCode.HORMONAL_CONTRACEPTION: "contraception",
    FlagCode.HISTORY_OF_BLOOD_CLOTS: "blood-clots",
    FlagCode.THROMBOPHILIA: "thrombophilia",
    FlagCode.HORMONE_REPLACEMENT_THERAPY: "hrt",
    FlagCode.PREGNANCY: "pregnancy",
    FlagCode.BREASTFEEDING: "breastfeeding",
    FlagCode.PERIPHERAL_ARTERIAL_DISEASE: "arterial-disease",
    FlagCode.EVALUATION_MISSING: "no-evaluation",
    FlagCode.EVALUATION_EXPIRED: "expired",
    FlagCode.EVALUATION_EXPIRES_BEFORE_SESSION: "expires-early",
    FlagCode.EVALUATION_RECORDED_LATER: "recorded-later",
    FlagCode.PATIENT_ARCHIVED: "archived",
    FlagCode.INACTIVE_PRACTITIONER: "inactive-practitioner",
    FlagCode.OUTSIDE_AVAILABILITY: "outside-hours",
    FlagCode.INTERVAL_TOO_SHORT: "interval",
    FlagCode.PLAN_NOT_ACTIVE: "plan-not-active",
    FlagCode.INACTIVE_ROOM: "inactive-room",
    FlagCode.ROOM_CLOSED: "room-closed",
    FlagCode.WEIGHT_MISSING: "no-weight",
    FlagCode.WEIGHT_FROM_EARLIER_RECORD: "earlier-weight",
    FlagCode.WEIGHT_NOT_CLINICAL: "weight-not-clinical",
    FlagCode.LOWER_WEIGHT_ON_RECORD: "lower-weight",
    FlagCode.STATED_WEIGHT_ABOVE_RECORD: "higher-weight",
    FlagCode.FOUND_SINCE_TREATMENT: "found-since",
    FlagCode.OUTSIDE_LABEL_CONCENTRATION: "label-concentration",
    FlagCode.OUTSIDE_LABEL_INJECTION_VOLUME: "label-injection-volume",
    FlagCode.OUTSIDE_LABEL_SESSION_VOLUME: "label-session-volume",
}
_CODES_BY_KEY = {key: code for code, key in FLAG_KEYS.items()}
_FLAG_ID = re.compile(r"^([0-9a-f]{32})-([a-z-]{1,31})$")

# HL7's flag categories (http://terminology.hl7.org/CodeSystem/flag-category, FHIR R4's
# code system page lists `clinical` "Clinical" and `admin` "Administrative"): a patient's
# archiving is administrative, every other flag clinical.
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
_ADMINISTRATIVE = frozenset({FlagCode.PATIENT_ARCHIVED})


def flag_id(patient_id: uuid.UUID, code: FlagCode) -> str:
    """The id of the patient's Flag for `code`."""
    return f"{patient_id.hex}-{FLAG_KEYS[code]}"


def read_flag_id(text: str) -> tuple[uuid.UUID, FlagCode] | None:
    """The patient and flag code a Flag id names; None if it names none."""
    found = _FLAG_ID.match(text)
    if found is None or found.group(2) not in _CODES_BY_KEY:
        return None
    return uuid.UUID(found.group(1)), _CODES_BY_KEY[found.group(2)]


def flags(standing: StandingFlags) -> list[dict[str, Any]]:
    """The patient's standing flags, each as a Flag (a code once: its id names it)."""
    return [flag(standing, shown) for shown in _each_code_once(standing)]


def _each_code_once(standing: StandingFlags) -> list[StandingFlag]:
    seen: dict[FlagCode, StandingFlag] = {}
    for shown in standing.flags:
        seen.setdefault(shown.flag.code, shown)
    return list(seen.values())


def read_flag(*, db: Session, text: str, now: datetime) -> tuple[uuid.UUID, dict[str, Any]]:
    """The patient and the Flag an id names, if it stands now; else `NotFound` (no such
    patient, or the flag no longer stands: a newer evaluation cleared it)."""
    named = read_flag_id(text)
    standing = standing_flags(db=db, patient_id=named[0], now=now) if named else None
    if named is None or standing is None:
        raise NotFound(f"No Flag with id {text[:64]}.")
    for shown in _each_code_once(standing):
        if shown.flag.code is named[1]:
            return named[0], flag(standing, shown)
    raise NotFound(f"Flag {text} does not stand now: the patient's standing no longer raises it.")


@dataclass(frozen=True)
class Found:
    """A page of the Flags a search matched, the cursor of the next page, and the patient
    whose standing was read (None: none was, the patient being unknown or the search
    asking for no current flag)."""

    resources: list[dict[str, Any]]
    next_cursor: str | None
    read_of: uuid.UUID | None


def search(
    *, db: Session, query: SearchQuery, now: datetime, limit: int, cursor: str | None
) -> Found:
    """The patient's current flags, a page at a time (a patient has a few: most answers are
    one page)."""
    if not query.all("patient"):
        raise InvalidSearch("A Flag search names the patient: `patient=Patient/<id>`.")
    asked = Criteria(query)
    patient_id = asked.one_record("patient")
    asked.codes("status", {"active": True}, {"inactive", "entered-in-error"})
    if asked.matches_nothing or patient_id is None:
        return Found([], None, None)
    standing = standing_flags(db=db, patient_id=patient_id, now=now)
    if standing is None:
        return Found([], None, None)
    shown = flags(standing)
    start = _offset(cursor)
    following = start + limit
    next_cursor = str(following) if following < len(shown) else None
    return Found(shown[start:following], next_cursor, patient_id)


def _offset(cursor: str | None) -> int:
    """Where a page starts among the patient's flags (the cursor is this server's own, sealed
    for this search: a number)."""
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 3:
        raise InvalidSearch("`_cursor` is not one this server issued for this search.")
    return int(cursor)


def flag(standing: StandingFlags, shown: StandingFlag) -> dict[str, Any]:
    """One flag of the patient's standing as a Flag: `active` (only what stands now is shown),
    categorised clinical or administrative and by its severity, coded in the project's flag
    code system with its message; since when it stands and who found it, when known."""
    code = shown.flag.code
    category = "admin" if code in _ADMINISTRATIVE else "clinical"
    display = "Administrative" if category == "admin" else "Clinical"
    severity = Severity(shown.flag.severity)
    resource: dict[str, Any] = {
        "resourceType": "Flag",
        "id": flag_id(standing.patient_id, code),
        "status": "active",
        "category": [
            {"coding": [{"system": FLAG_CATEGORY, "code": category, "display": display}]},
            {"coding": [coding(CodeSystem.FLAG_SEVERITY, severity.value)]},
        ],
        "code": {
            "coding": [coding(CodeSystem.FLAG, code.value, shown.flag.message)],
            "text": shown.flag.message,
        },
        "subject": reference("Patient", standing.patient_id),
    }
    if shown.since is not None:
        resource["period"] = {"start": instant(shown.since)}
    if shown.found_by is not None:
        resource["author"] = reference("Practitioner", shown.found_by)
    resource["meta"] = {
        "versionId": _version(resource),
        "lastUpdated": instant(standing.changed_at),
    }
    return resource


def _version(resource: dict[str, Any]) -> str:
    """A computed Flag's version: a digest of what it says, so that it changes exactly when
    the Flag does (it is stored nowhere, and has no counter of its own)."""
    content = json.dumps(resource, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.blake2b(content, digest_size=8).hexdigest()
