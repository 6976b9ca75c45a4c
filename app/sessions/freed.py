"""What the calendar's changes do to the waitlist, for the session services to call: a slot
given back is kept to be offered (`free_slot`); a patient booked in their window leaves the list
(`end_waiting`), and an offer standing for them elsewhere is withdrawn (`close_offer`).

This module books nothing and depends on no booking code (the offers, `app.waitlist.offers`, book
through the session services: the dependency points one way). Its statements are plain Core,
built once: booking calls `end_waiting` only when its one read found an entry of the patient
near the slot.

Locks, where several are taken: the patient's (`lock_patient`) before any row, then a standing
offer's row, then its freed slot's, then the entry's.

A slot given back is offered at once, by the request that gave it back (`offer_freed`), through
what the waitlist installs here (`install_offering`, by `app.main`): the waitlist books through
the session services, so they do not import it. Without it, the worker's next sweep offers it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from app.events.outbox import announce
from app.models import (
    FreedSlot,
    TreatmentSession,
    UTCDateTime,
    WaitlistEntry,
    WaitlistOffer,
    among,
    one_of,
)
from app.policy import BookingRules, WaitlistRules
from app.practitioners.hours import Interval
from app.vocabulary import (
    EventType,
    FreedSlotStatus,
    OfferStatus,
    SessionStatus,
    SlotFreedBy,
    WaitlistStatus,
)


def _table(model: type[Any]) -> Table:
    return model.metadata.tables[model.__tablename__]  # type: ignore[no-any-return]


ENTRIES = _table(WaitlistEntry)
SLOTS = _table(FreedSlot)
OFFERS = _table(WaitlistOffer)
_SESSIONS = _table(TreatmentSession)

# An entry still on the list.
ON_THE_LIST = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)

_NOW = bindparam("now", type_=UTCDateTime())


# Offers the slots a session just gave back round the waitlist: (db, session id, now, the
# booking rules an offer's hold is checked by, the waitlist's).
Offering = Callable[[Session, uuid.UUID, datetime, BookingRules, WaitlistRules], object]
_OFFERING: list[Offering] = []


def install_offering(offering: Offering) -> None:
    """How a slot given back is offered at once (`app.main` installs the waitlist's)."""
    _OFFERING[:] = [offering]


def offer_freed(
    db: Session,
    session_id: uuid.UUID,
    now: datetime,
    booking: BookingRules,
    waitlist: WaitlistRules,
) -> None:
    """Offer the slots `session_id` just gave back round the waitlist, if it is installed."""
    for offering in _OFFERING:
        offering(db, session_id, now, booking, waitlist)


def free_slot(
    db: Session,
    *,
    session_id: uuid.UUID,
    patient_id: uuid.UUID,
    slot: Interval,
    practitioner_id: uuid.UUID,
    location_id: uuid.UUID | None,
    time_zone: str,
    freed_by: SlotFreedBy,
    now: datetime,
) -> uuid.UUID | None:
    """Keep the slot the session gave back (cancelled, missed, moved away, entered in error:
    its patient's) to be offered round the waitlist, if it is still ahead: a slot begun or
    over can no longer be booked (a no-show's never can). Its id, if kept."""
    if slot.start <= now:
        return None
    slot_id = uuid.uuid4()
    db.connection().execute(
        _FREE,
        {
            "id": slot_id,
            "session_id": session_id,
            "patient_id": patient_id,
            "practitioner_id": practitioner_id,
            # Where it took place: an entry that names its sites is offered it only there.
            "location_id": location_id,
            "start_at": slot.start,
            "end_at": slot.end,
            "time_zone": time_zone,
            "freed_by": freed_by,
            "status": FreedSlotStatus.OPEN,
            "created_at": now,
            "updated_at": now,
        },
    )
    return slot_id


_FREE = insert(SLOTS)


@dataclass(frozen=True)
class StandingOffer:
    """What closing an offer needs of it."""

    id: uuid.UUID  # the hold's id too
    entry_id: uuid.UUID
    freed_slot_id: uuid.UUID
    patient_id: uuid.UUID
    plan_id: uuid.UUID | None


_O = OFFERS.c
_STANDING_COLUMNS = (_O.id, _O.entry_id, _O.freed_slot_id, _O.patient_id, _O.plan_id)
# The standing offers of some entries, but the one being booked, their rows locked.
_STANDING_OF_ENTRIES = (
    select(*_STANDING_COLUMNS)
    .where(
        one_of(_O.entry_id, "ids"),
        _O.status == OfferStatus.OFFERED,
        _O.id != bindparam("keeping", type_=_O.id.type),
    )
    .with_for_update()
)
_DAY = bindparam("day", type_=ENTRIES.c.earliest_date.type)
_IN_WINDOW = select(ENTRIES.c.id).where(
    one_of(ENTRIES.c.id, "ids"),
    among(ENTRIES.c.status, ON_THE_LIST),
    ENTRIES.c.earliest_date <= _DAY,
    ENTRIES.c.latest_date >= _DAY,
)
_BOOKED = (
    update(ENTRIES)
    .where(one_of(ENTRIES.c.id, "ids"), among(ENTRIES.c.status, ON_THE_LIST))
    .values(
        status=WaitlistStatus.BOOKED,
        ended_at=_NOW,
        updated_at=_NOW,
        booked_session_id=bindparam("session_id", type_=ENTRIES.c.booked_session_id.type),
        version=ENTRIES.c.version + 1,
    )
)


def end_waiting(
    db: Session,
    *,
    entry_ids: Collection[uuid.UUID],
    session_id: uuid.UUID,
    day: date,
    now: datetime,
) -> list[uuid.UUID]:
    """The patient was booked (`session_id`) on `day`, where the session takes place: those of
    `entry_ids` (the patient's, found near that day) whose window holds it leave the list as
    `booked`; an offer of another slot standing for them is withdrawn, its slot passed on (by the
    sweep: booking offers nothing). The entries ended."""
    connection = db.connection()
    ended = list(connection.execute(_IN_WINDOW, {"ids": list(entry_ids), "day": day}).scalars())
    if not ended:
        return []
    standing = [
        StandingOffer(*row)
        for row in connection.execute(_STANDING_OF_ENTRIES, {"ids": ended, "keeping": session_id})
    ]
    connection.execute(_BOOKED, {"ids": ended, "now": now, "session_id": session_id})
    for offer in standing:
        close_offer(db, offer, OfferStatus.WITHDRAWN, now=now)
    return ended


_CLOSED_EVENT = {
    OfferStatus.DECLINED: EventType.WAITLIST_DECLINED,
    OfferStatus.EXPIRED: EventType.WAITLIST_EXPIRED,
    OfferStatus.REFUSED: EventType.WAITLIST_WITHDRAWN,
    OfferStatus.WITHDRAWN: EventType.WAITLIST_WITHDRAWN,
}
_CLOSE = (
    update(OFFERS)
    .where(_O.id == bindparam("offer_id", type_=_O.id.type), _O.status == OfferStatus.OFFERED)
    .values(
        status=bindparam("status", type_=_O.status.type),
        decided_at=_NOW,
        updated_at=_NOW,
        refusal_code=bindparam("code", type_=_O.refusal_code.type),
        version=_O.version + 1,
    )
)
# The hold gives its slot back (no clinical record: deleted, as a released hold is).
_RELEASE = delete(_SESSIONS).where(
    _SESSIONS.c.id == bindparam("offer_id", type_=_SESSIONS.c.id.type),
    _SESSIONS.c.status == SessionStatus.PENDING,
)
_REOPEN = (
    update(SLOTS)
    .where(
        SLOTS.c.id == bindparam("slot_id", type_=SLOTS.c.id.type),
        SLOTS.c.status == FreedSlotStatus.OFFERED,
    )
    .values(status=FreedSlotStatus.OPEN, updated_at=_NOW)
)
_WAITING_AGAIN = (
    update(ENTRIES)
    .where(
        ENTRIES.c.id == bindparam("entry_id", type_=ENTRIES.c.id.type),
        ENTRIES.c.status == WaitlistStatus.OFFERED,
    )
    .values(status=WaitlistStatus.WAITING, updated_at=_NOW, version=ENTRIES.c.version + 1)
)


def close_offer(
    db: Session,
    offer: StandingOffer,
    status: OfferStatus,
    *,
    now: datetime,
    refusal_code: str | None = None,
) -> bool:
    """The standing offer ends as `status`: its hold gives the slot back, the slot is open to
    the next patient, the entry (if still on the list) waits again, and the event is told.
    False: it no longer stood (another request closed it first), and nothing changed."""
    connection = db.connection()
    closed = connection.execute(
        _CLOSE, {"offer_id": offer.id, "status": status, "now": now, "code": refusal_code}
    )
    if closed.rowcount != 1:
        return False
    connection.execute(_RELEASE, {"offer_id": offer.id})
    connection.execute(_REOPEN, {"slot_id": offer.freed_slot_id, "now": now})
    connection.execute(_WAITING_AGAIN, {"entry_id": offer.entry_id, "now": now})
    announce(
        db,
        _CLOSED_EVENT[status],
        at=now,
        session_id=offer.id,
        patient_id=offer.patient_id,
        plan_id=offer.plan_id,
    )
    return True
