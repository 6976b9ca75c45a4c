"""Who may call the API: staff accounts, integration keys, and failed logins (for throttling)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Entity, UTCDateTime, text_enum, utcnow
from app.roles import Role


class User(Entity, Base):
    """A person who logs in. Usernames are stored case-folded: `Alice` and `alice` are one."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # Argon2id, with its parameters
    role: Mapped[Role] = mapped_column(text_enum(Role, "role"))
    active: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Tokens issued before this are refused: a password reset, or switching the account off,
    # ends every open session (and switching it on again does not revive them).
    sessions_valid_from: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The practitioner this person is: evaluations and clearances they record are signed in
    # that name, and no other. One account per practitioner, so no one else signs as them.
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("practitioners.id"), unique=True
    )


class ApiKey(Entity, Base):
    """An integration's credential. Only a hash of the key is kept; `prefix` identifies it."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(text_enum(Role, "role"))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256, hex
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginFailure(Base):
    """One failed login for a username (existing or not): the throttle counts these."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_client_at", "client", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The client address it came from: random usernames from one address pause it too.
    client: Mapped[str | None] = mapped_column(String(64))


class LoginRefusal(Base):
    """Logins refused during one pause, counted rather than each written to the audit trail:
    `subject` is the username (`user:...`) or client address (`address:...`) paused, `since`
    the first refusal of the count."""

    __tablename__ = "login_refusals"

    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int]


class RevokedToken(Base):
    """A login token ended by logging out: its `jti` is refused until it would have expired
    anyway (then the row may go)."""

    __tablename__ = "revoked_tokens"
    __table_args__ = (Index("ix_revoked_tokens_expires_at", "expires_at"),)

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
