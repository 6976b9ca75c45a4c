"""Courses of treatment, their sessions, what happened to each session, and what was done."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
    false,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Entity, UTCDateTime, among, text_enum, utcnow
from app.vocabulary import FoamGas, PlanStatus, SclerosantForm, SessionStatus, Vessel

# A usual course of micro-sclerotherapy: three sessions about a month apart.
USUAL_COURSE_SESSIONS = 3
USUAL_INTERVAL_DAYS = 28

# The procedure takes under an hour: no session is booked for longer.
LONGEST_SESSION = timedelta(minutes=60)

# Sessions that hold their time in the calendar: no other may overlap them.
LIVE_STATUSES = (SessionStatus.BOOKED, SessionStatus.ARRIVED, SessionStatus.FULFILLED)
# So does a hold until it expires (`TreatmentSession.taking_time`). The database's exclusion
# constraints cover these statuses; they cannot look at the clock, so whatever takes a slot
# first deletes the expired holds in its way.
CALENDAR_STATUSES = (*LIVE_STATUSES, SessionStatus.PENDING)
# Sessions still to be treated: each must go on passing the booking checks until it is.
AWAITING_TREATMENT = (SessionStatus.BOOKED, SessionStatus.ARRIVED)


class TreatmentPlan(Entity, Base):
    """A course of micro-sclerotherapy: several sessions about a month apart."""

    __tablename__ = "treatment_plans"
    __table_args__ = (
        CheckConstraint("planned_sessions BETWEEN 1 AND 10", name="planned_sessions_range"),
        CheckConstraint("interval_days BETWEEN 14 AND 56", name="interval_days_range"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    evaluation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evaluations.id"))
    planned_sessions: Mapped[int] = mapped_column(SmallInteger)
    interval_days: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[PlanStatus] = mapped_column(text_enum(PlanStatus, "plan_status"))
    notes: Mapped[str | None] = mapped_column(Text)

    sessions: Mapped[list[TreatmentSession]] = relationship(
        back_populates="plan", lazy="raise", order_by="TreatmentSession.start_at"
    )

    @property
    def sessions_done(self) -> int:
        return sum(1 for s in self.sessions if s.status is SessionStatus.FULFILLED)

    @property
    def sessions_live(self) -> int:
        """Sessions that are booked, under way or done: they count against the plan."""
        return sum(1 for s in self.sessions if s.status in LIVE_STATUSES)


class TreatmentSession(Entity, Base):
    """One visit: an appointment and, once fulfilled, the procedure record."""

    __tablename__ = "treatment_sessions"
    __table_args__ = (
        CheckConstraint("start_at < end_at", name="start_before_end"),
        # A hold, and only a hold, expires (migration 0020).
        CheckConstraint(
            "(status = 'pending') = (hold_expires_at IS NOT NULL)", name="holds_expire"
        ),
        Index("ix_treatment_sessions_practitioner_start", "practitioner_id", "start_at"),
        Index("ix_treatment_sessions_patient_start", "patient_id", "start_at"),
        Index("ix_treatment_sessions_start", "start_at", "id"),
        Index("ix_treatment_sessions_room_start", "room_id", "start_at"),
        # The room, and the location it is one of (migration 0028): one key checks both.
        ForeignKeyConstraint(
            ["location_id", "room_id"],
            ["rooms.location_id", "rooms.id"],
            name="fk_treatment_sessions_location_id_rooms",
        ),
        # PostgreSQL also has exclusion constraints (migrations 0003, 0028): no two live
        # sessions of one practitioner, of one patient, or in one room overlap. Both databases
        # check that a session lasts at most LONGEST_SESSION (migration 0008: the date
        # arithmetic differs).
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("practitioners.id"))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    # Where it takes place: a room of a location (the two held together by a foreign key).
    location_id: Mapped[uuid.UUID]
    room_id: Mapped[uuid.UUID]
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The location's zone when booked (or moved). Its day (check-in, treatment, the daily
    # dose, the 14-day rule) stays that zone's, whatever the location says later.
    time_zone: Mapped[str] = mapped_column(String(64))
    status: Mapped[SessionStatus] = mapped_column(text_enum(SessionStatus, "session_status"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # A hold (status `pending`) is gone from this moment on: it no longer takes its time.
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    plan: Mapped[TreatmentPlan | None] = relationship(back_populates="sessions", lazy="raise")
    completion: Mapped[CompletionRecord | None] = relationship(
        back_populates="session", lazy="raise"
    )
    events: Mapped[list[SessionEvent]] = relationship(
        back_populates="session", lazy="raise", order_by="SessionEvent.at"
    )

    @classmethod
    def ending_after(cls, moment: datetime) -> ColumnElement[bool]:
        """Sessions still going at or after `moment`. No session is longer than
        LONGEST_SESSION, so the start is bounded too: an index on the start time is scanned
        from there, not from the beginning of the diary."""
        return and_(cls.end_at > moment, cls.start_at > moment - LONGEST_SESSION)

    @classmethod
    def taking_time(cls, now: datetime | ColumnElement[Any]) -> ColumnElement[bool]:
        """Sessions and holds that take their time in the calendar at `now`: booked, under way
        or done, or held and not yet expired."""
        return or_(
            among(cls.status, LIVE_STATUSES),
            and_(cls.status == SessionStatus.PENDING, cls.hold_expires_at > now),
        )

    @classmethod
    def overlapping(cls, start: datetime, end: datetime) -> ColumnElement[bool]:
        """Sessions overlapping [start, end)."""
        return and_(cls.start_at < end, cls.ending_after(start))

    @classmethod
    def awaiting_treatment(cls, now: datetime) -> ColumnElement[bool]:
        """The sessions a change can still strand: checked in and not yet recorded, whenever
        they were; booked and not over by more than a day (their day may not have ended yet
        where they take place, and the patient may still be checked in)."""
        return or_(
            cls.status == SessionStatus.ARRIVED,
            and_(cls.status == SessionStatus.BOOKED, cls.end_at > now - timedelta(days=1)),
        )


class SessionEvent(Base):
    """A step in a session's life: booked, rescheduled (with the old time), checked in, ..."""

    __tablename__ = "session_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    old_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    old_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A reschedule to another practitioner keeps who had the session before.
    old_practitioner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("practitioners.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Booked or moved inside the practitioner's minimum notice, by staff allowed to.
    within_notice: Mapped[bool] = mapped_column(default=False, server_default=false())

    session: Mapped[TreatmentSession] = relationship(back_populates="events", lazy="raise")


class CompletionRecord(Base):
    """What was done in a fulfilled session: the lines of injections given
    (`InjectionLine`), where, when, and what followed.

    The record stays when its session is marked entered in error: the sclerosant was given,
    so it still counts for that day's dose and for the interval before the next treatment.
    """

    __tablename__ = "completion_records"
    __table_args__ = (CheckConstraint("weight_kg > 0", name="weight_positive"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_sessions.id"), unique=True)
    # The sites treated: the lines' sites, in order; a record written without sites per line
    # (before lines were kept, or through the single-agent body) keeps the ones it named.
    treated_sites: Mapped[list[str]] = mapped_column(JSON)
    # When the sclerosant was given (on the session's day; the record may be written later):
    # the daily dose and the interval between treatments count from it.
    administered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The body weight the clinician stated when completing, if any (else the evaluation's).
    weight_kg: Mapped[float | None]
    anaesthetic: Mapped[str] = mapped_column(String(24))
    compression: Mapped[bool]
    complications: Mapped[list[str]] = mapped_column(JSON)
    aftercare: Mapped[list[str]] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    session: Mapped[TreatmentSession] = relationship(back_populates="completion", lazy="raise")
    injections: Mapped[list[InjectionLine]] = relationship(
        back_populates="completion", lazy="raise", order_by="InjectionLine.position"
    )


class InjectionLine(Base):
    """One line of a treatment record: injections of one sclerosant at one concentration, as
    a liquid or a foam, into one kind of vein at one site, and how many (migration 0025).

    A record written before lines were kept is one line, as is one written through the
    single-agent body: without a site, a vessel or a count (None), given as a liquid."""

    __tablename__ = "injection_lines"
    __table_args__ = (
        UniqueConstraint("completion_id", "position"),
        CheckConstraint("concentration_percent > 0", name="concentration_positive"),
        CheckConstraint("volume_ml > 0", name="volume_positive"),
        CheckConstraint("count >= 1", name="count_positive"),
        # A foam has its ratio and its gas; a liquid has neither.
        CheckConstraint("(form = 'foam') = (foam_ratio IS NOT NULL)", name="foam_has_ratio"),
        CheckConstraint("(form = 'foam') = (gas IS NOT NULL)", name="foam_has_gas"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    completion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("completion_records.id"))
    position: Mapped[int] = mapped_column(SmallInteger)  # the line's place in the record, from 0
    site: Mapped[str | None] = mapped_column(String(24))
    vessel: Mapped[Vessel | None] = mapped_column(text_enum(Vessel, "vessel"))
    sclerosant: Mapped[str] = mapped_column(String(40))
    concentration_percent: Mapped[float]
    form: Mapped[SclerosantForm] = mapped_column(text_enum(SclerosantForm, "sclerosant_form"))
    foam_ratio: Mapped[str | None] = mapped_column(String(8))  # liquid to gas, e.g. "1:4"
    gas: Mapped[FoamGas | None] = mapped_column(text_enum(FoamGas, "foam_gas"))
    volume_ml: Mapped[float]  # a foam's: the foam's volume
    count: Mapped[int | None] = mapped_column(SmallInteger)
    # The drug given (a foam's from its liquid part, `app.sessions.dosing`), to the microgram:
    # what the next treatment that day counts.
    dose_mg: Mapped[float]

    completion: Mapped[CompletionRecord] = relationship(back_populates="injections", lazy="raise")
