"""FHIR Slot: computed, never stored, from the practitioner's weekly hours, time off and
sessions by the REST API's own free-slot engine (`app.scheduling.service.find_free_slots`).

A slot is one of the grid's starts inside the practitioner's hours (at any of their locations)
and outside their time off, lasting the REST booking's default duration: `free` when the
free-slot search offers it (a room of the location free then too), `busy` when a session (or
a hold) takes it or lies within the practitioner's buffer of it, or every room there is taken
or closed. A slot's id is its schedule's (the practitioner's id) and its UTC start, so the
same slot keeps its id from one search to the next. No slot lies in the past, inside the
practitioner's minimum notice or past the schedule's planning horizon, and an inactive
practitioner has none.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.fhir.capability import Interaction
from app.fhir.codes import visit_type
from app.fhir.datatypes import instant
from app.fhir.schedules import PLANNING_HORIZON
from app.fhir.search import InvalidSearch, Moment, Ref, SearchQuery, Token
from app.fhir.search import instant as instant_param
from app.fhir.search import reference as reference_param
from app.fhir.search import token as token_param
from app.models import Practitioner
from app.pagination import cursor_datetime, cursor_uuid, decode_cursor, encode_cursor
from app.policy import Margins
from app.practitioners.hours import Interval
from app.scheduling.service import find_free_slots
from app.scheduling.slots import free_slots
from app.sessions.schemas import SessionCreate

# A slot lasts as long as a session the REST API books without saying how long (45 minutes).
SLOT_LENGTH = timedelta(minutes=cast(int, SessionCreate.model_fields["duration_minutes"].default))
# The longest window one search may cover: the REST free-slot search's.
MAX_WINDOW = timedelta(days=31)
# The statuses a slot here has; FHIR's others (busy-unavailable, ...) match none.
STATUSES = ("free", "busy")
_OTHER_STATUSES = frozenset({"busy-unavailable", "busy-tentative", "entered-in-error"})

READ = Interaction("Slot", "read", id_param="slot_id")
SEARCH = Interaction(
    "Slot",
    "search-type",
    search=(
        reference_param("schedule", "Schedule", "The schedule: `Schedule/<id>` or `<id>`."),
        instant_param(
            "start",
            "The slot's start: a window is required, `start=ge<date-time>&start=lt<date-time>` "
            "(gt and le too), at most 31 days long; a date alone is midnight in the clinic's "
            "time zone.",
            ("ge", "gt", "lt", "le"),
        ),
        token_param("status", "free or busy."),
    ),
)


@dataclass(frozen=True)
class FoundSlot:
    practitioner_id: uuid.UUID
    slot: Interval
    status: str


def slot_id(practitioner_id: uuid.UUID, start: datetime) -> str:
    """`<practitioner id>-<UTC start as YYYYMMDDHHMM>`: 49 characters, within FHIR's id rule."""
    return f"{practitioner_id}-{start.astimezone(UTC):%Y%m%d%H%M}"


_SLOT_ID = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(\d{12})$")


def parse_slot_id(text: str) -> tuple[uuid.UUID, datetime] | None:
    """The practitioner and start a slot id names, or None if it is not one this server
    writes."""
    found = _SLOT_ID.match(text)
    if found is None:
        return None
    try:
        start = datetime.strptime(found.group(2), "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None
    return uuid.UUID(found.group(1)), start


def slot_resource(found: FoundSlot) -> dict[str, Any]:
    """A computed slot as a FHIR Slot. It has no `meta.versionId`: nothing stores it."""
    return {
        "resourceType": "Slot",
        "id": slot_id(found.practitioner_id, found.slot.start),
        "serviceType": [visit_type()],
        "schedule": {"reference": f"Schedule/{found.practitioner_id}"},
        "status": found.status,
        "start": instant(found.slot.start),
        "end": instant(found.slot.end),
    }


def schedule_slots(
    *,
    db: Session,
    practitioner_ids: Sequence[uuid.UUID] | None,
    window: Interval,
    grid: timedelta,
    now: datetime,
    margins: Margins,
) -> list[FoundSlot]:
    """The slots starting in `window` (of active practitioners; those of `practitioner_ids`
    only, if given), free or busy at `now`, by start then practitioner. Free: what the REST
    free-slot search offers; busy: the rest of the grid inside their hours and outside their
    time off, i.e. what a session or a hold not expired at `now` takes, or its buffer. None
    inside a practitioner's minimum notice (`margins`: the clinic's, for those who set none)."""
    if window.start >= window.end:
        return []
    active = select(Practitioner.id).where(Practitioner.active.is_(True))
    if practitioner_ids is not None:
        active = active.where(Practitioner.id.in_(practitioner_ids))
    ids = list(db.scalars(active.order_by(Practitioner.id)))
    if not ids:
        return []
    reach = Interval(window.start, window.end + SLOT_LENGTH)
    found: list[FoundSlot] = []
    for practitioner_id in ids:
        free = find_free_slots(
            db=db,
            practitioner_id=practitioner_id,
            window=reach,
            duration=SLOT_LENGTH,
            grid=grid,
            now=now,
            margins=margins,
        )
        offered = {f.slot for f in free.slots}
        in_hours = {
            slot
            for site in free.calendar.sites
            for slot in free_slots(
                weekly_hours=site.hours,
                zone=site.zone,
                busy=free.away,
                duration=SLOT_LENGTH,
                window=Interval(max(reach.start, now + free.margins.notice), reach.end),
                grid=grid,
            )
            if slot.start < window.end
        }
        found += [
            FoundSlot(practitioner_id, slot, "free" if slot in offered else "busy")
            for slot in in_hours
        ]
    found.sort(key=lambda f: (f.slot.start, f.practitioner_id))
    return found


def read_slot(
    *, db: Session, text: str, now: datetime, grid: timedelta, margins: Margins
) -> FoundSlot:
    """The slot an id names, free or busy now, or `NotFound` (not an id of ours, not on the
    grid of the practitioner's hours, in their time off, past, inside their minimum notice,
    or past the horizon)."""
    named = parse_slot_id(text)
    if named is not None:
        practitioner_id, start = named
        if now <= start <= now + PLANNING_HORIZON:
            window = Interval(start, start + timedelta(minutes=1))
            for found in schedule_slots(
                db=db,
                practitioner_ids=[practitioner_id],
                window=window,
                grid=grid,
                now=now,
                margins=margins,
            ):
                if found.slot.start == start:
                    return found
    raise NotFound(f"No Slot with id {text[:64]}.")


def search_slots(
    *,
    db: Session,
    query: SearchQuery,
    now: datetime,
    grid: timedelta,
    margins: Margins,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the slots matching `query`, by start then schedule, and the cursor of the
    next page (None: the last)."""
    low, low_in, high, high_in = _window(query)
    # Starts are whole minutes: a minute past `high` takes in a slot starting at it (`le`).
    window = Interval(max(low, now), min(high + timedelta(minutes=1), now + PLANNING_HORIZON))
    wanted = _statuses(query)
    schedules = _schedules(query)
    if not wanted or schedules == []:
        return [], None
    matching = [
        f
        for f in schedule_slots(
            db=db, practitioner_ids=schedules, window=window, grid=grid, now=now, margins=margins
        )
        if f.status in wanted
        and (f.slot.start >= low if low_in else f.slot.start > low)
        and (f.slot.start <= high if high_in else f.slot.start < high)
    ]
    if cursor is not None:
        after_start, after_id = _cursor_key(cursor)
        matching = [
            f for f in matching if (f.slot.start, f.practitioner_id) > (after_start, after_id)
        ]
    page = matching[: query.count]
    following = None
    if len(matching) > query.count:
        last = page[-1]
        following = encode_cursor([last.slot.start.isoformat(), str(last.practitioner_id)])
    return [slot_resource(f) for f in page], following


def _cursor_key(cursor: str) -> tuple[datetime, uuid.UUID]:
    start, practitioner_id = decode_cursor(cursor, arity=2)
    return cursor_datetime(start), cursor_uuid(practitioner_id)


def _window(query: SearchQuery) -> tuple[datetime, bool, datetime, bool]:
    """The window `start` bounds: its low and high ends, and whether each is inclusive."""
    lows: list[tuple[datetime, bool]] = []
    highs: list[tuple[datetime, bool]] = []
    for alternatives in query.all("start"):
        if len(alternatives) != 1:
            raise InvalidSearch("`start` takes one value at a time: a window is two of them.")
        [moment] = alternatives
        assert isinstance(moment, Moment)
        if moment.prefix in ("ge", "gt"):
            lows.append((moment.at, moment.prefix == "ge"))
        else:
            highs.append((moment.at, moment.prefix == "le"))
    if not lows or not highs:
        raise InvalidSearch(
            "Slots are searched in a window: send `start=ge<date-time>` and "
            "`start=lt<date-time>`, at most 31 days apart."
        )
    # The tightest bounds: the latest low end (exclusive first on a tie), the earliest high.
    low, low_in = max(lows, key=lambda b: (b[0], not b[1]))
    high, high_in = min(highs, key=lambda b: (b[0], b[1]))
    if high - low > MAX_WINDOW:
        raise InvalidSearch("A slot search's window is at most 31 days long.")
    return low, low_in, high, high_in


def _statuses(query: SearchQuery) -> set[str]:
    wanted = set(STATUSES)
    for alternatives in query.all("status"):
        these: set[str] = set()
        for value in alternatives:
            assert isinstance(value, Token)
            if value.system is not None or value.code not in {*STATUSES, *_OTHER_STATUSES}:
                raise InvalidSearch("`status` is free or busy.")
            these.add(value.code)
        wanted &= these
    return wanted


def _schedules(query: SearchQuery) -> list[uuid.UUID] | None:
    """The practitioners whose slots are asked for; None: every active one."""
    chosen: set[uuid.UUID] | None = None
    for alternatives in query.all("schedule"):
        ids = {v.id for v in alternatives if isinstance(v, Ref) and v.id is not None}
        chosen = ids if chosen is None else chosen & ids
    return None if chosen is None else sorted(chosen)
