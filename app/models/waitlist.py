"""The waitlist: patients waiting for an earlier visit, the slots sessions give back, and the
offers that bring the two together.

An offer is a hold (`app.sessions.booking.place_hold`): its id is the id of the `pending`
calendar row that keeps the slot for the patient, which becomes the session's id when the
offer is accepted. The hold row is deleted when it lapses; the offer stays, with what became
of it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Entity, UTCDateTime, text_enum, utcnow
from app.vocabulary import (
    FreedSlotStatus,
    OfferStatus,
    SlotFreedBy,
    WaitlistRemoval,
    WaitlistStatus,
)

# The statuses of an entry still on the list: one such entry a patient.
_ON_THE_LIST = "status IN ('waiting', 'offered')"


class WaitlistEntry(Entity, Base):
    """A patient waiting for an earlier visit: between `earliest_date` and `latest_date` (the
    day where the session takes place), with the practitioners, locations and weekdays they
    prefer (an empty list: any), for a course (`plan_id`) if named. Version 1, then one more
    for each change of status (the ETag a removal's `If-Match` is checked against)."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("earliest_date <= latest_date", name="window_in_order"),
        # One entry on the list a patient (an offer goes to the entry, never to two at once).
        Index(
            "uq_waitlist_entries_patient_on_list",
            "patient_id",
            unique=True,
            postgresql_where=text(_ON_THE_LIST),
            sqlite_where=text(_ON_THE_LIST),
        ),
        # The list, longest waiting first; and the candidates for a freed slot.
        Index("ix_waitlist_entries_status_created", "status", "created_at", "id"),
        Index("ix_waitlist_entries_patient_created", "patient_id", "created_at", "id"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_plans.id"))
    earliest_date: Mapped[date] = mapped_column(Date)
    latest_date: Mapped[date] = mapped_column(Date)
    practitioner_ids: Mapped[list[str]] = mapped_column(JSON)
    # The locations the patient can come to (ids of the clinic's sites; none: any).
    location_ids: Mapped[list[str]] = mapped_column(JSON)
    weekdays: Mapped[list[int]] = mapped_column(JSON)  # 0 = Monday ... 6 = Sunday
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[WaitlistStatus] = mapped_column(text_enum(WaitlistStatus, "waitlist_status"))
    # Once off the list: when, why (a removal's reason), and the session it was booked into.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removal_reason: Mapped[WaitlistRemoval | None] = mapped_column(
        text_enum(WaitlistRemoval, "waitlist_removal")
    )
    booked_session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_sessions.id"))


class FreedSlot(Base):
    """A slot a cancelled, missed or moved session gave back (or one entered in error), while
    it is offered round the waitlist. Its time is the session's as it was; its day and weekday
    are read where the session took place (`time_zone`)."""

    __tablename__ = "waitlist_freed_slots"
    __table_args__ = (
        CheckConstraint("start_at < end_at", name="start_before_end"),
        # The sweep's question: which slots are still to be offered, soonest first?
        Index("ix_waitlist_freed_slots_status_start", "status", "start_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"))
    # The patient who gave it back: never offered their own slot.
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    # The site it is at, once sessions are booked into rooms (none: matches any preference).
    location_id: Mapped[uuid.UUID | None]
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    time_zone: Mapped[str] = mapped_column(String(64))
    freed_by: Mapped[SlotFreedBy] = mapped_column(text_enum(SlotFreedBy, "slot_freed_by"))
    status: Mapped[FreedSlotStatus] = mapped_column(text_enum(FreedSlotStatus, "freed_slot_status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


_STANDING = "status = 'offered'"


class WaitlistOffer(Entity, Base):
    """A freed slot offered to one waiting patient, and held for them until `expires_at`. Its
    id is the hold's (and, once accepted, the session's)."""

    __tablename__ = "waitlist_offers"
    __table_args__ = (
        # Each patient is offered a freed slot once: a refusal or a decline passes it on.
        Index("uq_waitlist_offers_slot_patient", "freed_slot_id", "patient_id", unique=True),
        # The database itself refuses a second standing offer of one slot, or to one entry:
        # two sweeps at once cannot offer one slot twice.
        Index(
            "uq_waitlist_offers_standing_slot",
            "freed_slot_id",
            unique=True,
            postgresql_where=text(_STANDING),
            sqlite_where=text(_STANDING),
        ),
        Index(
            "uq_waitlist_offers_standing_entry",
            "entry_id",
            unique=True,
            postgresql_where=text(_STANDING),
            sqlite_where=text(_STANDING),
        ),
        # The sweep's question: which standing offers have expired?
        Index("ix_waitlist_offers_status_expires", "status", "expires_at"),
        Index("ix_waitlist_offers_created", "created_at", "id"),
        Index("ix_waitlist_offers_entry_created", "entry_id", "created_at", "id"),
        CheckConstraint("start_at < end_at", name="start_before_end"),
    )

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("waitlist_entries.id"))
    freed_slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("waitlist_freed_slots.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_plans.id"))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    location_id: Mapped[uuid.UUID | None]
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[OfferStatus] = mapped_column(text_enum(OfferStatus, "offer_status"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When it was answered, expired or withdrawn, and (refused) the booking check's code.
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refusal_code: Mapped[str | None] = mapped_column(String(40))
    # The session booked (the hold's row, booked), once accepted.
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_sessions.id"))
