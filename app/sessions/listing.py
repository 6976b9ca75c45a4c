"""The calendar as lists: sessions filtered, ordered by start, a page at a time.

A calendar is read far more often than it changes, so a page is read as plain rows (no ORM
objects): the sessions with their completion records, then the records' lines of injections,
then their histories, three statements at most whatever the page's size. On PostgreSQL the
histories come in the page's own statement (each session's as one JSON array): two."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from app.models import (
    AWAITING_TREATMENT,
    LONGEST_SESSION,
    CompletionRecord,
    InjectionLine,
    SessionEvent,
    TreatmentSession,
    UTCDateTime,
    among,
    one_of,
)
from app.pagination import (
    Keyset,
    cursor_datetime,
    cursor_key,
    cursor_of,
    cursor_uuid,
    paginate_kept,
)
from app.sessions.review import Reasons, review
from app.vocabulary import SessionStatus

_SESSIONS = TreatmentSession.metadata.tables[TreatmentSession.__tablename__]
_COMPLETIONS = TreatmentSession.metadata.tables[CompletionRecord.__tablename__]
_EVENTS = TreatmentSession.metadata.tables[SessionEvent.__tablename__]
_LINES = TreatmentSession.metadata.tables[InjectionLine.__tablename__]

# A session's completion record (at most one) comes with it, its columns named so: they never
# clash with the session's own.
_COMPLETION_FIELDS = tuple(
    column.key for column in _COMPLETIONS.c if column.key not in {"id", "session_id"}
)
_PAGE = select(
    _SESSIONS,
    _COMPLETIONS.c.id.label("completion_id"),
    *(_COMPLETIONS.c[key].label(f"completion_{key}") for key in _COMPLETION_FIELDS),
).select_from(_SESSIONS.outerjoin(_COMPLETIONS, _COMPLETIONS.c.session_id == _SESSIONS.c.id))
# A page for a role that may not read completion records: the sessions alone, no record read.
_BARE_PAGE = select(_SESSIONS)
# Where each of a completion record's columns sits in a page's row: read by position, a wide
# row's mapping is not built again for each column of each record.
_COMPLETION_AT = tuple(
    (key, list(_PAGE.selected_columns.keys()).index(f"completion_{key}"))
    for key in _COMPLETION_FIELDS
)
# A record's lines, as `InjectionRead` reads them.
_LINE_FIELDS = tuple(c.key for c in _LINES.c if c.key not in {"id", "completion_id", "position"})
_INJECTIONS = (
    select(_LINES)
    .where(one_of(_LINES.c.completion_id, "completion_ids"))
    .order_by(_LINES.c.completion_id, _LINES.c.position)
)
_HISTORIES = (
    select(_EVENTS).where(one_of(_EVENTS.c.session_id, "session_ids")).order_by(_EVENTS.c.at)
)
# PostgreSQL: each session's history in the page's own row, its events in order as a JSON
# array of objects with the columns of `_HISTORIES`'s rows (moments in ISO 8601, in UTC: the
# connection reads time in UTC), so a list is one round trip fewer.
_EVENT_OBJECT: list[ColumnElement[Any]] = []
for _column in _EVENTS.c:
    _EVENT_OBJECT += [literal_column(f"'{_column.key}'"), _column]
_HISTORY = (
    select(
        func.coalesce(
            func.json_agg(aggregate_order_by(func.json_build_object(*_EVENT_OBJECT), _EVENTS.c.at)),
            text("'[]'::json"),
        )
    )
    .where(_EVENTS.c.session_id == _SESSIONS.c.id)
    .scalar_subquery()
    .label("history")
)

_BY_START = Keyset(
    columns=(TreatmentSession.start_at, TreatmentSession.id),
    parsers=(cursor_datetime, cursor_uuid),
)

# Each filter a list may ask, with its values bound at execution: a calendar is read far more
# often than it changes, and its statement is built once for each combination of filters.
_S = _SESSIONS.c
_FILTERS: dict[str, ColumnElement[bool]] = {
    "practitioner_id": _S.practitioner_id == bindparam("practitioner_id"),
    "patient_id": _S.patient_id == bindparam("patient_id"),
    "plan_id": _S.plan_id == bindparam("plan_id"),
    "statuses": one_of(_S.status, "statuses"),
    # `TreatmentSession.ending_after`: its start bounded too, by the longest a session lasts.
    "window_start": and_(
        _S.end_at > bindparam("window_start"), _S.start_at > bindparam("earliest_start")
    ),
    "window_end": _S.start_at < bindparam("window_end"),
    # By when it starts, or when its sclerosant was given (a page with completion records).
    "starts_from": _S.start_at >= bindparam("starts_from"),
    "starts_before": _S.start_at < bindparam("starts_before"),
    "recorded": _COMPLETIONS.c.id.is_not(None),
    "given_from": _COMPLETIONS.c.administered_at >= bindparam("given_from"),
    "given_before": _COMPLETIONS.c.administered_at < bindparam("given_before"),
    "awaiting": among(_S.status, AWAITING_TREATMENT),
    # Holds are listed only where asked for (FHIR's pending Appointments), and only until
    # they expire.
    "no_holds": _S.status != SessionStatus.PENDING,
    "live_holds": or_(
        _S.status != SessionStatus.PENDING,
        _S.hold_expires_at > bindparam("now", type_=UTCDateTime()),
    ),
}
# The filters that read a session's completion record: only on a page that joins it.
_ON_RECORDS = frozenset({"recorded", "given_from", "given_before"})
_AFTER = tuple_(_S.start_at, _S.id) > tuple_(
    bindparam("after_start", type_=_S.start_at.type), bindparam("after_id", type_=_S.id.type)
)


@functools.cache
def _filtered(shape: frozenset[str], *, completions: bool) -> Select[Any]:
    page = _PAGE if completions else _BARE_PAGE
    return page.where(*(_FILTERS[name] for name in sorted(shape)))


@functools.cache
def _page(shape: frozenset[str], *, after: bool, completions: bool, history: bool) -> Select[Any]:
    """A page of the list, in start order: its filters, where it starts, and its length
    bound at execution; with `history`, each session's history (PostgreSQL only)."""
    query = _filtered(shape, completions=completions)
    query = query.add_columns(_HISTORY) if history else query
    query = query.where(_AFTER) if after else query
    return query.order_by(_S.start_at, _S.id).limit(bindparam("limit"))


@dataclass(frozen=True)
class Listed:
    """A page of sessions as rows (with the attributes of `TreatmentSession`'s columns), with
    each one's reasons for review, completion record and history."""

    sessions: Sequence[Row[Any]]
    reasons: Reasons = field(default_factory=dict)
    completions: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    events: dict[uuid.UUID, list[dict[str, Any]]] = field(default_factory=dict)

    def view(self, session: Row[Any]) -> dict[str, Any]:
        """The session as `SessionRead` reads it (a fresh dict, its events too)."""
        completion = self.completions.get(session.id)
        view = session._asdict()
        view.pop("history", None)
        view["completion"] = completion
        view["events"] = [dict(event) for event in self.events.get(session.id, ())]
        return view


def list_sessions(
    *,
    db: Session,
    now: datetime,
    practitioner_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    statuses: Sequence[SessionStatus] = (),
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    starts_from: datetime | None = None,
    starts_before: datetime | None = None,
    recorded: bool = False,
    given_from: datetime | None = None,
    given_before: datetime | None = None,
    needs_review: bool | None = None,
    min_gap_days: int = 0,
    limit: int = 50,
    cursor: str | None = None,
    completions: bool = True,
    reviewed: bool = True,
    histories: bool = True,
    holds: bool = False,
) -> tuple[Listed, str | None]:
    """Sessions ordered by start, filtered, a page at a time, with each one's reasons for
    review. `needs_review=True`: only the booked and checked-in ones that no longer pass the
    booking checks (False: all others); each is reviewed once, as it is read.
    `completions=False`: without their completion records, not even read (for a role that
    may not see them: a wide row of clinical columns costs its reading and decoding).
    `window_start`/`window_end` ask which sessions overlap a time range; `starts_from`/
    `starts_before` which start in it, and `given_from`/`given_before` which had their
    sclerosant given in it; `recorded`: only those with a completion record.
    `reviewed=False`, `histories=False`: without the reasons for review, or the histories,
    for a reader that shows neither (none is then reviewed, or read).
    `holds`: holds not yet expired are listed too (status `pending`)."""
    values: dict[str, Any] = {}
    if practitioner_id is not None:
        values["practitioner_id"] = practitioner_id
    if patient_id is not None:
        values["patient_id"] = patient_id
    if plan_id is not None:
        values["plan_id"] = plan_id
    if statuses:
        values["statuses"] = list(statuses)
    if window_start is not None:
        values["window_start"] = window_start
    if window_end is not None:
        values["window_end"] = window_end
    for name, moment in (
        ("starts_from", starts_from),
        ("starts_before", starts_before),
        ("given_from", given_from),
        ("given_before", given_before),
    ):
        if moment is not None:
            values[name] = moment
    shape = frozenset(values) | {"live_holds" if holds else "no_holds"}
    shape |= {"recorded"} if recorded else frozenset()
    if shape & _ON_RECORDS and not completions:
        raise ValueError("a filter on completion records needs the page to read them")
    if holds:
        values["now"] = now
    if window_start is not None:
        values["earliest_start"] = window_start - LONGEST_SESSION
    # On PostgreSQL a page read by its length (not kept by its review) carries its histories.
    in_page = histories and needs_review is None and db.get_bind().dialect.name == "postgresql"
    if needs_review is None:
        values["limit"] = limit + 1
        if cursor:  # an empty cursor is none: the first page
            values["after_start"], values["after_id"] = cursor_key(cursor, _BY_START)
        query = _page(shape, after=bool(cursor), completions=completions, history=in_page)
        found = db.execute(query, values).all()
        page = found[:limit]
        next_cursor = cursor_of(page[-1], _BY_START) if len(found) > limit else None
        reasons: Reasons = (
            review(db=db, sessions=page, now=now, min_gap_days=min_gap_days)
            if reviewed
            else dict.fromkeys((s.id for s in page), ())
        )
    else:
        if needs_review:
            shape |= {"awaiting"}
        reasons = {}

        def keep(batch: Sequence[Row[Any]]) -> list[bool]:
            found = review(db=db, sessions=batch, now=now, min_gap_days=min_gap_days)
            reasons.update(found)
            return [bool(found[session.id]) is needs_review for session in batch]

        page, next_cursor = paginate_kept(
            db,
            _filtered(shape, completions=completions).params(values),
            _BY_START,
            keep=keep,
            limit=limit,
            cursor=cursor,
            rows=True,
        )
    listed = _with_records(
        db, page, reasons, completions=completions, histories=histories, in_page=in_page
    )
    return listed, next_cursor


def _with_records(
    db: Session,
    sessions: Sequence[Row[Any]],
    reasons: Reasons,
    *,
    completions: bool,
    histories: bool,
    in_page: bool,
) -> Listed:
    records = (
        {
            s.id: {key: s[at] for key, at in _COMPLETION_AT}
            for s in sessions
            if s.status in _RECORDED and s.completion_id is not None
        }
        if completions
        else {}
    )
    if records:
        recorded = {s.completion_id: records[s.id] for s in sessions if s.id in records}
        for record in recorded.values():
            record["injections"] = []
        for line in db.execute(_INJECTIONS, {"completion_ids": list(recorded)}):
            injection = {key: getattr(line, key) for key in _LINE_FIELDS}
            recorded[line.completion_id]["injections"].append(injection)
    events: dict[uuid.UUID, list[dict[str, Any]]] = {}
    if sessions and histories:
        if in_page:  # read with the page
            events = {s.id: s.history for s in sessions}
        else:
            for row in db.execute(_HISTORIES, {"session_ids": [s.id for s in sessions]}):
                events.setdefault(row.session_id, []).append(row._asdict())
    return Listed(sessions, reasons, records, events)


# The statuses a session can hold with a completion record: done, or marked in error after.
_RECORDED = frozenset({SessionStatus.FULFILLED, SessionStatus.ENTERED_IN_ERROR})
