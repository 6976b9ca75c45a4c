"""The clinic's sites (locations), their treatment rooms, and the times a room is closed.

A session takes place in a room of a location: a room holds one live session at a time, as a
practitioner does (on PostgreSQL an exclusion constraint over each room's time, migration
0028). A practitioner's weekly hours are per location (`WeeklyAvailability.location_id`), read
on the location's clock.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Entity, UTCDateTime, utcnow


class Location(Entity, Base):
    """A site of the clinic, with its address and the IANA zone its clocks keep."""

    __tablename__ = "locations"
    __table_args__ = (Index("ix_locations_name_order", "name_key", "id"),)

    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(600))  # case-folded: up to 3x the name
    address: Mapped[str | None] = mapped_column(String(500))
    time_zone: Mapped[str] = mapped_column(String(64))


class Room(Entity, Base):
    """A treatment room of a location. An inactive room takes no new session."""

    __tablename__ = "rooms"
    __table_args__ = (
        # A session names its room and the room's location: this key holds the two together.
        UniqueConstraint("location_id", "id"),
        Index("ix_rooms_location_name", "location_id", "name_key", "id"),
    )

    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id"))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(600))
    active: Mapped[bool] = mapped_column(default=True)


class RoomClosure(Base):
    """A time a room is closed (maintenance): no session may be booked in it then."""

    __tablename__ = "room_closures"
    __table_args__ = (
        CheckConstraint("start_at < end_at", name="start_before_end"),
        Index("ix_room_closures_room_start", "room_id", "start_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
