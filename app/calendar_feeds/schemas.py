"""How a calendar feed's secret is handed to an admin."""

from __future__ import annotations

from pydantic import Field

from app.schemas import ReadModel


class CalendarFeedIssued(ReadModel):
    url: str = Field(
        description="The feed's address, shown this once: subscribe a calendar app to it. "
        "Whoever holds it reads the practitioner's sessions, with no other credential",
        examples=["https://clinic.example/api/v1/calendar/Zk3q...Xw.ics"],
    )
    token: str = Field(
        description="The secret part of `url` (43 characters), shown this once; only its hash "
        "is kept",
        examples=["Zk3qB0n1yV4bJ8sT2wQe6rL9uPa5dC7hFg0iKm3oN1s"],
    )
