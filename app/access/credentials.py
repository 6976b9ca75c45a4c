"""Passwords (Argon2id), login tokens (signed JWTs) and API keys: making and checking them.

No database and no HTTP here: the service decides whom a credential belongs to.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are RFC 9106's second recommended profile, with the Argon2id variant.
_hasher = PasswordHasher()

TOKEN_ALGORITHM = "HS256"  # noqa: S105 - a name, not a secret
TOKEN_ISSUER = "sclerosched"  # noqa: S105 - a name, not a secret
API_KEY_PREFIX = "scl_"
_API_KEY_SHOWN = 12  # "scl_" and 8 characters: enough to tell keys apart in a list


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def spend_verification_time(password: str) -> None:
    """Verify against a throw-away hash, so an unknown username takes as long as a known one."""
    verify_password(_dummy_hash(), password)


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    issued_at: datetime


def issue_token(*, user_id: uuid.UUID, key: str, now: datetime, lifetime: timedelta) -> str:
    claims = {
        "iss": TOKEN_ISSUER,
        "sub": str(user_id),
        # Sub-second: a token made just after a password reset is newer than the reset.
        "iat": now.timestamp(),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=TOKEN_ALGORITHM)


def read_token(token: str, *, key: str) -> TokenClaims | None:
    """The claims of a token this service signed and that has not expired, else None."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[TOKEN_ALGORITHM],
            issuer=TOKEN_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
        return TokenClaims(
            user_id=uuid.UUID(claims["sub"]),
            issued_at=datetime.fromtimestamp(float(claims["iat"]), tz=UTC),
        )
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return None


@dataclass(frozen=True)
class NewApiKey:
    secret: str  # shown once, never stored
    prefix: str
    key_hash: str


def new_api_key() -> NewApiKey:
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(secret=secret, prefix=secret[:_API_KEY_SHOWN], key_hash=api_key_hash(secret))


def api_key_hash(secret: str) -> str:
    """A fast hash is right here: a key is 256 random bits, not a guessable password."""
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_PREFIX)
