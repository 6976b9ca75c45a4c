"""Writing the audit trail: who did what to which record, in the same transaction as the change.
Events are only ever added, never changed (searching them: `app.audit`)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.models import (
    AuditEvent,
    AuditOutcome,
    Evaluation,
    TreatmentPlan,
    TreatmentSession,
    utcnow,
    uuid7,
)

ActorKind = Literal["user", "api-key", "anonymous", "system"]


class Resource(enum.StrEnum):
    """The kinds of record the trail names."""

    PATIENT = "patient"
    EVALUATION = "evaluation"
    TREATMENT_PLAN = "treatment-plan"
    SESSION = "session"
    PRACTITIONER = "practitioner"
    USER = "user"
    API_KEY = "api-key"
    AUDIT_TRAIL = "audit-trail"


@dataclass(frozen=True)
class Actor:
    """Who acted, as the trail names them, and the request it happened in."""

    kind: ActorKind
    id: uuid.UUID | None
    name: str
    role: str | None
    request_id: str


def command_line(command: str) -> Actor:
    """The actor for what an operator does with the `sclerosched` command."""
    return Actor(kind="system", id=None, name=f"sclerosched {command}", role=None, request_id="-")


@dataclass(frozen=True)
class Access:
    """One record touched: the record and the patient it belongs to."""

    resource_id: uuid.UUID | None
    patient_id: uuid.UUID | None


@dataclass(frozen=True)
class Changed:
    """A field's value before and after an update."""

    old: Any
    new: Any


class AuditTrail:
    """Writes events in the caller's transaction: they commit, or vanish, with the change."""

    def __init__(self, db: Session, actor: Actor) -> None:
        self._db = db
        self._actor = actor
        # The record the last event named, and its patient: what a write was about (an answer
        # given again to a retry is recorded against it, `app.web.routes`).
        self.last: tuple[Resource, Access] | None = None

    def record(
        self,
        action: str,
        resource_type: Resource,
        resource_id: uuid.UUID | None,
        *,
        patient_id: uuid.UUID | None,
        changes: Mapping[str, Changed] | None = None,
        detail: str | None = None,
    ) -> None:
        """One event; `changes` keeps the old and new value of each clinical field an update
        changed (a weight, a plan's notes), so that no value is ever lost; `detail` says how
        it was done, when that matters (on another practitioner's behalf), never patient data."""
        row = _row(
            self._actor,
            action,
            resource_type,
            Access(resource_id, patient_id),
            AuditOutcome.SUCCESS,
            detail,
        )
        if changes:
            row["changes"] = {name: {"old": c.old, "new": c.new} for name, c in changes.items()}
        self._db.execute(_INSERT, row)
        self.last = (resource_type, Access(resource_id, patient_id))

    def record_list(self, resource_type: Resource, accesses: Iterable[Access]) -> None:
        """One `list` event for the records a list showed (none: nothing shown, no event),
        naming every record and every patient they belong to (`resource_ids`,
        `patient_ids`); `patient_id` too when they are all one patient's."""
        shown = list(accesses)
        if shown:
            self._db.execute(_INSERT, self._shown("list", resource_type, shown, None))

    def record_search(
        self, resource_type: Resource, accesses: Iterable[Access], *, by: str
    ) -> None:
        """One `search` event, found or not (that someone looked is itself a disclosure):
        what it searched by (`by`, in `detail`: "identifier", "name"; never the value sought)
        and, as `record_list` names them, every record it returned."""
        row = self._shown("search", resource_type, list(accesses), f"by {by}")
        self._db.execute(_INSERT, row)

    def _shown(
        self, action: str, resource_type: Resource, shown: list[Access], detail: str | None
    ) -> dict[str, object]:
        patients = list(dict.fromkeys(a.patient_id for a in shown if a.patient_id is not None))
        row = _row(
            self._actor,
            action,
            resource_type,
            Access(None, patients[0] if len(patients) == 1 else None),
            AuditOutcome.SUCCESS,
            detail,
        )
        row["resource_ids"] = [str(a.resource_id) for a in shown]
        row["patient_ids"] = [str(p) for p in patients]
        return row

    def record_denied(
        self, action: str, resource_type: Resource, access: Access, detail: str
    ) -> None:
        """An attempt that was refused (a role without the permission, a failed login), or a
        refusal that showed something (a patient's flags, that an id names no record):
        `detail` says which (`403 ...`, `409 eligibility-blocked`, `404 not-found`)."""
        row = _row(self._actor, action, resource_type, access, AuditOutcome.DENIED, detail)
        self._db.execute(_INSERT, row)


# A plain insert, built once: no ORM bookkeeping for the row nearly every request adds.
_INSERT = insert(AuditEvent.metadata.tables[AuditEvent.__tablename__])


def _row(
    actor: Actor,
    action: str,
    resource_type: Resource,
    access: Access,
    outcome: AuditOutcome,
    detail: str | None,
) -> dict[str, object]:
    return {
        "id": uuid7(),
        "at": utcnow(),
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor_name": actor.name[:100],
        "role": actor.role,
        "action": action,
        "resource_type": resource_type,
        "resource_id": access.resource_id,
        "patient_id": access.patient_id,
        "request_id": actor.request_id[:64],
        "outcome": outcome,
        "detail": detail[:200] if detail else None,
    }


_PATIENT_COLUMNS = {
    Resource.EVALUATION: Evaluation.patient_id,
    Resource.TREATMENT_PLAN: TreatmentPlan.patient_id,
    Resource.SESSION: TreatmentSession.patient_id,
}


def patient_of(
    *, db: Session, resource_type: Resource, resource_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The patient a record belongs to, if it is a patient's record and exists."""
    if resource_id is None:
        return None
    if resource_type is Resource.PATIENT:
        return resource_id
    column = _PATIENT_COLUMNS.get(resource_type)
    if column is None:
        return None
    primary_key = column.class_.id
    return db.scalar(select(column).where(primary_key == resource_id))
