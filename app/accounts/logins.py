"""Logging in with a username and password, and the login throttle: failures are counted per
username and per client address, a pause refuses further attempts without checking them, and
at most so many passwords are checked at once in a process."""

from __future__ import annotations

import ipaddress
import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.access import credentials
from app.access.credentials import Passwords
from app.db import off_the_event_loop
from app.errors import DomainError
from app.models import LoginFailure, LoginRefusal, RevokedToken, User
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


class LoginBusy(DomainError):
    status = 503
    code = "too-many-logins-at-once"
    title = "Too many password checks at once"
    headers = {"Retry-After": "1"}


@contextmanager
def hashing_slot(passwords: Passwords) -> Iterator[None]:
    """One of the process's password-hashing slots, or `LoginBusy` at once: a flood of logins
    is turned away rather than left to use up the CPU and the memory."""
    try:
        with passwords.slot():
            yield
    except credentials.HashingBusy:
        raise LoginBusy(
            "The server is checking as many passwords as it can at once; try again in a second."
        ) from None


@dataclass(frozen=True)
class LoginAttempt:
    """What checking a password found, before the attempt is counted."""

    username: str  # case-folded
    client: str  # the client's address
    user_id: uuid.UUID | None  # set when the password is right and the account active
    new_hash: str | None = None  # the password hashed with today's parameters, if needed


@dataclass(frozen=True)
class Refusal:
    """A refused login: the answer, and the audit event's detail (None: the refusal is only
    counted, an event having been written for this pause already)."""

    error: DomainError
    audit_detail: str | None


def check_password(
    *, db: Session, username: str, password: str, client: str, now: datetime, policy: LoginPolicy
) -> LoginAttempt:
    """Check a username and password: the slow part of logging in (Argon2), done outside
    any lock and off the event loop. An unknown username takes as long as a known one; a
    username or address already paused is not checked at all (a flood of guesses costs no
    hashing), and beyond the process's hashing slots the answer is `LoginBusy`."""
    name = username.strip().casefold()[:64]
    client = counted_address(client)
    if _pause(db, name, client, now, policy) is not None:
        return LoginAttempt(name, client, None)
    user = db.scalar(select(User).where(User.username == name))
    passwords = policy.passwords
    with hashing_slot(passwords):
        if user is None:
            off_the_event_loop(passwords.spend_verification_time, password)
            return LoginAttempt(name, client, None)
        right = off_the_event_loop(passwords.verify, user.password_hash, password)
        if not (right and user.active):
            return LoginAttempt(name, client, None)
        rehash = passwords.needs_rehash(user.password_hash)
        new_hash = off_the_event_loop(passwords.hash, password) if rehash else None
    return LoginAttempt(name, client, user.id, new_hash)


def counted_address(client: str) -> str:
    """The address failed logins are counted by: an IPv4 address as it is (an IPv4-mapped
    IPv6 one as IPv4), an IPv6 one by its /64, the network one subscriber is given whole
    (else each of its 2^64 addresses would be paused apart)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def settle_login(
    *, db: Session, attempt: LoginAttempt, now: datetime, policy: LoginPolicy
) -> User | Refusal:
    """Count the attempt against the throttle, one attempt per username (and per address) at
    a time.

    Returns the user, or the refusal to answer with. The refusal is returned, not raised, so
    the caller commits the failure recorded here before answering. No refusal says whether
    the username exists: unknown, wrong password and switched off read the same.
    """
    _serialize_attempts(db, f"login-address:{attempt.client}")
    _serialize_attempts(db, f"login:{attempt.username}")
    cutoff = now - policy.window
    db.execute(delete(LoginFailure).where(LoginFailure.at <= cutoff))
    db.execute(delete(LoginRefusal).where(LoginRefusal.since <= cutoff))
    # Counted again under the lock: guesses racing in parallel cannot slip past the limit.
    pause = _pause(db, attempt.username, attempt.client, now, policy)
    if pause is not None:
        subject, wait = pause
        paused = TooManyLoginAttempts(
            f"Too many failed logins for this {subject.partition(':')[0]}; "
            f"try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
        return Refusal(paused, _count_refusal(db, subject, now, policy))
    user = db.get(User, attempt.user_id) if attempt.user_id else None
    if user is not None and user.active:
        db.execute(delete(LoginFailure).where(LoginFailure.username == attempt.username))
        if attempt.new_hash is not None:
            user.password_hash = attempt.new_hash
        return user
    db.add(LoginFailure(username=attempt.username, client=attempt.client, at=now))
    error = InvalidCredentials("The username or the password is wrong, or the account is off.")
    return Refusal(error, f"{error.code} from {attempt.client}")


def _pause(
    db: Session, name: str, client: str, now: datetime, policy: LoginPolicy
) -> tuple[str, int] | None:
    """What is paused ("address:..." first, then "username:...") and the seconds until it
    may try again; None if the attempt may go on."""
    checks = (
        (f"address:{client}", LoginFailure.client == client, policy.max_failures_per_address),
        (f"username:{name}", LoginFailure.username == name, policy.max_failures),
    )
    for subject, same, limit in checks:
        wait = _paused_for(db, same, now, policy, limit)
        if wait is not None:
            return subject, wait
    return None


def _paused_for(
    db: Session, same: ColumnElement[bool], now: datetime, policy: LoginPolicy, limit: int
) -> int | None:
    """Seconds until the pause ends, or None if there is none: the pause ends when the
    `limit`-th most recent failure in the window leaves it."""
    recent = db.scalars(
        select(LoginFailure.at)
        .where(same, LoginFailure.at > now - policy.window)
        .order_by(LoginFailure.at.desc())
        .limit(limit)
    ).all()
    if len(recent) < limit:
        return None
    unlocks = recent[-1] + policy.window
    return max(1, math.ceil((unlocks - now).total_seconds()))


def _count_refusal(db: Session, subject: str, now: datetime, policy: LoginPolicy) -> str | None:
    """Count a refusal during a pause; the audit detail when this one is to be written (the
    first of a pause, then the 10th, 100th, ...: the trail stays small whatever the flood,
    and its last event says how many were refused), else None."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    table = LoginRefusal.metadata.tables[LoginRefusal.__tablename__]
    fresh = dialect.insert(table).values(subject=subject, since=now, count=1)
    stale = table.c.since <= now - policy.window
    counted = fresh.on_conflict_do_update(
        index_elements=[table.c.subject],
        set_={
            "count": case((stale, 1), else_=table.c.count + 1),
            "since": case((stale, fresh.excluded.since), else_=table.c.since),
        },
    ).returning(table.c.count, table.c.since)
    count, since = db.execute(counted).one()
    if count != 1 and not _power_of_ten(count):
        return None
    since_text = since.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(since, datetime) else since
    return f"too-many-login-attempts: {count} refused for {subject} since {since_text}"


def _power_of_ten(count: int) -> bool:
    while count % 10 == 0 and count > 1:
        count //= 10
    return count == 1


def _serialize_attempts(db: Session, key: str) -> None:
    # Concurrent attempts for one username (or address) are counted one after another.
    # (SQLite: the transaction's write lock does it.) Always the address first: no deadlock.
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


class WrongPassword(DomainError):
    status = 403
    code = "wrong-password"
    title = "The current password is wrong"


class NotALoginToken(DomainError):
    status = 400
    code = "not-a-login-token"
    title = "Only a login token can do this"


def log_out(*, db: Session, token_id: str, expires_at: datetime, now: datetime) -> None:
    """End a token: its `jti` is refused by every API process from now on. Kept until the
    token would have expired anyway; the ones past that go now."""
    table = RevokedToken.metadata.tables[RevokedToken.__tablename__]
    db.execute(delete(table).where(table.c.expires_at <= now))
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    db.execute(
        dialect.insert(table)
        .values(token_id=token_id, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=[table.c.token_id])
    )


def issue_token(*, user: User, signing_key: str, now: datetime, policy: LoginPolicy) -> str:
    return credentials.issue_token(
        user_id=user.id, key=signing_key, now=now, lifetime=policy.token_lifetime
    )
