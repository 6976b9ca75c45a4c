"""Logging in with a username and password, and the login throttle."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from app.access import credentials
from app.db import off_the_event_loop
from app.errors import DomainError
from app.models import LoginFailure, User
from app.policy import LoginPolicy

_BEARER = {"WWW-Authenticate": 'Bearer realm="sclerosched"'}


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid-credentials"
    title = "Wrong username or password"
    headers = _BEARER


class TooManyLoginAttempts(DomainError):
    status = 429
    code = "too-many-login-attempts"
    title = "Too many failed logins"
    headers = {"Retry-After": "900"}  # documented default; each answer names its own wait


@dataclass(frozen=True)
class LoginAttempt:
    """What checking a password found, before the attempt is counted."""

    username: str  # case-folded
    user_id: uuid.UUID | None  # set when the password is right and the account active
    new_hash: str | None = None  # the password hashed with today's parameters, if needed


def check_password(
    *, db: Session, username: str, password: str, now: datetime, policy: LoginPolicy
) -> LoginAttempt:
    """Check a username and password: the slow part of logging in (Argon2), done outside
    any lock and off the event loop. An unknown username takes as long as a known one; a
    username already paused is not checked at all (so a flood of guesses costs no hashing)."""
    name = username.strip().casefold()[:64]
    if _paused_for(db, name, now, policy) is not None:
        return LoginAttempt(name, None)
    user = db.scalar(select(User).where(User.username == name))
    if user is None:
        off_the_event_loop(credentials.spend_verification_time, password)
        return LoginAttempt(name, None)
    right = off_the_event_loop(credentials.verify_password, user.password_hash, password)
    if not (right and user.active):
        return LoginAttempt(name, None)
    rehash = credentials.needs_rehash(user.password_hash)
    new_hash = off_the_event_loop(credentials.hash_password, password) if rehash else None
    return LoginAttempt(name, user.id, new_hash)


def settle_login(
    *, db: Session, attempt: LoginAttempt, now: datetime, policy: LoginPolicy
) -> User | DomainError:
    """Count the attempt against the throttle, one attempt per username at a time.

    Returns the user, or the refusal to answer with. The refusal is returned, not raised, so
    the caller commits the failure recorded here before answering. No refusal says whether
    the username exists: unknown, wrong password and switched off read the same.
    """
    _serialize_attempts(db, attempt.username)
    db.execute(delete(LoginFailure).where(LoginFailure.at <= now - policy.window))
    # Counted again under the lock: guesses racing in parallel cannot slip past the limit.
    wait = _paused_for(db, attempt.username, now, policy)
    if wait is not None:
        return TooManyLoginAttempts(
            f"Too many failed logins for this username; try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    user = db.get(User, attempt.user_id) if attempt.user_id else None
    if user is not None and user.active:
        db.execute(delete(LoginFailure).where(LoginFailure.username == attempt.username))
        if attempt.new_hash is not None:
            user.password_hash = attempt.new_hash
        return user
    db.add(LoginFailure(username=attempt.username, at=now))
    return InvalidCredentials("The username or the password is wrong, or the account is off.")


def _paused_for(db: Session, name: str, now: datetime, policy: LoginPolicy) -> int | None:
    """Seconds until the username may try again, or None if it may try now."""
    failures = db.scalars(
        select(LoginFailure.at)
        .where(LoginFailure.username == name, LoginFailure.at > now - policy.window)
        .order_by(LoginFailure.at)
    ).all()
    if len(failures) < policy.max_failures:
        return None
    # The pause ends when the oldest failure that still counts leaves the window.
    unlocks = failures[len(failures) - policy.max_failures] + policy.window
    return max(1, math.ceil((unlocks - now).total_seconds()))


def _serialize_attempts(db: Session, name: str) -> None:
    # Concurrent attempts for one username are counted one after another. (SQLite: the
    # transaction's write lock does it.)
    if db.get_bind().dialect.name == "postgresql":
        db.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"login:{name}"},
        )


def issue_token(*, user: User, signing_key: str, now: datetime, policy: LoginPolicy) -> str:
    return credentials.issue_token(
        user_id=user.id, key=signing_key, now=now, lifetime=policy.token_lifetime
    )
