"""Offering freed slots round the waitlist: an offer IS a hold.

Offering a slot to a patient is placing a hold for them (`booking.place_hold`), which runs
every check booking makes: their standing (evaluation, contraindications, clearances), their
course (active, not full), the practitioner's hours and time off, overlaps, and the 14-day
interval from every treatment given or session booked. Each candidate, best placed first
(`app.waitlist.matching`), is tried in a SAVEPOINT of its own: a refusal leaves nothing
half-written and the next is tried. Accepting books the hold (`booking.book` with `hold_id`):
every check again. So no path offers, or books, a slot to a patient the rules forbid.

Offers are made at once when a session gives its slot back (the session routes call
`offer_slots_freed_by` after the step), and by `sweep`, which the worker runs (and the offer
routes, before they read): it expires offers whose time is up, passing each slot on, and offers
the slots still open. On PostgreSQL several sweeps (and requests) share the work: the rows they
take are locked `FOR UPDATE SKIP LOCKED`, candidates' and practitioners' locks are only *tried*
(a busy one leaves the slot open for the next sweep: nobody waits on a lock while holding
others), and the database refuses two standing offers of one slot outright.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import try_lock
from app.errors import Conflict, DomainError, NotFound, Versions, require_version
from app.events.outbox import announce
from app.locations.service import ROOM_CHANGES, room_locks
from app.models import (
    USUAL_INTERVAL_DAYS,
    CompletionRecord,
    TreatmentPlan,
    TreatmentSession,
    UTCDateTime,
    WaitlistOffer,
    among,
    one_of,
)
from app.patients.service import lock_patient, patient_lock
from app.policy import BookingRules, WaitlistRules
from app.practitioners.hours import Interval
from app.practitioners.service import (
    InactivePractitioner,
    OutsideAvailability,
    UnknownPractitioner,
    practitioner_lock,
)
from app.sessions import booking
from app.sessions.errors import BufferConflict, InThePast, RoomTaken, TooShortNotice
from app.sessions.freed import ENTRIES, OFFERS, SLOTS, StandingOffer, close_offer
from app.sessions.schemas import SessionCreate
from app.vocabulary import EventType, FreedSlotStatus, OfferStatus, WaitlistStatus
from app.waitlist.matching import Candidate, Preferences, SlotOnOffer, ranked


@dataclass(frozen=True)
class OfferRules:
    """What offering follows: booking's rules (the hold's checks) and the waitlist's."""

    booking: BookingRules
    waitlist: WaitlistRules


logger = logging.getLogger(__name__)


class OfferNotStanding(Conflict):
    code = "invalid-transition"
    title = "The offer no longer stands"


class OfferExpired(Conflict):
    code = "offer-expired"
    title = "The offer expired"


class PassedOn(Exception):
    """Accepting the offer was refused (`refusal`): the offer is closed and its slot passed to
    the next patient. The caller keeps that (commits), then answers the refusal."""

    def __init__(self, refusal: DomainError, offer: WaitlistOffer) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal
        self.offer = offer


class _Busy(Exception):
    """A lock another transaction holds: the slot waits for the next sweep."""


class _NoLongerWaiting(Exception):
    """The entry left the list since it was read."""


# Refusals that are about the slot, not the patient: nobody else will get it either.
_SLOT_REFUSALS = (
    InThePast,
    OutsideAvailability,
    InactivePractitioner,
    UnknownPractitioner,
    TooShortNotice,  # the practitioner's notice
    BufferConflict,  # the practitioner's other sessions
    RoomTaken,  # no room of the location free then
)

_S, _E, _O = SLOTS.c, ENTRIES.c, OFFERS.c
_NOW = bindparam("now", type_=UTCDateTime())
_SLOT_ID = bindparam("slot_id", type_=_S.id.type)


def offer_at_once(
    db: Session,
    session_id: uuid.UUID,
    now: datetime,
    booking: BookingRules,
    waitlist: WaitlistRules,
) -> None:
    """What the session services call when a session gives its slot back (installed in
    `app.sessions.freed` by `app.main`): its slots offered at once."""
    offer_slots_freed_by(
        db, session_id=session_id, now=now, rules=OfferRules(booking=booking, waitlist=waitlist)
    )


def offer_slots_freed_by(
    db: Session, *, session_id: uuid.UUID, now: datetime, rules: OfferRules
) -> list[uuid.UUID]:
    """Offer the slots `session_id` just gave back (cancelled, missed, moved away, entered in
    error): the offers made."""
    open_ids = db.connection().execute(_OPEN_OF_SESSION, {"session_id": session_id}).scalars()
    return [offer for slot_id in list(open_ids) if (offer := fill(db, slot_id, now, rules))]


_OPEN_OF_SESSION = select(_S.id).where(
    _S.session_id == bindparam("session_id", type_=_S.session_id.type),
    _S.status == FreedSlotStatus.OPEN,
)
_SLOT = select(SLOTS).where(_S.id == _SLOT_ID).with_for_update()
_SETTLE_SLOT = (
    update(SLOTS)
    .where(_S.id == _SLOT_ID, among(_S.status, (FreedSlotStatus.OPEN, FreedSlotStatus.OFFERED)))
    .values(status=bindparam("status", type_=_S.status.type), updated_at=_NOW)
)


def fill(db: Session, slot_id: uuid.UUID, now: datetime, rules: OfferRules) -> uuid.UUID | None:
    """Offer the open freed slot to the best-placed waiting patient who may be booked there
    now: the offer's id, or None (nobody could take it, and it is `unfilled`; or a lock was
    busy, and it stays `open` for the next sweep)."""
    slot = db.connection().execute(_SLOT, {"slot_id": slot_id}).first()
    if slot is None or slot.status is not FreedSlotStatus.OPEN:
        return None
    if slot.start_at > now:
        for candidate in _ranked_candidates(db, slot, now, rules):
            try:
                with db.begin_nested():  # a refusal rolls back this attempt, and only it
                    return _offer(db, slot, candidate, now, rules)
            except _SLOT_REFUSALS:
                break
            except (DomainError, _NoLongerWaiting):
                continue  # the rules forbid this patient there now: the next one
            except (_Busy, IntegrityError):
                return None  # being changed elsewhere right now: the next sweep tries again
    _settle(db, slot_id, FreedSlotStatus.UNFILLED, now)
    return None


def _settle(db: Session, slot_id: uuid.UUID, status: FreedSlotStatus, now: datetime) -> None:
    db.connection().execute(_SETTLE_SLOT, {"slot_id": slot_id, "status": status, "now": now})


def _ranked_candidates(
    db: Session, slot: Row[Any], now: datetime, rules: OfferRules
) -> list[Candidate]:
    """The patients waiting for the slot's day and due then (never the one who gave it back,
    nor one offered it before), best placed first."""
    zone = ZoneInfo(slot.time_zone)
    day = slot.start_at.astimezone(zone).date()
    rows = db.connection().execute(_WAITING_FOR, {"day": day, "slot_id": slot.id}).all()
    rows = [row for row in rows if row.patient_id != slot.patient_id]
    if not rows:
        return []
    last = dict(
        db.connection().execute(_LAST_TREATED, {"patients": [row.patient_id for row in rows]}).all()
    )
    candidates = [
        Candidate(
            entry_id=row.id,
            patient_id=row.patient_id,
            plan_id=row.plan_id,
            waiting_since=row.created_at,
            preferences=Preferences(
                earliest=row.earliest_date,
                latest=row.latest_date,
                practitioner_ids=frozenset(uuid.UUID(p) for p in row.practitioner_ids),
                location_ids=frozenset(uuid.UUID(p) for p in row.location_ids),
                weekdays=frozenset(row.weekdays),
            ),
            last_treated=(
                last[row.patient_id].astimezone(zone).date() if row.patient_id in last else None
            ),
            interval_days=row.interval_days or USUAL_INTERVAL_DAYS,
        )
        for row in rows
    ]
    on_offer = SlotOnOffer(day, slot.practitioner_id, slot.location_id)
    return ranked(candidates, on_offer, now, early_days=rules.waitlist.early_days)


_DAY = bindparam("day", type_=_E.earliest_date.type)
_WAITING_FOR = (
    select(
        _E.id,
        _E.patient_id,
        _E.plan_id,
        _E.created_at,
        _E.earliest_date,
        _E.latest_date,
        _E.practitioner_ids,
        _E.location_ids,
        _E.weekdays,
        TreatmentPlan.interval_days,
    )
    .outerjoin(TreatmentPlan, TreatmentPlan.id == _E.plan_id)
    .where(
        _E.status == WaitlistStatus.WAITING,
        _E.earliest_date <= _DAY,
        _E.latest_date >= _DAY,
        ~exists().where(_O.freed_slot_id == _SLOT_ID, _O.patient_id == _E.patient_id),
    )
)
# Each patient's last treatment given (whatever became of its session since).
_LAST_TREATED = (
    select(TreatmentSession.patient_id, func.max(CompletionRecord.administered_at))
    .join(CompletionRecord, CompletionRecord.session_id == TreatmentSession.id)
    .where(one_of(TreatmentSession.patient_id, "patients"))
    .group_by(TreatmentSession.patient_id)
)
_OFFERED_TO = (
    update(ENTRIES)
    .where(_E.id == bindparam("entry_id", type_=_E.id.type), _E.status == WaitlistStatus.WAITING)
    .values(status=WaitlistStatus.OFFERED, updated_at=_NOW, version=_E.version + 1)
)
_INSERT_OFFER = insert(OFFERS)


def _offer(
    db: Session, slot: Row[Any], candidate: Candidate, now: datetime, rules: OfferRules
) -> uuid.UUID:
    """Hold the slot for the candidate until the offer expires (every booking check), and
    record the offer; raises what refuses it."""
    if not (
        try_lock(db, patient_lock(candidate.patient_id))
        and try_lock(db, practitioner_lock(slot.practitioner_id))
        and all(try_lock(db, key) for key in room_locks(slot.start_at, slot.end_at))
        and try_lock(db, ROOM_CHANGES, shared=True)
    ):
        raise _Busy
    expires = min(now + rules.waitlist.offer_lifetime, slot.start_at)
    hold = booking.place_hold(
        db=db,
        patient_id=candidate.patient_id,
        practitioner_id=slot.practitioner_id,
        slot=Interval(slot.start_at, slot.end_at),
        now=now,
        rules=rules.booking,
        plan_id=candidate.plan_id,
        expires_at=expires,
    )
    connection = db.connection()
    taken = connection.execute(_OFFERED_TO, {"entry_id": candidate.entry_id, "now": now})
    if taken.rowcount != 1:
        raise _NoLongerWaiting
    connection.execute(
        _INSERT_OFFER,
        {
            "id": hold.id,
            "entry_id": candidate.entry_id,
            "freed_slot_id": slot.id,
            "patient_id": candidate.patient_id,
            "plan_id": hold.plan_id,
            "practitioner_id": slot.practitioner_id,
            "location_id": slot.location_id,
            "start_at": slot.start_at,
            "end_at": slot.end_at,
            "status": OfferStatus.OFFERED,
            "expires_at": expires,
            "decided_at": None,
            "refusal_code": None,
            "session_id": None,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        },
    )
    _settle(db, slot.id, FreedSlotStatus.OFFERED, now)
    announce(
        db,
        EventType.WAITLIST_OFFERED,
        at=now,
        session_id=hold.id,
        patient_id=candidate.patient_id,
        plan_id=hold.plan_id,
    )
    return hold.id


@dataclass(frozen=True)
class Swept:
    """What one sweep did."""

    expired: int = 0
    lapsed: int = 0
    offered: int = 0
    unfilled: int = 0

    @property
    def total(self) -> int:
        return self.expired + self.lapsed + self.offered + self.unfilled


# How many rows of each kind one sweep takes: a backlog is worked off over several.
SWEEP_BATCH = 50

_STANDING_COLUMNS = (_O.id, _O.entry_id, _O.freed_slot_id, _O.patient_id, _O.plan_id)
_EXPIRED = (
    select(*_STANDING_COLUMNS)
    .where(_O.status == OfferStatus.OFFERED, _O.expires_at <= _NOW)
    .order_by(_O.expires_at)
    .limit(SWEEP_BATCH)
    .with_for_update(skip_locked=True)
)
_LAPSED = (
    update(ENTRIES)
    .where(
        _E.status == WaitlistStatus.WAITING,
        _E.latest_date < bindparam("before", type_=_E.latest_date.type),
    )
    .values(status=WaitlistStatus.LAPSED, ended_at=_NOW, updated_at=_NOW, version=_E.version + 1)
)
_STILL_OPEN = (
    select(_S.id)
    .where(_S.status == FreedSlotStatus.OPEN)
    .order_by(_S.start_at)
    .limit(SWEEP_BATCH)
    .with_for_update(skip_locked=True)
)


def sweep(*, db: Session, now: datetime, rules: OfferRules) -> Swept:
    """Expire the offers whose time is up (each slot passed on), take off the list the entries
    whose window has passed, and offer the freed slots still open. Safe with other sweeps at
    once: each takes rows no other holds (`SKIP LOCKED`), and the database refuses two standing
    offers of one slot."""
    connection = db.connection()
    expired = [StandingOffer(*row) for row in connection.execute(_EXPIRED, {"now": now})]
    expired_count = sum(close_offer(db, offer, OfferStatus.EXPIRED, now=now) for offer in expired)
    # A window's last day is over everywhere a day later (no zone is more than 14 hours off).
    lapsed = connection.execute(_LAPSED, {"now": now, "before": (now - timedelta(days=1)).date()})
    offered = unfilled = 0
    for slot_id in list(connection.execute(_STILL_OPEN).scalars()):
        if fill(db, slot_id, now, rules) is not None:
            offered += 1
        elif _slot_status(db, slot_id) is FreedSlotStatus.UNFILLED:
            unfilled += 1
    return Swept(expired_count, lapsed.rowcount, offered, unfilled)


def _slot_status(db: Session, slot_id: uuid.UUID) -> FreedSlotStatus | None:
    return db.connection().execute(select(_S.status).where(_S.id == slot_id)).scalar()


# --- Answering an offer ----------------------------------------------------------------------

_LOCKED_OFFER = select(WaitlistOffer).where(WaitlistOffer.id == bindparam("offer_id"))
_OFFER_PATIENT = select(WaitlistOffer.patient_id).where(WaitlistOffer.id == bindparam("offer_id"))


def _lock_offer(db: Session, offer_id: uuid.UUID) -> WaitlistOffer:
    """The offer, its row locked until the end of the transaction: a sweep skips it, and a
    second answer waits, then sees the first."""
    offer = db.scalar(
        _LOCKED_OFFER.with_for_update().execution_options(populate_existing=True),
        {"offer_id": offer_id},
    )
    if offer is None:
        raise NotFound(f"No waitlist offer with id {offer_id}.")
    return offer


def _standing(offer: WaitlistOffer) -> StandingOffer:
    return StandingOffer(
        offer.id, offer.entry_id, offer.freed_slot_id, offer.patient_id, offer.plan_id
    )


def _require_standing(offer: WaitlistOffer, expected_version: Versions | None) -> None:
    require_version("Waitlist offer", offer.version, expected_version)
    if offer.status is OfferStatus.EXPIRED:  # whether a sweep got there first or not
        raise OfferExpired(
            f"The offer expired at {offer.expires_at.isoformat()}: the slot was passed on.",
            expired_at=offer.expires_at.isoformat(),
        )
    if offer.status is not OfferStatus.OFFERED:
        raise OfferNotStanding(
            f"The offer is {offer.status.value}: only a standing offer is accepted or declined.",
            offer_status=offer.status.value,
        )


def _pass_on(
    db: Session,
    offer: WaitlistOffer,
    status: OfferStatus,
    now: datetime,
    rules: OfferRules,
    refusal_code: str | None = None,
) -> None:
    """Close the offer as `status`, and offer its slot to the next patient."""
    close_offer(db, _standing(offer), status, now=now, refusal_code=refusal_code)
    fill(db, offer.freed_slot_id, now, rules)
    db.refresh(offer)


_OFFER_ID = bindparam("offer_id", type_=_O.id.type)
# The offer's hold, booked, is the session: the two share their id.
_ACCEPTED = (
    update(OFFERS)
    .where(_O.id == _OFFER_ID, _O.status == OfferStatus.OFFERED)
    .values(
        status=OfferStatus.ACCEPTED,
        decided_at=_NOW,
        updated_at=_NOW,
        session_id=_OFFER_ID,
        version=_O.version + 1,
    )
)
_ENTRY_BOOKED = (
    update(ENTRIES)
    .where(_E.id == bindparam("entry_id", type_=_E.id.type), _E.booked_session_id.is_(None))
    .values(
        status=WaitlistStatus.BOOKED,
        ended_at=_NOW,
        updated_at=_NOW,
        booked_session_id=bindparam("session_id", type_=_E.booked_session_id.type),
        version=_E.version + 1,
    )
)


@dataclass(frozen=True)
class Accepted:
    offer: WaitlistOffer
    session: booking.BookedSession


def accept(
    *,
    db: Session,
    offer_id: uuid.UUID,
    now: datetime,
    rules: OfferRules,
    expected_version: Versions | None = None,
) -> Accepted:
    """Book the offered slot for the patient: the hold is booked (`booking.book`), with every
    check a booking makes, made again now. A refusal (the patient's standing changed, a session
    was booked too near meanwhile, the offer expired) closes the offer, passes the slot on and
    is raised as `PassedOn`."""
    # The patient's lock before the offer's row, the order archiving them or taking them off
    # the list takes the two in: the other way round, each would wait for the other.
    patient_id = db.scalar(_OFFER_PATIENT, {"offer_id": offer_id})
    if patient_id is not None:
        lock_patient(db, patient_id)
    offer = _lock_offer(db, offer_id)
    _require_standing(offer, expected_version)
    if offer.expires_at <= now:
        _pass_on(db, offer, OfferStatus.EXPIRED, now, rules)
        raise PassedOn(
            OfferExpired(
                f"The offer expired at {offer.expires_at.isoformat()}: the slot was passed on.",
                expired_at=offer.expires_at.isoformat(),
            ),
            offer,
        )
    try:
        with db.begin_nested():
            booked = booking.book(
                db=db,
                data=SessionCreate(hold_id=offer.id),
                now=now,
                rules=rules.booking,
                accepting_offer=True,
            )
    except DomainError as refusal:
        _pass_on(db, offer, OfferStatus.REFUSED, now, rules, refusal_code=refusal.code)
        raise PassedOn(refusal, offer) from None
    connection = db.connection()
    connection.execute(_ACCEPTED, {"offer_id": offer.id, "now": now})
    connection.execute(
        _ENTRY_BOOKED, {"entry_id": offer.entry_id, "session_id": booked.id, "now": now}
    )
    _settle(db, offer.freed_slot_id, FreedSlotStatus.FILLED, now)
    announce(
        db,
        EventType.WAITLIST_ACCEPTED,
        at=now,
        session_id=booked.id,
        patient_id=booked.patient_id,
        plan_id=booked.plan_id,
    )
    db.refresh(offer)
    return Accepted(offer, booked)


def decline(
    *,
    db: Session,
    offer_id: uuid.UUID,
    now: datetime,
    rules: OfferRules,
    expected_version: Versions | None = None,
) -> WaitlistOffer:
    """The patient declines: the hold gives the slot back, the slot goes to the next patient,
    and they stay on the list for another slot."""
    offer = _lock_offer(db, offer_id)
    _require_standing(offer, expected_version)
    _pass_on(db, offer, OfferStatus.DECLINED, now, rules)
    return offer


def withdraw_standing(
    db: Session, *, entry_id: uuid.UUID, now: datetime, rules: OfferRules
) -> None:
    """The entry left the list (removed): an offer standing for it is withdrawn, its slot passed
    on."""
    standing = db.scalar(
        select(WaitlistOffer)
        .where(WaitlistOffer.entry_id == entry_id, WaitlistOffer.status == OfferStatus.OFFERED)
        .with_for_update()
    )
    if standing is not None:
        _pass_on(db, standing, OfferStatus.WITHDRAWN, now, rules)


def sweep_chore(rules: OfferRules) -> Callable[[Session, datetime], int]:
    """The sweep as a chore of the worker (`app.events.worker.Worker.chores`): how many things
    it did, logged by count (never a patient)."""

    def chore(db: Session, now: datetime) -> int:
        swept = sweep(db=db, now=now, rules=rules)
        if swept.total:
            logger.info(
                "waitlist: %d offers expired, %d slots offered, %d unfilled, %d entries lapsed",
                swept.expired,
                swept.offered,
                swept.unfilled,
                swept.lapsed,
            )
        return swept.total

    return chore
