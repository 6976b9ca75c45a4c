"""Migration 0024 makes room for the CEAP 2020 classes: the evaluations recorded before keep
their class (the bare C4 too) and read as they were; going back is refused while an
evaluation holds what the earlier vocabulary cannot say."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Connection, Engine, Uuid, column, delete, insert, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.db import make_sessionmaker
from app.evaluations.schemas import EvaluationRead
from app.models import Evaluation, UTCDateTime
from tests.factories import scratch_database

BEFORE_2020 = ["C0", "C1", "C2", "C3", "C4", "C5", "C6"]
NOW = datetime.now(UTC).replace(microsecond=0)

_EVALUATIONS = table(
    "evaluations",
    column("id", Uuid()),
    column("patient_id", Uuid()),
    column("practitioner_id", Uuid()),
    column("performed_at", UTCDateTime()),
    column("spider_vein_sites", JSON()),
    column("ceap_class"),
    column("varicose_veins"),
    column("risk_factors", JSON()),
    column("benefits_and_risks_explained"),
    column("outcome"),
    column("flags", JSON()),
    column("valid_until", UTCDateTime()),
    column("created_at", UTCDateTime()),
)
_WORK_UP = {"code": "venous-work-up-needed", "severity": "relative", "message": "Duplex."}


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[tuple[Config, Engine]]:
    with scratch_database(tmp_path, "ceap") as database:
        yield database


def _people(connection: Connection) -> tuple[uuid.UUID, uuid.UUID]:
    patient, doctor = uuid.uuid4(), uuid.uuid4()
    stamps = {"created_at": NOW, "updated_at": NOW, "version": 1}
    connection.execute(
        insert(
            table(
                "patients",
                *(column(c) for c in ("given_name", "family_name", "given_key", "family_key")),
                *(column(c) for c in ("sex", "archived", "version")),
                column("id", Uuid()),
                column("birth_date"),
                column("created_at", UTCDateTime()),
                column("updated_at", UTCDateTime()),
            )
        ).values(
            id=patient,
            given_name="Marta",
            family_name="Kowalska",
            given_key="marta",
            family_key="kowalska",
            birth_date=date(1968, 1, 30),
            sex="female",
            archived=False,
            **stamps,
        )
    )
    connection.execute(
        insert(
            table(
                "practitioners",
                *(column(c) for c in ("name", "name_key", "active", "time_zone", "version")),
                column("id", Uuid()),
                column("created_at", UTCDateTime()),
                column("updated_at", UTCDateTime()),
            )
        ).values(id=doctor, name="Dr A", name_key="dr a", active=True, time_zone="UTC", **stamps)
    )
    return patient, doctor


def _evaluation(
    connection: Connection,
    people: tuple[uuid.UUID, uuid.UUID],
    ceap_class: str,
    flags: list[dict[str, str]] | None = None,
) -> uuid.UUID:
    patient, doctor = people
    evaluation = uuid.uuid4()
    connection.execute(
        insert(_EVALUATIONS).values(
            id=evaluation,
            patient_id=patient,
            practitioner_id=doctor,
            performed_at=NOW - timedelta(days=1),
            spider_vein_sites=["left-calf"],
            ceap_class=ceap_class,
            varicose_veins="present",
            risk_factors={},
            benefits_and_risks_explained=True,
            outcome="varicose-treatment-first",
            flags=flags or [],
            valid_until=NOW + timedelta(days=365),
            created_at=NOW - timedelta(days=1),
        )
    )
    return evaluation


def _clinic_before_2020(config: Config, engine: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """At revision 0023: one evaluation of each class the vocabulary had then."""
    command.upgrade(config, "0023")
    with engine.begin() as connection:
        people = _people(connection)
        for value in BEFORE_2020:
            _evaluation(connection, people, value)
    return people


def _classes(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.scalars(select(_EVALUATIONS.c.ceap_class)))


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_the_classes_recorded_before_are_kept_and_read_as_they_were(
    scratch: tuple[Config, Engine],
) -> None:
    config, engine = scratch
    people = _clinic_before_2020(config, engine)
    command.upgrade(config, "head")
    assert _classes(engine) == BEFORE_2020
    with make_sessionmaker(engine)() as db:
        stored = db.scalars(select(Evaluation).options(selectinload(Evaluation.clearance)))
        read = {e.ceap_class: EvaluationRead.model_validate(e).ceap for e in stored}
    assert {k: (v.clinical_class.value, v.symptomatic) for k, v in read.items()} == {
        value: (value, None) for value in BEFORE_2020
    }
    with engine.begin() as connection:
        _evaluation(connection, people, "C2ra")  # four characters fit now
    with engine.connect() as connection, pytest.raises(IntegrityError):
        _evaluation(connection, people, "C4s")  # not a class, before 2020 or after


def test_down_and_up_again_keep_the_classes_recorded_before(
    scratch: tuple[Config, Engine],
) -> None:
    config, engine = scratch
    _clinic_before_2020(config, engine)
    command.upgrade(config, "head")
    command.downgrade(config, "0023")
    assert _revision(engine) == "0023"
    assert _classes(engine) == BEFORE_2020
    command.upgrade(config, "head")
    assert _classes(engine) == BEFORE_2020


@pytest.mark.parametrize(
    ("ceap_class", "flags"),
    [
        ("C2r", []),
        ("C4as", []),
        ("C1s", []),
        ("C5", [_WORK_UP]),  # a pre-2020 value, but the flag the earlier code cannot read
    ],
)
def test_going_back_is_refused_while_an_evaluation_says_what_0023_cannot(
    scratch: tuple[Config, Engine], ceap_class: str, flags: list[dict[str, str]]
) -> None:
    config, engine = scratch
    people = _clinic_before_2020(config, engine)
    command.upgrade(config, "head")
    with engine.begin() as connection:
        added = _evaluation(connection, people, ceap_class, flags=flags)
    head = _revision(engine)
    with pytest.raises(RuntimeError, match=r"^1 evaluation\(s\) hold a CEAP 2020 class"):
        command.downgrade(config, "0023")
    assert _revision(engine) == head  # nothing half done
    assert _classes(engine) == sorted([*BEFORE_2020, ceap_class])
    with engine.begin() as connection:
        connection.execute(delete(_EVALUATIONS).where(_EVALUATIONS.c.id == added))
    command.downgrade(config, "0023")
    assert _classes(engine) == BEFORE_2020
