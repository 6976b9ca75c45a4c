"""FHIR Patient: the patient's record mapped, and the search an EHR runs to find one. No web
framework; the read itself is the REST API's (`app.patients.service.read_patient`: the same
statement and the same audit event)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session, selectinload

from app.fhir.capability import Interaction
from app.fhir.datatypes import meta
from app.fhir.search import (
    DateRange,
    InvalidSearch,
    SearchQuery,
    Text,
    Token,
    Value,
    calendar_date,
    string,
    token,
)
from app.models import Patient, PatientIdentifier
from app.pagination import Keyset, cursor_uuid, paginate

READ = Interaction("Patient", "read", id_param="patient_id")
SEARCH = Interaction(
    "Patient",
    "search-type",
    search=(
        token("_id", "The patient's id; several, comma-separated, match any of them."),
        token(
            "identifier",
            "An identifier other systems know the patient by: `system|value`, or the value "
            "alone in any system.",
        ),
        string(
            "name",
            "The start of the family or the given name, ignoring case (`:exact` as written, "
            "`:contains` anywhere). Accents count, as in the REST API's search.",
        ),
        string("family", "The start of the family name, ignoring case (as `name`)."),
        string("given", "The start of the given name, ignoring case (as `name`)."),
        calendar_date(
            "birthdate", "The birth date: YYYY, YYYY-MM or YYYY-MM-DD, with eq, ge, le, gt, lt."
        ),
        token(
            "active",
            "true: patients on file (the default, as in the REST API's list); false: archived "
            "patients.",
        ),
    ),
)

_BY_NAME = Keyset(
    columns=(Patient.family_key, Patient.given_key, Patient.id), parsers=(str, str, cursor_uuid)
)


def patient_resource(patient: Mapping[str, Any]) -> dict[str, Any]:
    """A patient's record (its columns, and `identifiers` as `{system, value}`s) as a FHIR
    Patient."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient["id"]),
        "meta": meta(patient["version"], patient["updated_at"]),
    }
    if patient["identifiers"]:
        resource["identifier"] = [
            {"system": i["system"], "value": i["value"]} for i in patient["identifiers"]
        ]
    resource["active"] = not patient["archived"]
    resource["name"] = [{"family": patient["family_name"], "given": [patient["given_name"]]}]
    telecom = [
        {"system": kind, "value": patient[kind]} for kind in ("phone", "email") if patient[kind]
    ]
    if telecom:
        resource["telecom"] = telecom
    resource["gender"] = str(patient["sex"])  # the model's sex is FHIR's AdministrativeGender
    resource["birthDate"] = patient["birth_date"].isoformat()
    return resource


def _record(patient: Patient) -> dict[str, Any]:
    return {
        "id": patient.id,
        "version": patient.version,
        "updated_at": patient.updated_at,
        "identifiers": [{"system": i.system, "value": i.value} for i in patient.identifiers],
        "archived": patient.archived,
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "phone": patient.phone,
        "email": patient.email,
        "sex": patient.sex,
        "birth_date": patient.birth_date,
    }


def search_patients(
    *, db: Session, query: SearchQuery, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], list[uuid.UUID], str | None]:
    """A page of the patients matching `query`, ordered by family then given name: their
    Patient resources, their ids, and the cursor of the next page (None: the last)."""
    statement: Select[Any] = select(Patient).options(selectinload(Patient.identifiers))
    statement = statement.where(_active(query.all("active")))
    for name, column in _CONDITIONS.items():
        for alternatives in query.all(name):
            statement = statement.where(or_(*(column(value) for value in alternatives)))
    found, next_cursor = paginate(db, statement, _BY_NAME, limit=limit, cursor=cursor)
    patients: Sequence[Patient] = found
    return [patient_resource(_record(p)) for p in patients], [p.id for p in patients], next_cursor


def _active(occurrences: list[tuple[Value, ...]]) -> ColumnElement[bool]:
    """Archived patients leave the search, as they leave the REST API's list, unless asked
    for (`active=false`)."""
    wanted = {True, False} if occurrences else {True}
    for alternatives in occurrences:
        wanted &= {_boolean(value) for value in alternatives}
    if wanted == {True, False}:
        return true()  # `active=true,false`: everyone
    if wanted == {True}:
        return Patient.archived.is_(False)
    if wanted == {False}:
        return Patient.archived.is_(True)
    return false()


def _boolean(value: Value) -> bool:
    if isinstance(value, Token) and value.system is None and value.code in ("true", "false"):
        return value.code == "true"
    raise InvalidSearch("`active` is true or false.")


def _by_id(value: Value) -> ColumnElement[bool]:
    assert isinstance(value, Token)
    if value.system is not None:
        raise InvalidSearch("`_id` takes ids alone, not `system|value`.")
    try:
        return Patient.id == uuid.UUID(value.code)
    except ValueError:
        return false()  # no record has that id


def _by_identifier(value: Value) -> ColumnElement[bool]:
    assert isinstance(value, Token)
    if value.system == "":
        return false()  # `|value`: an identifier without a system, which none is
    match = PatientIdentifier.value == value.code
    if value.system is not None:
        match = and_(PatientIdentifier.system == value.system, match)
    return Patient.identifiers.any(match)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text(value: Value, key: Any, written: Any) -> ColumnElement[bool]:
    """A string search on one name: starts with (ignoring case, as the REST API's search
    folds case), `:contains`, or `:exact` (as written)."""
    assert isinstance(value, Text)
    if value.modifier == "exact":
        return written == value.value  # type: ignore[no-any-return]
    if len(value.value) > 100:
        return false()  # no name is longer
    term = _escape_like(value.value.casefold())
    pattern = f"%{term}%" if value.modifier == "contains" else f"{term}%"
    return key.like(pattern, escape="\\")  # type: ignore[no-any-return]


def _by_family(value: Value) -> ColumnElement[bool]:
    return _text(value, Patient.family_key, Patient.family_name)


def _by_given(value: Value) -> ColumnElement[bool]:
    return _text(value, Patient.given_key, Patient.given_name)


def _by_name(value: Value) -> ColumnElement[bool]:
    return or_(_by_family(value), _by_given(value))


def _by_birthdate(value: Value) -> ColumnElement[bool]:
    assert isinstance(value, DateRange)
    born = Patient.birth_date
    match value.prefix:
        case "eq":
            return and_(born >= value.low, born < value.high)
        case "ge":
            return born >= value.low
        case "gt":
            return born >= value.high
        case "le":
            return born < value.high
        case "lt":
            return born < value.low
    return true()  # pragma: no cover - the parser takes no other prefix


_CONDITIONS = {
    "_id": _by_id,
    "identifier": _by_identifier,
    "name": _by_name,
    "family": _by_family,
    "given": _by_given,
    "birthdate": _by_birthdate,
}
