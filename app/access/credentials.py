"""Passwords (Argon2id), login tokens (signed JWTs) and API keys: making and checking them.

No database and no HTTP here: the service decides whom a credential belongs to.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_ALGORITHM = "HS256"  # noqa: S105 - a name, not a secret
TOKEN_ISSUER = "sclerosched"  # noqa: S105 - a name, not a secret
# Who a token is for: this API. A token without it (or for another audience) is refused.
TOKEN_AUDIENCE = "sclerosched"  # noqa: S105 - a name, not a secret
API_KEY_PREFIX = "scl_"
_API_KEY_SHOWN = 12  # "scl_" and 8 characters: enough to tell keys apart in a list


@dataclass(frozen=True)
class Argon2Parameters:
    """Argon2id's cost. The default is OWASP's Password Storage Cheat Sheet recommendation
    (19 MiB of memory, 2 iterations, 1 lane): each hash in progress holds `memory_kib`."""

    memory_kib: int = 19 * 1024
    iterations: int = 2
    lanes: int = 1


class HashingBusy(Exception):
    """Every hashing slot of this process is taken: try again in a moment."""


class Passwords:
    """Hashing and checking passwords (Argon2id) with the clinic's parameters, at most
    `at_once` at a time in this process: each hash costs CPU and `memory_kib` of memory, so a
    flood of logins is refused (`HashingBusy`) rather than let to exhaust both."""

    def __init__(self, parameters: Argon2Parameters | None = None, *, at_once: int = 4) -> None:
        self.parameters = parameters or Argon2Parameters()
        self._hasher = PasswordHasher(
            time_cost=self.parameters.iterations,
            memory_cost=self.parameters.memory_kib,
            parallelism=self.parameters.lanes,
        )
        self._slots = threading.BoundedSemaphore(at_once)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the process's hashing slots, or raise `HashingBusy` at once."""
        if not self._slots.acquire(blocking=False):
            raise HashingBusy
        try:
            yield
        finally:
            self._slots.release()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Whatever parameters the hash was made with (they are written in it)."""
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than today's."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(16))

    def spend_verification_time(self, password: str) -> None:
        """Verify against a throw-away hash: an unknown username takes as long as a known one."""
        self.verify(self._dummy_hash, password)


def hash_password(password: str) -> str:
    """A hash with the default parameters (the tests' users, the demo)."""
    return _DEFAULT.hash(password)


_DEFAULT = Passwords()


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    issued_at: datetime
    token_id: str  # `jti`: a logged-out token's is refused
    expires_at: datetime


def issue_token(*, user_id: uuid.UUID, key: str, now: datetime, lifetime: timedelta) -> str:
    claims = {
        "iss": TOKEN_ISSUER,
        "aud": TOKEN_AUDIENCE,
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
            audience=TOKEN_AUDIENCE,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
        )
        token_id = claims["jti"]
        if not isinstance(token_id, str) or not 1 <= len(token_id) <= 64:
            return None
        return TokenClaims(
            user_id=uuid.UUID(claims["sub"]),
            issued_at=datetime.fromtimestamp(float(claims["iat"]), tz=UTC),
            token_id=token_id,
            expires_at=datetime.fromtimestamp(float(claims["exp"]), tz=UTC),
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
