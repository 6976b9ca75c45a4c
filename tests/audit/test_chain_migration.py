"""Migration 0019 chains the audit events written before it, oldest first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import JSON, Engine, Uuid, column, insert, select, table

from app.audit.chain import Verdict, verify
from app.auditing import AuditTrail, Resource, command_line
from app.db import make_sessionmaker
from app.models import UTCDateTime
from tests.factories import scratch_database


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[tuple[Config, Engine]]:
    with scratch_database(tmp_path, "chain") as database:
        yield database


def test_events_written_before_the_chain_are_chained_in_the_order_written(
    scratch: tuple[Config, Engine],
) -> None:
    """0019 links the events already there, oldest first; the app goes on from the last one,
    and `audit verify` finds the whole chain intact."""
    config, scratch_engine = scratch
    command.upgrade(config, "0018")
    events = table(
        "audit_events",
        column("id", Uuid()),
        column("at", UTCDateTime()),
        column("actor_kind"),
        column("actor_name"),
        column("action"),
        column("resource_type"),
        column("patient_id", Uuid()),
        column("patient_ids", JSON()),
        column("request_id"),
        column("outcome"),
        column("changes", JSON()),
    )
    noon = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
    patient = uuid.uuid4()
    written = [  # inserted out of the order they happened in
        {"at": noon + timedelta(minutes=2), "action": "update", "changes": {"w": {"old": 1.5}}},
        {"at": noon, "action": "create", "patient_ids": None},
        {"at": noon + timedelta(minutes=1), "action": "list", "patient_ids": [str(patient)]},
    ]
    with scratch_engine.begin() as connection:
        for event in written:
            connection.execute(
                insert(events).values(
                    id=uuid.uuid4(),
                    actor_kind="system",
                    actor_name="before the chain",
                    resource_type="patient",
                    patient_id=patient,
                    request_id="-",
                    outcome="success",
                    **event,
                )
            )
    command.upgrade(config, "head")
    with scratch_engine.connect() as connection:
        chained = connection.execute(
            select(column("action")).select_from(table("audit_events")).order_by(column("seq"))
        ).scalars()
        assert list(chained) == ["create", "list", "update"]
        assert verify(connection) == Verdict(3, None)
    with make_sessionmaker(scratch_engine)() as db:
        AuditTrail(db, command_line("test")).record(
            "read", Resource.PATIENT, patient, patient_id=patient
        )
        db.commit()
    with scratch_engine.connect() as connection:
        assert verify(connection) == Verdict(4, None)
    command.downgrade(config, "0018")
    command.upgrade(config, "head")
    with scratch_engine.connect() as connection:
        assert verify(connection) == Verdict(4, None)
