"""FHIR Practitioner (and the search Schedule shares): the clinicians, mapped, and found by
name, identifier and whether they practise. No web framework."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.fhir.capability import Interaction
from app.fhir.codes import IdentifierSystem
from app.fhir.datatypes import meta
from app.fhir.search import InvalidSearch, Ref, SearchQuery, Text, Token, Value, string, token
from app.models import Practitioner
from app.pagination import Keyset, cursor_uuid, paginate

READ = Interaction("Practitioner", "read", id_param="practitioner_id")
SEARCH = Interaction(
    "Practitioner",
    "search-type",
    search=(
        string(
            "name",
            "The start of any word of the practitioner's name, ignoring case (`:exact` as "
            "written, `:contains` anywhere).",
        ),
        token(
            "identifier",
            f"`{IdentifierSystem.PRACTITIONER_ID}|<id>` (or the id alone): practitioners "
            "are identified by their id.",
        ),
        token("active", "true: practitioners who see patients; false: those who no longer do."),
    ),
)

_BY_NAME = Keyset(columns=(Practitioner.name_key, Practitioner.id), parsers=(str, cursor_uuid))


def identifier(practitioner_id: uuid.UUID) -> dict[str, str]:
    """A practitioner's one identifier: their id, in the project's system (the model keeps no
    other)."""
    return {"system": IdentifierSystem.PRACTITIONER_ID.value, "value": str(practitioner_id)}


def practitioner_resource(practitioner: Practitioner) -> dict[str, Any]:
    """A practitioner as a FHIR Practitioner. The model keeps one name as written
    ("Dr Amélie Laurent"): it is the name's `text`, never split into guessed parts."""
    return {
        "resourceType": "Practitioner",
        "id": str(practitioner.id),
        "meta": meta(practitioner.version, practitioner.updated_at),
        "identifier": [identifier(practitioner.id)],
        "active": practitioner.active,
        "name": [{"text": practitioner.name}],
    }


def get_practitioner(*, db: Session, practitioner_id: uuid.UUID, kind: str) -> Practitioner:
    """The practitioner (without their hours), or `NotFound` naming the FHIR `kind` asked."""
    found = db.scalar(select(Practitioner).where(Practitioner.id == practitioner_id))
    if found is None:
        raise NotFound(f"No {kind} with id {practitioner_id}.")
    return found


def search_practitioners(
    *, db: Session, query: SearchQuery, limit: int, cursor: str | None, ids: str | None = None
) -> tuple[Sequence[Practitioner], str | None]:
    """A page of the practitioners matching `query` (its `name`, `identifier`, `active`;
    `ids`: the name of a reference parameter naming them, as Schedule's `actor`), ordered by
    name, and the cursor of the next page."""
    statement: Select[Any] = select(Practitioner)
    conditions = {"name": _by_name, "identifier": _by_identifier, "active": _by_active}
    if ids is not None:
        conditions[ids] = _by_reference
    for name, condition in conditions.items():
        for alternatives in query.all(name):
            statement = statement.where(or_(*(condition(value) for value in alternatives)))
    return paginate(db, statement, _BY_NAME, limit=limit, cursor=cursor)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _by_name(value: Value) -> ColumnElement[bool]:
    assert isinstance(value, Text)
    if value.modifier == "exact":
        return Practitioner.name == value.value
    if len(value.value) > 200:
        return false()  # no name is longer
    term = _escape_like(value.value.casefold())
    if value.modifier == "contains":
        return Practitioner.name_key.like(f"%{term}%", escape="\\")
    # The name is one text: any of its words may be the part sought.
    return or_(
        Practitioner.name_key.like(f"{term}%", escape="\\"),
        Practitioner.name_key.like(f"% {term}%", escape="\\"),
    )


def _by_identifier(value: Value) -> ColumnElement[bool]:
    assert isinstance(value, Token)
    if value.system not in (None, IdentifierSystem.PRACTITIONER_ID.value):
        return false()  # no identifier in another system
    return _id_is(value.code)


def _id_is(text: str) -> ColumnElement[bool]:
    try:
        return Practitioner.id == uuid.UUID(text)
    except ValueError:
        return false()


def _by_active(value: Value) -> ColumnElement[bool]:
    if isinstance(value, Token) and value.system is None and value.code in ("true", "false"):
        return Practitioner.active.is_(value.code == "true")
    raise InvalidSearch("`active` is true or false.")


def _by_reference(value: Value) -> ColumnElement[bool]:
    assert isinstance(value, Ref)
    return false() if value.id is None else Practitioner.id == value.id
