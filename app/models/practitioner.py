"""Practitioners, their weekly hours (local wall-clock time) and their time off (UTC)."""

from __future__ import annotations

import uuid
from datetime import datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, Entity, UTCDateTime, utcnow
from app.vocabulary import LONGEST_BUFFER_MINUTES, LONGEST_NOTICE_MINUTES


class Practitioner(Entity, Base):
    __tablename__ = "practitioners"
    __table_args__ = (
        Index("ix_practitioners_name_order", "name_key", "id"),
        CheckConstraint(
            f"buffer_minutes BETWEEN 0 AND {LONGEST_BUFFER_MINUTES}", name="buffer_range"
        ),
        CheckConstraint(
            f"min_notice_minutes BETWEEN 0 AND {LONGEST_NOTICE_MINUTES}", name="notice_range"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(600))  # case-folded: up to 3x the name
    active: Mapped[bool] = mapped_column(default=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    # Minutes kept free before and after each of their sessions, and the least notice a
    # booking with them needs; null: the clinic's (`app.policy.Margins`).
    buffer_minutes: Mapped[int | None]
    min_notice_minutes: Mapped[int | None]

    availability: Mapped[list[WeeklyAvailability]] = relationship(
        back_populates="practitioner",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="(WeeklyAvailability.weekday, WeeklyAvailability.start_time)",
    )


class WeeklyAvailability(Base):
    """Recurring working hours at a location: `weekday` 0 (Monday) to 6, on the location's
    clock (its time zone)."""

    __tablename__ = "practitioner_availability"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("start_time < end_time", name="start_before_end"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[time]
    end_time: Mapped[time]

    practitioner: Mapped[Practitioner] = relationship(back_populates="availability", lazy="raise")


class TimeOff(Base):
    """An absence: no session may be booked with the practitioner from `start_at` to `end_at`."""

    __tablename__ = "practitioner_time_off"
    __table_args__ = (
        CheckConstraint("start_at < end_at", name="start_before_end"),
        Index("ix_practitioner_time_off_practitioner_start", "practitioner_id", "start_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE")
    )
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
