"""The audit trail as a hash chain: each event carries the hash of the one before it, so an
event changed, removed or slipped in afterwards breaks the chain where it happened.

How an event is hashed and linked is `app.event_hashes`.

Who links an event to the one before is written once per database, under a lock the database
holds (`app.auditing`): the chain is one line, whatever the number of API processes.
`verify` walks it from the first event and names the first link that does not hold.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, select

from app.event_hashes import GENESIS, content_digest, link
from app.models import AuditChainHead, AuditEvent

_EVENTS = AuditEvent.metadata.tables[AuditEvent.__tablename__]
_HEAD = AuditChainHead.metadata.tables[AuditChainHead.__tablename__]


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
