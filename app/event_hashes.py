"""How an audit event is hashed and linked to the one before it: the pure part of the audit
trail's hash chain, below everything that writes or checks it (`app.auditing` writes events,
`app.audit.chain` verifies the chain).

An event's hash is SHA-256 over the previous event's hash (32 bytes) followed by the SHA-256 of
the event's own fields in a canonical form: a JSON object of every column but the chain's own
(`seq`, `previous_hash`, `hash`), its keys sorted, no spaces, ASCII only, ids as their usual
hyphenated text, times as UTC ISO 8601 with microseconds, and a field without a value (NULL)
left out, so that a column added to the table later (empty in older events) leaves the hashes
of those events as they were. The first event links to `GENESIS`.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
CHAIN_COLUMNS = frozenset({"seq", "previous_hash", "hash"})


def content_digest(fields: Mapping[str, Any]) -> bytes:
    """SHA-256 of an event's own fields (the chain's columns ignored) in canonical form."""
    plain = {
        name: _plain(value)
        for name, value in fields.items()
        if name not in CHAIN_COLUMNS and value is not None
    }
    canonical = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).digest()


def link(previous_hash: str, digest: bytes) -> str:
    """An event's hash: SHA-256 over the previous event's hash, then its own fields' digest
    (the same as PostgreSQL's `sha256(decode(previous, 'hex') || digest)`)."""
    return hashlib.sha256(bytes.fromhex(previous_hash) + digest).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        # SQLite gives back naive UTC; PostgreSQL an aware time in any zone.
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat(timespec="microseconds")
    if isinstance(value, enum.Enum):
        return value.value
    return value
