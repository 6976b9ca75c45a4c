"""The audit trail as a hash chain: each event carries the hash of the one before it, so an
event changed, removed or slipped in afterwards breaks the chain where it happened.

An event's hash is SHA-256 over the previous event's hash (32 bytes) followed by the SHA-256 of
the event's own fields in a canonical form: a JSON object of every column but the chain's own
(`seq`, `previous_hash`, `hash`), its keys sorted, no spaces, ASCII only, ids as their usual
hyphenated text, times as UTC ISO 8601 with microseconds, and a field without a value (NULL)
left out, so that a column added to the table later (empty in older events) leaves the hashes
of those events as they were. The first event links to `GENESIS`.

Who links an event to the one before is written once per database, under a lock the database
holds (`app.auditing`): the chain is one line, whatever the number of API processes.
`verify` walks it from the first event and names the first link that does not hold.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from app.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
CHAIN_COLUMNS = frozenset({"seq", "previous_hash", "hash"})

_EVENTS = AuditEvent.metadata.tables[AuditEvent.__tablename__]
_HEAD = AuditChainHead.metadata.tables[AuditChainHead.__tablename__]


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


@dataclass(frozen=True)
class Break:
    """The first link that does not hold: the event where it breaks (if there is one) and why."""

    seq: int
    event_id: uuid.UUID | None
    reason: str


@dataclass(frozen=True)
class Verdict:
    events: int
    broken: Break | None


def verify(connection: Connection, *, batch: int = 2000) -> Verdict:
    """Walk the chain from its first event: each must follow the one before (`seq` one more),
    name its hash, and hash to what it holds; the last must be the one the chain's head names.
    Stops at the first broken link."""
    previous_hash, expected_seq, count = GENESIS, 1, 0
    rows = connection.execution_options(yield_per=batch).execute(
        select(_EVENTS).order_by(_EVENTS.c.seq)
    )
    for row in rows.mappings():
        seq, event_id = row["seq"], row["id"]
        if seq != expected_seq:
            missing = f"#{expected_seq}" + (f" to #{seq - 1}" if seq - 1 > expected_seq else "")
            return Verdict(count, Break(seq, event_id, f"event {missing} is missing (removed)"))
        if row["previous_hash"] != previous_hash:
            return Verdict(
                count,
                Break(
                    seq,
                    event_id,
                    "it does not link to the event before it (one was removed or slipped in)",
                ),
            )
        if link(previous_hash, content_digest(dict(row))) != row["hash"]:
            return Verdict(
                count,
                Break(
                    seq, event_id, "its fields do not match its hash (changed after it was written)"
                ),
            )
        previous_hash, expected_seq, count = row["hash"], seq + 1, count + 1
    head = connection.execute(select(_HEAD.c.seq, _HEAD.c.hash)).one_or_none()
    if head is None:
        return Verdict(count, Break(expected_seq, None, "the chain's head is missing"))
    last = expected_seq - 1
    if head.seq != last:
        return Verdict(
            count,
            Break(
                expected_seq,
                None,
                f"the chain's head names event #{head.seq}, the trail ends at #{last}"
                + (" (the last events were removed)" if head.seq > last else ""),
            ),
        )
    if head.hash != previous_hash:
        return Verdict(
            count, Break(last, None, "the chain's head names another hash than the last event's")
        )
    return Verdict(count, None)
