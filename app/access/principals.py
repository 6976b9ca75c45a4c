"""The caller a bearer credential names (a staff login token or an integration's API key), or
why it names nobody; and the refusals that follow."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from app.access import credentials
from app.errors import DomainError
from app.models import ApiKey, RevokedToken, User
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


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Your role may not do this"


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


# Read on every request: built once (SQLAlchemy then reuses their compiled form), plain
# columns rather than ORM objects, run on the session's connection (in its transaction: no
# cache stands between a revoked credential and its refusal) without the ORM's execution path.
_KEY_BY_HASH = select(
    ApiKey.__table__.c.id,
    ApiKey.__table__.c.name,
    ApiKey.__table__.c.role,
    ApiKey.__table__.c.revoked_at,
).where(ApiKey.__table__.c.key_hash == bindparam("key_hash"))
_USER_BY_ID = select(
    User.__table__.c.id,
    User.__table__.c.username,
    User.__table__.c.role,
    User.__table__.c.active,
    User.__table__.c.sessions_valid_from,
    # Folded into the one query a token costs: whether it was logged out (a primary key).
    exists().where(RevokedToken.__table__.c.token_id == bindparam("token_id")).label("logged_out"),
).where(User.__table__.c.id == bindparam("user_id"))


def identify(
    *, db: Session, credential: str, signing_key: str, now: datetime
) -> Principal | Refused | None:
    """The principal a bearer credential (login token or API key) stands for, if it is valid:
    the user still active, the token newer than their sessions' cut-off, the key not revoked.
    Role and status are read now, so a change takes effect at once."""
    if credentials.looks_like_api_key(credential):
        key_hash = credentials.api_key_hash(credential)
        key = db.connection().execute(_KEY_BY_HASH, {"key_hash": key_hash}).first()
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
    found = {"user_id": claims.user_id, "token_id": claims.token_id}
    user = db.connection().execute(_USER_BY_ID, found).first()
    if user is None or user.logged_out:  # the holder ended it: nothing to record
        return None
    holder = Principal(kind="user", id=user.id, name=user.username, role=user.role)
    if not user.active:
        return Refused(holder, "account switched off")
    if claims.issued_at < user.sessions_valid_from:
        return Refused(holder, "token from an ended session")
    return holder
