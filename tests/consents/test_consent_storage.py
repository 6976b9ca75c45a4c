"""The database holds consents to their rules whatever writes them (a withdrawal never before
the consent, a reason only with a withdrawal, a known procedure), and migration 0026 comes and
goes leaving every other row as it was."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, func, insert, inspect, select, table
from sqlalchemy.exc import IntegrityError

from app.models import Consent, Patient, Practitioner
from tests.service.test_migrations import scratch

__all__ = ["scratch"]  # fixtures

SIGNED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
CONSENTS = Consent.__table__


def _people(engine: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    patient, practitioner = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            insert(Patient.__table__).values(
                id=patient,
                given_name="Claire",
                family_name="Dubois",
                given_key="claire",
                family_key="dubois",
                birth_date=date(1984, 3, 12),
                sex="female",
                archived=False,
                created_at=SIGNED,
                updated_at=SIGNED,
                version=1,
            )
        )
        connection.execute(
            insert(Practitioner.__table__).values(
                id=practitioner,
                name="Dr Laurent",
                name_key="dr laurent",
                time_zone="Europe/Paris",
                active=True,
                created_at=SIGNED,
                updated_at=SIGNED,
                version=1,
            )
        )
    return patient, practitioner


def _consent(patient: uuid.UUID, practitioner: uuid.UUID, **changes: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "patient_id": patient,
        "practitioner_id": practitioner,
        "procedure": "micro-sclerotherapy",
        "document_version": "2026-03",
        "risks_explained": ["matting"],
        "obtained_at": SIGNED,
        "created_at": SIGNED,
        "updated_at": SIGNED,
        "version": 1,
        **changes,
    }


@pytest.mark.parametrize(
    "changes",
    [
        {"withdrawn_at": SIGNED - timedelta(seconds=1)},
        {"withdrawal_reason": "Not withdrawn, yet a reason"},
        {"procedure": "foam-sclerotherapy"},
    ],
)
def test_the_database_refuses_a_consent_against_its_rules(
    engine: Engine, changes: dict[str, Any]
) -> None:
    patient, practitioner = _people(engine)
    with engine.begin() as connection:
        connection.execute(insert(CONSENTS), [_consent(patient, practitioner)])  # a good one
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(CONSENTS), [_consent(patient, practitioner, **changes)])


def test_migration_0026_comes_and_goes_keeping_every_other_row(
    scratch: tuple[Config, Engine],
) -> None:
    config, engine = scratch
    command.upgrade(config, "head")
    patient, practitioner = _people(engine)
    withdrawn = {"withdrawn_at": SIGNED + timedelta(days=1), "withdrawal_reason": "Moved"}
    with engine.begin() as connection:
        connection.execute(insert(CONSENTS), [_consent(patient, practitioner, **withdrawn)])
    command.downgrade(config, "0023")
    assert "consents" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        for name in ("patients", "practitioners"):
            assert connection.scalar(select(func.count()).select_from(table(name))) == 1
    command.upgrade(config, "head")
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(CONSENTS)) == 0
        connection.execute(insert(CONSENTS), [_consent(patient, practitioner)])
