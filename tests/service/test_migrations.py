"""The migrations build the schema from nothing, tear it down, and agree with the models."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Date,
    Engine,
    Time,
    Uuid,
    column,
    func,
    insert,
    inspect,
    select,
    table,
)

from app.db import make_engine
from app.migrations import alembic_config
from app.models import Base, UTCDateTime
from tests.factories import POSTGRES_URL, reset_postgres_schema
from tests.servers import ROOT


@pytest.fixture
def scratch(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, engine: Engine
) -> Iterator[tuple[Config, Engine]]:
    """A database the test may wreck, empty, with its Alembic config: a new SQLite file, or
    the PostgreSQL test database, left migrated to head afterwards for the tests that follow
    (and emptied after the test, as every test's: it asks for the suite's `engine`)."""
    url = POSTGRES_URL or f"sqlite:///{tmp_path_factory.mktemp('migrations') / 'scratch.db'}"
    wrecked = make_engine(url)
    if POSTGRES_URL:
        reset_postgres_schema(wrecked)
    try:
        yield alembic_config(url), wrecked
    finally:
        wrecked.dispose()
        if POSTGRES_URL:
            command.upgrade(alembic_config(POSTGRES_URL), "head")


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(scratch: tuple[Config, Engine]) -> None:
    config, engine = scratch
    command.upgrade(config, "head")
    assert _tables(engine) == set(Base.metadata.tables)
    command.downgrade(config, "base")
    assert _tables(engine) == set()
    command.upgrade(config, "head")
    assert _tables(engine) == set(Base.metadata.tables)


def test_processes_started_together_migrate_one_at_a_time(scratch: tuple[Config, Engine]) -> None:
    """Each `sclerosched serve` migrates first: several starting at once on a new database
    must not trip over each other (they raced to create the version table; on SQLite, all
    but one failed with "database is locked")."""
    _, engine = scratch
    env = {**os.environ, "SCLEROSCHED_DATABASE_URL": engine.url.render_as_string(False)}
    command_line = [sys.executable, "-m", "app.cli", "migrate"]
    processes = [
        subprocess.Popen(command_line, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes]
    assert [code for code, _ in outcomes] == [0] * 4, outcomes
    assert _tables(engine) == set(Base.metadata.tables)


def test_models_and_migrations_agree(database_url: str) -> None:
    """Fails when a model changes without a migration (the `alembic check` comparison)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.scalar(select(func.count()).select_from(table(name))) or 0
            for name in sorted(_tables(engine))
        }


_OLD_FLAG = {"code": "thrombosis-history", "severity": "relative", "message": "History."}


def _code_values(engine: Engine) -> tuple[Any, ...]:
    with engine.connect() as connection:
        evaluation = connection.execute(
            select(
                column("spider_vein_sites", JSON()),
                column("varicose_treatment_kind"),
                column("flags", JSON()),
            ).select_from(table("evaluations"))
        ).one()
        treated = connection.scalar(
            select(column("treated_sites", JSON())).select_from(table("completion_records"))
        )
        status = connection.scalar(select(column("status")).select_from(table("treatment_plans")))
    return (*evaluation, treated, status)


def _clinic_at_revision_0004(engine: Engine) -> None:
    """A small clinic written with the schema of revision 0004, every reference in use."""
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now, "version": 1}
    patient, doctor, evaluation, plan, visit, user = (uuid.uuid4() for _ in range(6))

    def rows(name: str, *values: dict[str, object]) -> None:
        columns = [column(key, _TYPES.get(key)) for key in values[0]]
        connection.execute(insert(table(name, *columns)), list(values))

    with engine.begin() as connection:
        rows(
            "patients",
            {
                "id": patient,
                "given_name": "Claire",
                "family_name": "Dubois",
                "given_key": "claire",
                "family_key": "dubois",
                "birth_date": date(1984, 3, 12),
                "sex": "female",
                "weight_kg": 64.5,
                "archived": False,
                **stamps,
            },
        )
        rows(
            "patient_identifiers",
            {"id": uuid.uuid4(), "patient_id": patient, "system": "urn:x", "value": "1"},
        )
        rows(
            "practitioners",
            {
                "id": doctor,
                "name": "Dr A",
                "name_key": "dr a",
                "active": True,
                "time_zone": "UTC",
                **stamps,
            },
        )
        rows(
            "practitioner_availability",
            {
                "id": uuid.uuid4(),
                "practitioner_id": doctor,
                "weekday": 0,
                "start_time": time(9),
                "end_time": time(17),
            },
        )
        rows(
            "practitioner_time_off",
            {
                "id": uuid.uuid4(),
                "practitioner_id": doctor,
                "start_at": now,
                "end_at": now + timedelta(days=1),
                "reason": "Leave",
                "created_at": now,
            },
        )
        rows(
            "evaluations",
            {
                "id": evaluation,
                "patient_id": patient,
                "practitioner_id": doctor,
                "performed_at": now,
                "spider_vein_sites": ["left_calf"],
                "ceap_class": "C1",
                "varicose_veins": "treated",
                "varicose_treatment_kind": "foam_sclerotherapy",
                "risk_factors": {"pregnancy": False},
                "benefits_and_risks_explained": True,
                "weight_kg": 64.5,
                "outcome": "eligible",
                "flags": [_OLD_FLAG],
                "valid_until": now + timedelta(days=365),
                "created_at": now,
            },
        )
        rows(
            "clearances",
            {
                "id": uuid.uuid4(),
                "evaluation_id": evaluation,
                "practitioner_id": doctor,
                "reason": "ok",
                "created_at": now,
            },
        )
        rows(
            "treatment_plans",
            {
                "id": plan,
                "patient_id": patient,
                "evaluation_id": evaluation,
                "planned_sessions": 3,
                "interval_days": 28,
                "status": "on_hold",
                **stamps,
            },
        )
        rows(
            "treatment_sessions",
            {
                "id": visit,
                "patient_id": patient,
                "practitioner_id": doctor,
                "plan_id": plan,
                "start_at": now,
                "end_at": now + timedelta(minutes=45),
                "status": "booked",
                **stamps,
            },
        )
        rows(
            "completion_records",
            {
                "id": uuid.uuid4(),
                "session_id": visit,
                "treated_sites": ["left_calf"],
                "sclerosant": "polidocanol",
                "concentration_percent": 0.5,
                "volume_ml": 2.0,
                "dose_mg": 10.0,
                "anaesthetic": "none",
                "compression": False,
                "complications": [],
                "aftercare": ["walk"],
                "warnings": [],
                "recorded_at": now,
            },
        )
        rows(
            "session_events",
            {
                "id": uuid.uuid4(),
                "session_id": visit,
                "action": "book",
                "to_status": "booked",
                "at": now,
            },
        )
        rows(
            "users",
            {
                "id": user,
                "username": "admin",
                "password_hash": "x",
                "role": "admin",
                "active": True,
                "password_changed_at": now,
                **stamps,
            },
        )


_TYPES: dict[str, Any] = {
    **dict.fromkeys(
        ["id", "patient_id", "practitioner_id", "evaluation_id", "plan_id", "session_id"], Uuid()
    ),
    **dict.fromkeys(
        [
            "created_at",
            "updated_at",
            "performed_at",
            "valid_until",
            "start_at",
            "end_at",
            "at",
            "password_changed_at",
            "recorded_at",
        ],
        UTCDateTime(),
    ),
    **dict.fromkeys(
        [
            "spider_vein_sites",
            "risk_factors",
            "flags",
            "treated_sites",
            "complications",
            "aftercare",
            "warnings",
        ],
        JSON(),
    ),
    "birth_date": Date(),
    "start_time": Time(),
    "end_time": Time(),
}


# Tables added since 0004, and the rows they start with (the audit chain's head: one; the
# lines of injections: one per treatment record, 0025).
_NEW_EMPTY = {
    "injection_lines": 1,
    "idempotent_responses": 0,
    "request_counts": 0,
    "login_refusals": 0,
    "revoked_tokens": 0,
    "calendar_feeds": 0,
    "audit_chain_head": 1,
    "outbox_events": 0,
    "webhook_subscriptions": 0,
    "webhook_deliveries": 0,
    "webhook_attempts": 0,
    "reminder_emails": 0,
    "consents": 0,
    "site_reviews": 0,
    "reviewed_sites": 0,
    "site_complications": 0,
    # 0028: a location for the one zone in use (UTC), a room for its one practitioner.
    "locations": 1,
    "rooms": 1,
    "room_closures": 0,
    **dict.fromkeys(("waitlist_entries", "waitlist_freed_slots", "waitlist_offers"), 0),
}


def test_upgrading_and_downgrading_keep_every_row(scratch: tuple[Config, Engine]) -> None:
    """SQLite rebuilds a table to alter it: no row may be lost on the way, nor any reference
    to the rebuilt table broken (its foreign keys would refuse, or cascade)."""
    config, engine = scratch
    command.upgrade(config, "0004")
    _clinic_at_revision_0004(engine)
    before = _row_counts(engine)
    assert before["patient_identifiers"] == before["clearances"] == 1
    command.upgrade(config, "head")
    # 0012: the patient's weight starts its history.
    assert _row_counts(engine) == {**before, "patient_weights": 1, **_NEW_EMPTY}
    with engine.connect() as connection:
        assert (
            connection.scalar(select(column("weight_kg")).select_from(table("patient_weights")))
            == 64.5
        )
        # A treatment recorded before 0009 was given when it was recorded; a session booked
        # before 0010 takes place in its practitioner's zone.
        given = connection.execute(
            select(
                column("administered_at", UTCDateTime()), column("recorded_at", UTCDateTime())
            ).select_from(table("completion_records"))
        ).one()
        assert given[0] == given[1]
        zone = connection.scalar(
            select(column("time_zone")).select_from(table("treatment_sessions"))
        )
        assert zone == "UTC"
    # 0011: code values in kebab-case, the blood-clots flag in the risk factor's words.
    assert _code_values(engine) == (
        ["left-calf"],
        "foam-sclerotherapy",
        [{**_OLD_FLAG, "code": "history-of-blood-clots"}],
        ["left-calf"],
        "on-hold",
    )
    command.downgrade(config, "0004")
    assert _row_counts(engine) == before
    assert _code_values(engine) == (
        ["left_calf"],
        "foam_sclerotherapy",
        [_OLD_FLAG],
        ["left_calf"],
        "on_hold",
    )
    command.upgrade(config, "head")
    assert _row_counts(engine) == {**before, "patient_weights": 1, **_NEW_EMPTY}
