"""Calendar feeds: issuing, rotating and revoking a practitioner's secret feed token, and
reading the sessions a feed shows. Only a hash of a token is kept."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.calendar_feeds.ics import FeedEntry
from app.db import hold_lock
from app.errors import NotFound
from app.models import CalendarFeed, Patient, Practitioner, SessionEvent, TreatmentSession
from app.sessions.lifecycle import SessionAction
from app.vocabulary import SessionStatus

# What a feed holds: the practitioner's sessions from this long ago to this far ahead.
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=180)

# A token is 32 random bytes, URL-safe base64 without padding: 43 characters.
_TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class IssuedFeed:
    feed: CalendarFeed
    token: str  # shown once, never stored
    replaced: bool  # an earlier token of the practitioner was revoked by this one


@dataclass(frozen=True)
class OpenedFeed:
    """A live feed, found by its token, and whose calendar it is."""

    feed_id: uuid.UUID
    practitioner_id: uuid.UUID
    practitioner_name: str


def token_hash(token: str) -> str:
    """A fast hash is right here: a token is 256 random bits, not a guessable password."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_feed(*, db: Session, practitioner_id: uuid.UUID, now: datetime) -> IssuedFeed:
    """A new feed token for the practitioner; the one they had, if any, stops working now."""
    _practitioner(db, practitioner_id)
    _lock_feed(db, practitioner_id)
    replaced = _revoke_live(db, practitioner_id, now)
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    feed = CalendarFeed(practitioner_id=practitioner_id, token_hash=token_hash(token))
    db.add(feed)
    db.flush()
    return IssuedFeed(feed=feed, token=token, replaced=replaced)


def revoke_feed(*, db: Session, practitioner_id: uuid.UUID, now: datetime) -> bool:
    """The practitioner's feed stops working now; whether they had one (revoking twice is
    harmless)."""
    _practitioner(db, practitioner_id)
    _lock_feed(db, practitioner_id)
    return _revoke_live(db, practitioner_id, now)


_LIVE_BY_HASH = (
    select(
        CalendarFeed.id,
        CalendarFeed.token_hash,
        CalendarFeed.practitioner_id,
        Practitioner.name,
    )
    .join(Practitioner, Practitioner.id == CalendarFeed.practitioner_id)
    .where(CalendarFeed.revoked_at.is_(None))
)


def open_feed(*, db: Session, token: str) -> OpenedFeed:
    """The live feed `token` opens, else `NotFound`: whether the token is malformed, unknown,
    rotated away or revoked, the same answer."""
    if not _TOKEN.fullmatch(token):
        raise _no_feed()
    wanted = token_hash(token)
    found = db.execute(_LIVE_BY_HASH.where(CalendarFeed.token_hash == wanted)).first()
    # The index finds the row by a hash of 256 random bits; compared again in constant time
    # so that no answer's timing depends on how much of a guess matched.
    if found is None or not hmac.compare_digest(found.token_hash, wanted):
        raise _no_feed()
    return OpenedFeed(found.id, found.practitioner_id, found.name)


def feed_entries(*, db: Session, practitioner_id: uuid.UUID, now: datetime) -> Sequence[FeedEntry]:
    """The practitioner's sessions starting from `FEED_PAST` before `now` to `FEED_AHEAD`
    after it, whatever their status, but for holds (a hold is no session yet); each with how
    many times it was moved. One statement."""
    moves = (
        select(SessionEvent.session_id, func.count().label("moves"))
        .where(SessionEvent.action == SessionAction.RESCHEDULE.value)
        .group_by(SessionEvent.session_id)
        .subquery()
    )
    rows = db.execute(
        select(
            TreatmentSession.id,
            TreatmentSession.start_at,
            TreatmentSession.end_at,
            TreatmentSession.status,
            TreatmentSession.created_at,
            TreatmentSession.updated_at,
            TreatmentSession.patient_id,
            Patient.given_name,
            Patient.family_name,
            func.coalesce(moves.c.moves, 0),
        )
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .outerjoin(moves, moves.c.session_id == TreatmentSession.id)
        .where(
            TreatmentSession.practitioner_id == practitioner_id,
            TreatmentSession.status != SessionStatus.PENDING,
            TreatmentSession.start_at >= now - FEED_PAST,
            TreatmentSession.start_at < now + FEED_AHEAD,
        )
        .order_by(TreatmentSession.start_at, TreatmentSession.id)
    ).all()
    return [
        FeedEntry(
            session_id=row[0],
            start_at=row[1],
            end_at=row[2],
            status=row[3],
            created_at=row[4],
            updated_at=row[5],
            patient_id=row[6],
            given_name=row[7],
            family_name=row[8],
            reschedules=int(row[9]),
        )
        for row in rows
    ]


def _lock_feed(db: Session, practitioner_id: uuid.UUID) -> None:
    """Rotations of one feed, one at a time (every API process): each revokes the token the
    one before it made. The live-feed index would refuse a second live token anyway."""
    hold_lock(db, f"calendar-feed:{practitioner_id}")


def _revoke_live(db: Session, practitioner_id: uuid.UUID, now: datetime) -> bool:
    """Revoke the practitioner's live feed, if any; whether there was one."""
    revoked = db.execute(
        update(CalendarFeed)
        .where(CalendarFeed.practitioner_id == practitioner_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(getattr(revoked, "rowcount", 0))


def _practitioner(db: Session, practitioner_id: uuid.UUID) -> None:
    if db.scalar(select(Practitioner.id).where(Practitioner.id == practitioner_id)) is None:
        raise NotFound(f"No practitioner with id {practitioner_id}.")


def _no_feed() -> NotFound:
    return NotFound(
        "No calendar feed at this address: it was never issued, or was replaced or revoked."
    )
