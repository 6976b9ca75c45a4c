"""Staff accounts: create, list, change role or status, reset a password."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.access.credentials import Passwords
from app.accounts.password_rules import check_password_strength
from app.accounts.schemas import UserCreate, UserUpdate
from app.db import off_the_event_loop
from app.errors import Conflict, NotFound, Versions, require_version
from app.models import Practitioner, User, utcnow
from app.pagination import Keyset, cursor_uuid, paginate
from app.practitioners.service import UnknownPractitioner
from app.roles import Role


class UsernameTaken(Conflict):
    code = "username-taken"
    title = "Username already in use"


class OwnAccount(Conflict):
    code = "own-account"
    title = "You cannot switch off or demote your own account"


class LastAdmin(Conflict):
    code = "last-admin"
    title = "The clinic would have no active admin"


class PractitionerLinked(Conflict):
    code = "practitioner-linked"
    title = "Another account is that practitioner already"


_BY_USERNAME = Keyset(columns=(User.username, User.id), parsers=(str, cursor_uuid))


def create_user(*, db: Session, data: UserCreate, passwords: Passwords) -> User:
    """A new account; `WeakPassword` if its password is too easy to guess."""
    check_password_strength(data.password, username=data.username)
    user = User(
        username=data.username.casefold(),
        password_hash=off_the_event_loop(passwords.hash, data.password),
        role=data.role,
        active=True,
        password_changed_at=utcnow(),
        sessions_valid_from=utcnow(),
    )
    db.add(user)
    _flush_username(db, user.username)
    if data.practitioner_id is not None:
        link_practitioner(db=db, user=user, practitioner_id=data.practitioner_id)
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
    expected_version: Versions | None,
    acting_user_id: uuid.UUID | None,
    passwords: Passwords,
) -> User:
    """Change a role, switch an account off or on, reset a password, link the account to a
    practitioner or unlink it (`practitioner_id` sent as null). Nobody switches off or demotes
    their own account, and the clinic always keeps one active admin."""
    user = get_user(db=db, user_id=user_id)
    require_version("User", user.version, expected_version)
    if changes.password is not None:
        check_password_strength(changes.password, username=user.username)
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
        user.password_hash = off_the_event_loop(passwords.hash, changes.password)
        user.password_changed_at = user.sessions_valid_from = now
    if "practitioner_id" in changes.model_fields_set:
        link_practitioner(db=db, user=user, practitioner_id=changes.practitioner_id)
    db.flush()
    return user


def link_practitioner(*, db: Session, user: User, practitioner_id: uuid.UUID | None) -> None:
    """Make the account that practitioner's (None: no practitioner's). A practitioner is one
    account at most: no one else can sign in their name. A practitioner switched off may be
    linked; they sign nothing until switched on again."""
    if practitioner_id is not None and practitioner_id != user.practitioner_id:
        if db.get(Practitioner, practitioner_id) is None:
            raise UnknownPractitioner(
                f"No practitioner with id {practitioner_id}.", field="practitioner_id"
            )
        holder = db.scalar(select(User.username).where(User.practitioner_id == practitioner_id))
        if holder is not None:
            raise PractitionerLinked(
                f"Practitioner {practitioner_id} is linked to the account {holder!r}: unlink "
                "it there first (one account per practitioner)."
            )
    user.practitioner_id = practitioner_id
    try:
        db.flush()
    except IntegrityError:  # linked to another account in the meantime
        raise PractitionerLinked(
            f"Practitioner {practitioner_id} is linked to another account already."
        ) from None


def set_own_password(*, db: Session, user_id: uuid.UUID, new_hash: str, now: datetime) -> User:
    """A user's new password (its hash made by the caller, the current one checked): every
    token issued before `now` ends, on every device."""
    user = get_user(db=db, user_id=user_id)
    user.password_hash = new_hash
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
