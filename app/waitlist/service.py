"""The waitlist's entries and offers as records: putting a patient on the list, reading and
listing, taking them off with a reason. Offering, accepting and declining are
`app.waitlist.offers`; what the calendar's changes do to the list, `app.sessions.freed`.

Being on the list asks nothing of the patient's standing: a patient awaiting a clearance may
wait too. Every offer is a hold, refused as booking would be, so nobody the rules forbid is
ever offered a slot.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidField, NotFound, Versions, require_version
from app.locations.service import UnknownLocation
from app.models import Location, Practitioner, WaitlistEntry, WaitlistOffer
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.patients.service import PatientArchived, get_patient, lock_patient
from app.plans.service import active_plan, current_plan_id
from app.policy import BookingRules, WaitlistRules
from app.practitioners.service import UnknownPractitioner
from app.sessions.errors import UnknownPatient
from app.sessions.freed import ON_THE_LIST
from app.vocabulary import OfferStatus, WaitlistRemoval, WaitlistStatus
from app.waitlist.offers import OfferRules, withdraw_standing
from app.waitlist.schemas import WaitlistEntryCreate


class AlreadyWaitlisted(Conflict):
    code = "already-waitlisted"
    title = "The patient is on the waitlist already"


class NotOnTheList(Conflict):
    code = "invalid-transition"
    title = "The entry is no longer on the waitlist"


# The list: longest waiting first.
_LONGEST_WAITING_FIRST = Keyset(
    columns=(WaitlistEntry.created_at, WaitlistEntry.id),
    parsers=(cursor_datetime, cursor_uuid),
)
# Offers: newest first.
_NEWEST_OFFERS_FIRST = Keyset(
    columns=(WaitlistOffer.created_at, WaitlistOffer.id),
    parsers=(cursor_datetime, cursor_uuid),
    descending=True,
)


def add_entry(
    *, db: Session, data: WaitlistEntryCreate, today: date, now: datetime
) -> WaitlistEntry:
    """Put the patient on the list: a known patient, not archived, not on it already; a window
    not over by `today` (the clinic's); known practitioners; a course of theirs that is active
    (by default their newest active one, if any)."""
    if data.latest < today:
        raise InvalidField(("body", "latest"), f"is before today ({today.isoformat()})")
    lock_patient(db, data.patient_id)  # one entry on the list at a time, decided in turn
    try:
        patient = get_patient(db=db, patient_id=data.patient_id)
    except NotFound:
        raise UnknownPatient(f"No patient with id {data.patient_id}.") from None
    if patient.archived:
        raise PatientArchived(f"Patient {patient.id} is archived: restore them first.")
    _refuse_if_waiting(db, patient.id)
    _known_practitioners(db, data.practitioner_ids)
    _known_locations(db, data.location_ids)
    plan_id = data.plan_id
    if plan_id is not None:
        active_plan(db=db, plan_id=plan_id, patient_id=patient.id)
    else:
        plan_id = current_plan_id(db=db, patient_id=patient.id)
    entry = WaitlistEntry(
        patient_id=patient.id,
        plan_id=plan_id,
        earliest_date=data.earliest,
        latest_date=data.latest,
        practitioner_ids=[str(p) for p in data.practitioner_ids],
        location_ids=[str(p) for p in data.location_ids],
        weekdays=sorted(data.weekdays),
        notes=data.notes,
        status=WaitlistStatus.WAITING,
        created_at=now,
        updated_at=now,
    )
    db.add(entry)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:  # the partial unique index: one entry on the list a patient
        raise AlreadyWaitlisted(_waiting_message(patient.id)) from None
    return entry


def _waiting_message(patient_id: uuid.UUID) -> str:
    return (
        f"Patient {patient_id} is on the waitlist already: change their window by taking the "
        "entry off the list and adding a new one."
    )


def _refuse_if_waiting(db: Session, patient_id: uuid.UUID) -> None:
    waiting = db.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.patient_id == patient_id, WaitlistEntry.status.in_(ON_THE_LIST)
        )
    )
    if waiting is not None:
        raise AlreadyWaitlisted(_waiting_message(patient_id), entry_id=str(waiting))


def _known_practitioners(db: Session, practitioner_ids: Collection[uuid.UUID]) -> None:
    if not practitioner_ids:
        return
    known = set(
        db.scalars(select(Practitioner.id).where(Practitioner.id.in_(list(practitioner_ids))))
    )
    unknown = sorted(str(p) for p in set(practitioner_ids) - known)
    if unknown:
        raise UnknownPractitioner(
            f"No practitioner with id {', '.join(unknown)}.", field="practitioner_ids"
        )


def _known_locations(db: Session, location_ids: Collection[uuid.UUID]) -> None:
    if not location_ids:
        return
    known = set(db.scalars(select(Location.id).where(Location.id.in_(list(location_ids)))))
    unknown = sorted(str(p) for p in set(location_ids) - known)
    if unknown:
        raise UnknownLocation(f"No location with id {', '.join(unknown)}.", field="location_ids")


def get_entry(*, db: Session, entry_id: uuid.UUID) -> WaitlistEntry:
    entry = db.get(WaitlistEntry, entry_id, populate_existing=True)
    if entry is None:
        raise NotFound(f"No waitlist entry with id {entry_id}.")
    return entry


def list_entries(
    *,
    db: Session,
    patient_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    statuses: Collection[WaitlistStatus] = (),
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[WaitlistEntry], str | None]:
    """Entries, longest waiting first; by patient, course and status (none: those still on the
    list)."""
    query = select(WaitlistEntry).where(
        WaitlistEntry.status.in_(list(statuses) or list(ON_THE_LIST))
    )
    if patient_id is not None:
        query = query.where(WaitlistEntry.patient_id == patient_id)
    if plan_id is not None:
        query = query.where(WaitlistEntry.plan_id == plan_id)
    return paginate(db, query, _LONGEST_WAITING_FIRST, limit=limit, cursor=cursor)


def remove_entry(
    *,
    db: Session,
    entry_id: uuid.UUID,
    reason: WaitlistRemoval,
    now: datetime,
    rules: OfferRules,
    expected_version: Versions | None = None,
) -> WaitlistEntry:
    """Take the patient off the list, with the reason: an offer standing for them is
    withdrawn and its slot passed to the next patient."""
    entry = get_entry(db=db, entry_id=entry_id)
    # Read again once the patient's lock is held: a booking that ends the entry, or an offer
    # to it, comes before or after, never halfway.
    lock_patient(db, entry.patient_id)
    entry = get_entry(db=db, entry_id=entry_id)
    require_version("Waitlist entry", entry.version, expected_version)
    if entry.status not in ON_THE_LIST:
        raise NotOnTheList(
            f"The entry is {entry.status.value}: it is off the list already.",
            entry_status=entry.status.value,
        )
    return _take_off(db, entry, reason, now, rules)


def _take_off(
    db: Session, entry: WaitlistEntry, reason: WaitlistRemoval, now: datetime, rules: OfferRules
) -> WaitlistEntry:
    """The entry, on the list, leaves it `removed` for `reason`; an offer standing for it is
    withdrawn and its slot offered to the next patient at once. The patient's lock is held."""
    withdraw_standing(db, entry_id=entry.id, now=now, rules=rules)
    entry = get_entry(db=db, entry_id=entry.id)  # the offer's closing set it waiting again
    entry.status = WaitlistStatus.REMOVED
    entry.removal_reason = reason
    entry.ended_at = now
    entry.updated_at = now
    db.flush()
    return entry


def end_for_archived(
    db: Session,
    patient_id: uuid.UUID,
    now: datetime,
    booking: BookingRules,
    waitlist: WaitlistRules,
) -> WaitlistEntry | None:
    """The patient's record was archived (their lock held): their entry on the list, if any,
    ends `removed` (`patient-archived`), and an offer standing for them is withdrawn, its slot
    offered to the next patient at once, as taking them off the list does. Installed in
    `app.patients.service` by `app.main` (this package books through services that import
    that one). The entry ended, if any."""
    entry = db.scalar(
        select(WaitlistEntry).where(
            WaitlistEntry.patient_id == patient_id, WaitlistEntry.status.in_(ON_THE_LIST)
        )
    )
    if entry is None:
        return None
    rules = OfferRules(booking=booking, waitlist=waitlist)
    return _take_off(db, entry, WaitlistRemoval.PATIENT_ARCHIVED, now, rules)


def get_offer(*, db: Session, offer_id: uuid.UUID) -> WaitlistOffer:
    offer = db.get(WaitlistOffer, offer_id, populate_existing=True)
    if offer is None:
        raise NotFound(f"No waitlist offer with id {offer_id}.")
    return offer


def list_offers(
    *,
    db: Session,
    entry_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    statuses: Collection[OfferStatus] = (),
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[WaitlistOffer], str | None]:
    """Offers, newest first; by entry, patient and status (none: any)."""
    query = select(WaitlistOffer)
    if entry_id is not None:
        query = query.where(WaitlistOffer.entry_id == entry_id)
    if patient_id is not None:
        query = query.where(WaitlistOffer.patient_id == patient_id)
    if statuses:
        query = query.where(WaitlistOffer.status.in_(list(statuses)))
    return paginate(db, query, _NEWEST_OFFERS_FIRST, limit=limit, cursor=cursor)
