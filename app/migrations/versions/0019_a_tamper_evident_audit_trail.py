"""a tamper-evident audit trail, append-only on SQLite too

- `audit_events.seq`, `previous_hash`, `hash`: each event's place in the chain, the hash of the
  event before it, and its own (SHA-256 over that hash and the digest of its fields, in the
  canonical form the audit chain module defines, copied here as it was at this revision). The
  events already there are chained here, in the order they were written (time, then id).
- `audit_chain_head`: the chain's last link, one row, which every new event is linked through.
- SQLite: triggers refuse UPDATE and DELETE on `audit_events`, as PostgreSQL's has since 0004.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = '0' * 64
BATCH = 5000

# The trail's columns at this revision, typed so that they read back as the app wrote them.
EVENTS = sa.table(
    'audit_events',
    sa.column('id', sa.Uuid()),
    sa.column('at', sa.DateTime(timezone=True)),
    sa.column('actor_kind', sa.String()),
    sa.column('actor_id', sa.Uuid()),
    sa.column('actor_name', sa.String()),
    sa.column('role', sa.String()),
    sa.column('action', sa.String()),
    sa.column('resource_type', sa.String()),
    sa.column('resource_id', sa.Uuid()),
    sa.column('patient_id', sa.Uuid()),
    sa.column('resource_ids', sa.JSON()),
    sa.column('patient_ids', sa.JSON()),
    sa.column('request_id', sa.String()),
    sa.column('outcome', sa.String()),
    sa.column('detail', sa.String()),
    sa.column('changes', sa.JSON()),
)
LINKS = sa.table(
    'audit_events',
    sa.column('id', sa.Uuid()),
    sa.column('seq', sa.BigInteger()),
    sa.column('previous_hash', sa.String()),
    sa.column('hash', sa.String()),
)

SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END",
)


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat(timespec='microseconds')
    return value


def _hash(previous: str, fields: dict[str, Any]) -> str:
    """An event's hash: SHA-256 over the previous hash and its fields' canonical digest, as the
    audit chain module computed it at this revision (a migration keeps its own copy)."""
    plain = {name: _plain(value) for name, value in fields.items() if value is not None}
    canonical = json.dumps(plain, sort_keys=True, separators=(',', ':'), ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode('ascii')).digest()
    return hashlib.sha256(bytes.fromhex(previous) + digest).hexdigest()


def _chain_existing_events(connection: sa.Connection) -> tuple[int, str, str]:
    """Link the events already there, oldest first; the last one's place, hash and the hash
    before it."""
    seq, previous, before = 0, GENESIS, GENESIS
    after: tuple[Any, Any] | None = None
    order = (EVENTS.c.at, EVENTS.c.id)
    while True:
        query = sa.select(EVENTS).order_by(*order).limit(BATCH)
        if after is not None:
            query = query.where(sa.tuple_(*order) > sa.tuple_(*after))
        rows = connection.execute(query).mappings().all()
        if not rows:
            return seq, previous, before
        links = []
        for row in rows:
            seq, before = seq + 1, previous
            previous = _hash(previous, dict(row))
            links.append({'key': row['id'], 'seq': seq, 'previous_hash': before, 'hash': previous})
        connection.execute(
            LINKS.update()
            .where(LINKS.c.id == sa.bindparam('key'))
            .values(
                seq=sa.bindparam('seq'),
                previous_hash=sa.bindparam('previous_hash'),
                hash=sa.bindparam('hash'),
            ),
            links,
        )
        after = (rows[-1]['at'], rows[-1]['id'])


def upgrade() -> None:
    connection = op.get_bind()
    postgresql = connection.dialect.name == 'postgresql'
    op.create_table('audit_chain_head',
    sa.Column('id', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('previous_hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_chain_head_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    with op.batch_alter_table('audit_events') as batch:
        batch.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('previous_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    if postgresql:  # this revision's own update of every event, the only one ever
        op.execute('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_or_delete')
    seq, last, before = _chain_existing_events(connection)
    if postgresql:
        op.execute('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_or_delete')
    with op.batch_alter_table('audit_events') as batch:
        batch.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column('previous_hash', existing_type=sa.String(length=64), nullable=False)
        batch.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(op.f('uq_audit_events_seq'), ['seq'])
    op.execute(
        sa.text(
            'INSERT INTO audit_chain_head (id, seq, hash, previous_hash) '
            'VALUES (1, :seq, :hash, :previous_hash)'
        ).bindparams(seq=seq, hash=last, previous_hash=before)
    )
    if not postgresql:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        op.execute('DROP TRIGGER audit_events_no_delete')
        op.execute('DROP TRIGGER audit_events_no_update')
    op.drop_table('audit_chain_head')
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_constraint(op.f('uq_audit_events_seq'), type_='unique')
        batch.drop_column('hash')
        batch.drop_column('previous_hash')
        batch.drop_column('seq')
