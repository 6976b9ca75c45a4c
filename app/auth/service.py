"""Who is calling: staff accounts, integration keys, logging in, and the login throttle."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth import credentials
from app.auth.schemas import ApiKeyCreate, UserCreate, UserUpdate
from app.errors import Conflict, DomainError, NotFound, VersionMismatch
from app.models import ApiKey, LoginFailure, User, utcnow
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate
from app.roles import Role

_BEARER = {"WWW-Authenticate": 'Bearer realm="sclerosched"'}


class AuthenticationRequired(DomainError):
    status = 401
    code = "authentication-required"
    title = "Log in or send an API key"
    headers = _BEARER


class InvalidToken(DomainError):
    status = 401
    code = "invalid-token"
    title = "The credential is not valid"
    headers = {"WWW-Authenticate": 'Bearer realm="sclerosched", error="invalid_token"'}


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


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Your role may not do this"


class UsernameTaken(Conflict):
    code = "username-taken"
    title = "Username already in use"


class OwnAccount(Conflict):
    code = "own-account"
    title = "You cannot switch off or demote your own account"


class LastAdmin(Conflict):
    code = "last-admin"
    title = "The clinic would have no active admin"


@dataclass(frozen=True)
class Principal:
    """The caller: a logged-in user or an integration's key, with the role it acts in."""

    kind: Literal["user", "api-key"]
    id: uuid.UUID
    name: str
    role: Role


@dataclass(frozen=True)
class Refused:
    """A genuine credential that no longer lets its holder in: a revoked key, the token of a
    user switched off or of a session ended by a password reset. Unlike a forged, expired or
    unknown one, it names someone, so the refusal goes into the audit trail."""

    holder: Principal
    reason: str


def identify(
    *, db: Session, credential: str, signing_key: str, now: datetime
) -> Principal | Refused | None:
    """The principal a bearer credential (login token or API key) stands for, if it is valid:
    the user still active, the token newer than their sessions' cut-off, the key not revoked.
    Role and status are read now, so a change takes effect at once."""
    if credentials.looks_like_api_key(credential):
        key = db.scalar(
            select(ApiKey).where(ApiKey.key_hash == credentials.api_key_hash(credential))
        )
        if key is None:
            return None
        holder = Principal(kind="api-key", id=key.id, name=key.name, role=key.role)
        if key.revoked_at is not None:
            return Refused(holder, "revoked API key")
        if key.role is Role.ADMIN:  # none is issued; one made by hand is not honoured
            return Refused(holder, "API keys cannot act as admin")
        return holder
    claims = credentials.read_token(credential, key=signing_key)
    if claims is None:
        return None
    user = db.get(User, claims.user_id)
    if user is None:
        return None
    holder = Principal(kind="user", id=user.id, name=user.username, role=user.role)
    if not user.active:
        return Refused(holder, "account switched off")
    if claims.issued_at < user.sessions_valid_from:
        return Refused(holder, "token from an ended session")
    return holder


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    window: timedelta
    token_lifetime: timedelta


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
    any lock. An unknown username takes as long as a known one; a username already paused
    is not checked at all (so a flood of guesses costs no hashing)."""
    name = username.strip().casefold()[:64]
    if _paused_for(db, name, now, policy) is not None:
        return LoginAttempt(name, None)
    user = db.scalar(select(User).where(User.username == name))
    if user is None:
        credentials.spend_verification_time(password)
        return LoginAttempt(name, None)
    if not (credentials.verify_password(user.password_hash, password) and user.active):
        return LoginAttempt(name, None)
    rehash = credentials.needs_rehash(user.password_hash)
    return LoginAttempt(name, user.id, credentials.hash_password(password) if rehash else None)


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


# --- staff accounts ---------------------------------------------------------------------

_BY_USERNAME = Keyset(columns=(User.username, User.id), parsers=(str, cursor_uuid))


def create_user(*, db: Session, data: UserCreate) -> User:
    user = User(
        username=data.username.casefold(),
        password_hash=credentials.hash_password(data.password),
        role=data.role,
        active=True,
        password_changed_at=utcnow(),
        sessions_valid_from=utcnow(),
    )
    db.add(user)
    _flush_username(db, user.username)
    return user


def get_user(*, db: Session, user_id: uuid.UUID) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


def list_users(*, db: Session, limit: int, cursor: str | None) -> tuple[Sequence[User], str | None]:
    return paginate(db, select(User), _BY_USERNAME, limit=limit, cursor=cursor)


def update_user(
    *,
    db: Session,
    user_id: uuid.UUID,
    changes: UserUpdate,
    expected_version: int | None,
    acting_user_id: uuid.UUID | None,
) -> User:
    """Change a role, switch an account off or on, reset a password. Nobody switches off or
    demotes their own account, and the clinic always keeps one active admin."""
    user = get_user(db=db, user_id=user_id)
    if expected_version is not None and expected_version != user.version:
        raise VersionMismatch(f"User {user_id} is at version {user.version}.")
    loses_admin = (
        user.role is Role.ADMIN
        and user.active
        and (changes.active is False or changes.role not in {None, Role.ADMIN})
    )
    if loses_admin and user.id == acting_user_id:
        raise OwnAccount("You cannot switch off or demote your own account: ask another admin.")
    if loses_admin and _active_admins(db) <= {user.id}:
        raise LastAdmin("This is the last active admin: make another user admin first.")
    now = utcnow()
    if changes.role is not None:
        user.role = changes.role
    if changes.active is not None:
        if user.active and not changes.active:
            user.sessions_valid_from = now
        user.active = changes.active
    if changes.password is not None:
        user.password_hash = credentials.hash_password(changes.password)
        user.password_changed_at = user.sessions_valid_from = now
    db.flush()
    return user


def _active_admins(db: Session) -> set[uuid.UUID]:
    """The active admins, their rows locked in one order (PostgreSQL; SQLite holds its write
    lock already): two admins demoting each other at once are served one after the other, and
    the second sees the first one's change."""
    return set(
        db.scalars(
            select(User.id)
            .where(User.role == Role.ADMIN, User.active.is_(True))
            .order_by(User.id)
            .with_for_update()
        )
    )


def _flush_username(db: Session, username: str) -> None:
    taken = db.scalar(select(User.id).where(User.username == username))
    if taken is not None:
        raise UsernameTaken(f"The username {username!r} is already in use.")
    try:
        db.flush()
    except IntegrityError:  # created by someone else in the meantime
        raise UsernameTaken(f"The username {username!r} is already in use.") from None


# --- integration keys -------------------------------------------------------------------

_NEWEST_FIRST = Keyset(
    columns=(ApiKey.created_at, ApiKey.id), parsers=(cursor_datetime, cursor_uuid), descending=True
)


@dataclass(frozen=True)
class CreatedKey:
    record: ApiKey
    secret: str


def create_api_key(*, db: Session, data: ApiKeyCreate) -> CreatedKey:
    """A new key; its secret is returned this once and only its hash is kept."""
    made = credentials.new_api_key()
    key = ApiKey(name=data.name, role=data.role, prefix=made.prefix, key_hash=made.key_hash)
    db.add(key)
    db.flush()
    return CreatedKey(record=key, secret=made.secret)


def list_api_keys(
    *, db: Session, include_revoked: bool, limit: int, cursor: str | None
) -> tuple[Sequence[ApiKey], str | None]:
    query = select(ApiKey)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return paginate(db, query, _NEWEST_FIRST, limit=limit, cursor=cursor)


def revoke_api_key(*, db: Session, key_id: uuid.UUID, now: datetime) -> ApiKey:
    """Revoke a key for good (the record stays for the audit trail). Revoking twice is harmless."""
    key = db.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key with id {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = now
        db.flush()
    return key
