"""Writing the audit trail: who did what to which record, in the same transaction as the change.
Events are only ever added, never changed (searching them: `app.audit`), each linked to the one
before it (`app.event_hashes`).

An `AuditTrail` keeps its events until its session commits, and writes them just before: linking
an event locks the chain's head until the transaction ends, so that lock is held for the insert
and the commit only, never while the request works. Events of a transaction rolled back (or a
session closed without committing) are never written.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Insert,
    Row,
    Select,
    bindparam,
    cast,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session, SessionTransaction

from app.db import WRITES_AT_ONCE
from app.event_hashes import content_digest, link
from app.models import (
    AuditChainHead,
    AuditEvent,
    AuditOutcome,
    Consent,
    Evaluation,
    SiteReview,
    TreatmentPlan,
    TreatmentSession,
    utcnow,
    uuid7,
)

# `calendar-feed`: a practitioner's feed, read by whoever holds its secret URL.
ActorKind = Literal["user", "api-key", "anonymous", "system", "calendar-feed"]


class Resource(enum.StrEnum):
    """The kinds of record the trail names."""

    PATIENT = "patient"
    EVALUATION = "evaluation"
    CONSENT = "consent"
    TREATMENT_PLAN = "treatment-plan"
    SESSION = "session"
    REVIEW = "review"  # of a course's treated sites
    WAITLIST_ENTRY = "waitlist-entry"
    WAITLIST_OFFER = "waitlist-offer"  # a freed slot offered (held) to a waiting patient
    PRACTITIONER = "practitioner"
    LOCATION = "location"
    ROOM = "room"  # its closures too
    USER = "user"
    API_KEY = "api-key"
    WEBHOOK = "webhook"
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
    """Writes events in the caller's transaction: they commit, or vanish, with the change
    (kept by the session until it commits, and written then)."""

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
        _pending(self._db).append(row)
        self.last = (resource_type, Access(resource_id, patient_id))

    def read_recorded(
        self,
        query: Select[Any],
        params: Mapping[str, Any],
        *,
        found: ColumnElement[bool],
        action: str,
        resource_type: Resource,
        resource_id: uuid.UUID,
        patient_id: uuid.UUID | None,
    ) -> Sequence[Row[Any]]:
        """The rows of `query` (a read of one record), and the event `record` would keep for
        it. Where each statement of the session commits on its own (PostgreSQL, a request
        that only looks), the event is inserted, linked to the chain, by the query's own
        statement if `found` holds (the record exists): one round trip instead of two, and
        no event for a record that is not there (its refusal is recorded as such)."""
        if not self._db.info.get(WRITES_AT_ONCE):
            rows = self._db.execute(query, params).all()
            self.record(action, resource_type, resource_id, patient_id=patient_id)
            return rows
        access = Access(resource_id, patient_id)
        row = _row(self._actor, action, resource_type, access, AuditOutcome.SUCCESS, None)
        values = {f"event_{name}": value for name, value in row.items()}
        values["digest"] = content_digest(row).hex()
        statement = _carrying(query, found, frozenset(row))
        # Plain columns, no ORM object: on the session's connection, past the ORM's execution.
        rows = self._db.connection().execute(statement, {**params, **values}).all()
        if rows:
            self.last = (resource_type, access)
        return rows

    def record_list(
        self,
        resource_type: Resource,
        accesses: Iterable[Access],
        *,
        of_patient: uuid.UUID | None = None,
    ) -> None:
        """One `list` event for the records a list showed (none: nothing shown, no event),
        naming every record and every patient they belong to (`resource_ids`,
        `patient_ids`); `patient_id` too when they are all one patient's. A list filtered by
        a patient (`of_patient`) tells about them even empty (that they have none): one
        event naming them all the same."""
        shown = list(accesses)
        if shown or of_patient is not None:
            row = self._shown("list", resource_type, shown, None, of_patient=of_patient)
            _pending(self._db).append(row)

    def record_search(
        self, resource_type: Resource, accesses: Iterable[Access], *, by: str
    ) -> None:
        """One `search` event, found or not (that someone looked is itself a disclosure):
        what it searched by (`by`, in `detail`: "identifier", "name"; never the value sought)
        and, as `record_list` names them, every record it returned."""
        _pending(self._db).append(self._shown("search", resource_type, list(accesses), f"by {by}"))

    def _shown(
        self,
        action: str,
        resource_type: Resource,
        shown: list[Access],
        detail: str | None,
        *,
        of_patient: uuid.UUID | None = None,
    ) -> dict[str, object]:
        found = (a.patient_id for a in shown if a.patient_id is not None)
        first = () if of_patient is None else (of_patient,)
        patients = list(dict.fromkeys((*first, *found)))
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
        _pending(self._db).append(row)


# The events a session keeps until it commits (in `Session.info`).
_PENDING = "sclerosched.audit.pending"


def _pending(db: Session) -> list[dict[str, object]]:
    """The session's events to write; kept by its transaction (begun now if none is, with no
    I/O yet), so that a rollback drops them even before the session has done anything."""
    if db.get_transaction() is None:
        db.begin()
    rows: list[dict[str, object]] = db.info.setdefault(_PENDING, [])
    return rows


def nothing_to_commit(db: Session) -> bool:
    """Whether committing `db` would write nothing: its statements each committed on their
    own (PostgreSQL, a request that only looks) and it holds no event to write and no object
    to flush. Such a session is closed without a commit (a driver call saved a request)."""
    return bool(
        db.info.get(WRITES_AT_ONCE)
        and not db.info.get(_PENDING)
        and not (db.new or db.dirty or db.deleted)
    )


@event.listens_for(Session, "before_commit")
def _write_pending(db: Session) -> None:
    """Just before a session commits: its events, linked to the chain."""
    rows = db.info.pop(_PENDING, None)
    if not rows:
        return
    if db.get_bind().dialect.name == "postgresql":
        for row in rows:
            params = {f"event_{name}": value for name, value in row.items()}
            params["digest"] = content_digest(row).hex()
            db.execute(_linked_insert(frozenset(row)), params)
    else:
        _append_in_python(db, rows)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(db: Session, transaction: SessionTransaction) -> None:
    """A transaction that ended without committing takes its events with it."""
    if transaction.parent is None:
        db.info.pop(_PENDING, None)


_EVENTS = AuditEvent.metadata.tables[AuditEvent.__tablename__]
_HEAD = AuditChainHead.metadata.tables[AuditChainHead.__tablename__]

# PostgreSQL: one statement an event, the link made by the database. Updating the head's one
# row locks it until the transaction ends (a second writer waits, then reads the new head),
# and gives the event its place, the hash before it and its own: SHA-256 over that hash and
# the digest of the event's fields (`app.event_hashes`). No head, no event: its columns are
# NOT NULL. Built once: no ORM bookkeeping for the row nearly every request adds.
_LINK_VALUES = {
    "seq": _HEAD.c.seq + 1,
    "previous_hash": _HEAD.c.hash,
    "hash": func.encode(
        func.sha256(
            func.decode(_HEAD.c.hash, "hex").op("||")(func.decode(bindparam("digest"), "hex"))
        ),
        "hex",
    ),
}
_LINK = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(_LINK_VALUES)
    .returning(_HEAD.c.seq, _HEAD.c.previous_hash, _HEAD.c.hash)
    .cte("link")
)


@functools.cache
def _linked_insert(columns: frozenset[str]) -> Insert:
    """The insert of an event with these columns (the others NULL), linked by `_LINK`. Its
    parameters are named apart (`event_id`), else the head's update would take them too."""
    values: dict[str, Any] = {
        name: bindparam(f"event_{name}", type_=_EVENTS.c[name].type) for name in columns
    }
    values["seq"] = select(_LINK.c.seq).scalar_subquery()
    values["previous_hash"] = select(_LINK.c.previous_hash).scalar_subquery()
    values["hash"] = select(_LINK.c.hash).scalar_subquery()
    return insert(_EVENTS).values(values).add_cte(_LINK)


@functools.cache
def _carrying(
    query: Select[Any], found: ColumnElement[bool], columns: frozenset[str]
) -> Select[Any]:
    """`query` inserting an event with these columns, linked to the chain as `_LINK` does, if
    `found` holds (built once a query). The head is updated, and the event inserted, from
    rows: none when `found` does not hold."""
    link = (
        update(_HEAD)
        .where(_HEAD.c.id == 1, found)
        .values(_LINK_VALUES)
        .returning(_HEAD.c.seq, _HEAD.c.previous_hash, _HEAD.c.hash)
        .cte("link")
    )
    names = sorted(columns)
    typed = [
        cast(bindparam(f"event_{name}", type_=_EVENTS.c[name].type), _EVENTS.c[name].type)
        for name in names
    ]
    chained = select(*typed, link.c.seq, link.c.previous_hash, link.c.hash)
    event_insert = insert(_EVENTS).from_select([*names, "seq", "previous_hash", "hash"], chained)
    return query.add_cte(link, event_insert.cte("event"))


# SQLite: the request holds the database's one write lock already; the head is taken first
# (a write, so a transaction begun without that lock takes it now), then linked in Python.
_TAKE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq + bindparam("count"))
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_INSERT = insert(_EVENTS)


def _append_in_python(db: Session, rows: list[dict[str, object]]) -> None:
    last, previous = db.execute(_TAKE_HEAD, {"count": len(rows)}).one()
    seq = last - len(rows)
    for row in rows:
        seq += 1
        row["seq"], row["previous_hash"] = seq, previous
        previous = row["hash"] = link(previous, content_digest(row))
        db.execute(_INSERT, row)
    before_last = rows[-1]["previous_hash"]
    db.execute(
        update(_HEAD).where(_HEAD.c.id == 1).values(hash=previous, previous_hash=before_last)
    )


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
    Resource.CONSENT: Consent.patient_id,
    Resource.TREATMENT_PLAN: TreatmentPlan.patient_id,
    Resource.SESSION: TreatmentSession.patient_id,
    Resource.REVIEW: SiteReview.patient_id,
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
