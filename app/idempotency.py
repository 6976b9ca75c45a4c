"""Retrying safely: the answer a request sent with an `Idempotency-Key` got, kept for its
retries (the IETF httpapi draft "The Idempotency-Key HTTP Header Field").

A client over a flaky network sends a write with a key of its own choosing; if the answer is
lost it sends the same request with the same key, and gets the first answer again (marked as a
replay) instead of a second change. The same key with another request is refused; the same
key while its first request is still running is refused too, until that one is answered. Keys
are the caller's own (two callers may pick the same), kept in the database so every API
process sees them, and expire after a setting's hours (`sclerosched purge-idempotency-keys`
removes the expired ones). Only a success is kept: a refusal can be retried as it stands.

No web framework here: the route (`app.web.routes.ApiRoute`) asks `claim` before the work and
`keep`s the answer in the work's own transaction, so an answer is kept if and only if the
change it reports was committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import try_lock
from app.errors import Conflict, DomainError
from app.models import IdempotentResponse

# An sf-string's characters (visible ASCII and space), as the draft defines the key; quoted
# (as the draft writes it) or bare.
_KEY = re.compile(r"^[\x20-\x21\x23-\x7e]{1,255}$")


class InvalidIdempotencyKey(DomainError):
    status = 400
    code = "invalid-idempotency-key"
    title = "The Idempotency-Key is not valid"


class IdempotencyKeyInFlight(Conflict):
    code = "idempotency-key-in-flight"
    title = "A request with this Idempotency-Key is still being answered"
    headers = {"Retry-After": "1"}


class IdempotencyKeyNotTaken(DomainError):
    status = 400
    code = "idempotency-key-not-taken"
    title = "This request's answer is never kept"


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency-key-reused"
    title = "This Idempotency-Key was used for another request"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    # The record the write was about (resource type, id) and its patient, if it named one.
    about: tuple[str, uuid.UUID | None, uuid.UUID | None] | None = None


def read_key(lines: list[str]) -> str:
    """The key an `Idempotency-Key` header carries (one line of it), or
    `InvalidIdempotencyKey`."""
    header = lines[0] if len(lines) == 1 else ""
    key = header[1:-1] if len(header) >= 2 and header[0] == header[-1] == '"' else header
    if not _KEY.match(key) or not key.strip():
        raise InvalidIdempotencyKey(
            "Send `Idempotency-Key` as 1 to 255 visible characters (a UUID, say), quoted or "
            "not, and the same one on every retry of the request."
        )
    return key


def fingerprint(method: str, target: str, body: bytes, content_type: str = "") -> str:
    """What makes two requests the same request: method, path with query, body. A JSON body
    counts by what it says, not how it is written (key order, white space)."""
    digest = hashlib.sha256(f"{method} {target}\n".encode())
    if "json" in content_type:
        # Not JSON after all (or nested past parsing): as sent; the request is refused anyway.
        with contextlib.suppress(ValueError, RecursionError):
            body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest.update(body)
    return digest.hexdigest()


def claim(
    *, db: Session, caller_id: uuid.UUID, key: str, request: str, now: datetime
) -> Answer | None:
    """The answer kept for the caller's key, when `request` (its fingerprint) was made with it
    before: to be given again. None: go ahead, this request's answer is to be kept. The key
    stays held (on PostgreSQL, an advisory lock) until this transaction ends."""
    if not try_lock(db, f"idempotency:{caller_id}:{key}"):
        raise IdempotencyKeyInFlight(
            "A request with this Idempotency-Key is still being answered; retry it shortly."
        )
    kept = db.scalar(
        select(IdempotentResponse).where(
            IdempotentResponse.caller_id == caller_id, IdempotentResponse.key == key
        )
    )
    if kept is None:
        return None
    if kept.expires_at <= now:
        db.delete(kept)
        db.flush()
        return None
    if kept.fingerprint != request:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was sent before with another request (method, path or "
            "body); use a new key for a new request."
        )
    about = (kept.resource_type, kept.resource_id, kept.patient_id) if kept.resource_type else None
    return Answer(kept.status, kept.header_pairs(), kept.body, about)


def keep(
    *,
    db: Session,
    caller_id: uuid.UUID,
    key: str,
    request: str,
    answer: Answer,
    now: datetime,
    lifetime: timedelta,
) -> None:
    """Keep the answer to give again on a retry, in the transaction of the change it reports."""
    db.add(
        IdempotentResponse(
            caller_id=caller_id,
            key=key,
            fingerprint=request,
            status=answer.status,
            headers=[list(pair) for pair in answer.headers],
            body=answer.body,
            resource_type=answer.about[0] if answer.about else None,
            resource_id=answer.about[1] if answer.about else None,
            patient_id=answer.about[2] if answer.about else None,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    db.flush()


def purge(*, db: Session, now: datetime) -> int:
    """Remove the expired answers; how many."""
    result = db.execute(delete(IdempotentResponse).where(IdempotentResponse.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
