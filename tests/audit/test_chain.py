"""The audit trail is a hash chain: `sclerosched audit verify` passes on the trail the app
writes, however many write at once, and names the first link broken by an event changed or
removed in the database itself. SQLite refuses to change or remove an event, as PostgreSQL
does, and keeps its files to the service's own user."""

from __future__ import annotations

import os
import stat
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.audit.chain import verify
from app.auditing import Access, Actor, AuditTrail, Resource
from app.cli import main
from app.db import make_engine, make_sessionmaker
from app.event_hashes import content_digest, link
from app.migrations import upgrade_to_head
from app.models import AuditEvent

PATIENT = {
    "given_name": "Ines",
    "family_name": "Costa",
    "birth_date": "1977-07-07",
    "sex": "female",
}


def _some_events(client: TestClient) -> str:
    """A create, a read, a list and a search of the trail: four events at least."""
    patient = client.post("/api/v1/patients", json=PATIENT).json()["id"]
    client.get(f"/api/v1/patients/{patient}")
    client.get("/api/v1/patients")
    client.get("/api/v1/audit-events")
    return str(patient)


def _verify_command(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setenv("SCLEROSCHED_DATABASE_URL", engine.url.render_as_string(False))
    code = main(["audit", "verify"])
    said = capsys.readouterr()
    return code, said.out + said.err


@contextmanager
def _append_only_off(engine: Engine) -> Iterator[Connection]:
    """What someone with the database's owner (or its file) could do: the triggers set aside."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            yield connection
            return
        triggers = connection.execute(text(_TRIGGERS.format("sql"))).scalars().all()
        for name in connection.execute(text(_TRIGGERS.format("name"))).scalars().all():
            connection.execute(text(f'DROP TRIGGER "{name}"'))
        yield connection
        for trigger in triggers:
            connection.execute(text(trigger))


_TRIGGERS = "SELECT {} FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"


def _event(engine: Engine, seq: int) -> str:
    with engine.connect() as connection:
        found = connection.scalar(text("SELECT id FROM audit_events WHERE seq = :s"), {"s": seq})
    return str(found)


def _as_uuid(value: str) -> str:
    """The id as the command prints it (SQLite keeps it as bare hex)."""
    return str(uuid.UUID(value))


def test_a_fresh_trail_verifies(
    client: TestClient,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, said = _verify_command(engine, monkeypatch, capsys)
    assert (code, "whole: 0 events") == (0, said[said.index("whole") :][:15])
    _some_events(client)
    code, said = _verify_command(engine, monkeypatch, capsys)
    assert code == 0, said
    with engine.connect() as connection:
        count = connection.scalar(text("SELECT count(*) FROM audit_events"))
        seqs = connection.execute(text("SELECT seq FROM audit_events ORDER BY at, id")).scalars()
        assert list(seqs) == list(range(1, count + 1))
    assert f"whole: {count} events" in said


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            "UPDATE audit_events SET action = 'nothing-happened' WHERE seq = 2",
            "fields do not match",
        ),
        ("UPDATE audit_events SET patient_id = NULL WHERE seq = 2", "fields do not match"),
        ("DELETE FROM audit_events WHERE seq = 2", "event #2 is missing"),
    ],
)
def test_an_event_changed_or_removed_in_the_database_is_named(
    client: TestClient,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: str,
    reason: str,
) -> None:
    _some_events(client)
    second, third = _event(engine, 2), _event(engine, 3)
    with _append_only_off(engine) as connection:
        connection.execute(text(change))
    code, said = _verify_command(engine, monkeypatch, capsys)
    assert code == 1
    named = second if "UPDATE" in change else third
    assert f"broken at event #{2 if 'UPDATE' in change else 3} (id {_as_uuid(named)})" in said
    assert reason in said
    assert "the 1 events before it hold" in said


def test_an_event_rewritten_with_a_hash_to_match_breaks_the_next_link(
    client: TestClient, engine: Engine
) -> None:
    _some_events(client)
    events = AuditEvent.metadata.tables[AuditEvent.__tablename__]
    with engine.connect() as connection:
        row = connection.execute(select(events).where(events.c.seq == 2)).mappings().one()
    # Its fields and its own hash made to agree: the event after it still names the old one.
    forged = dict(row, action="nothing-happened")
    with _append_only_off(engine) as connection:
        connection.execute(
            text("UPDATE audit_events SET action = :a, hash = :h WHERE seq = 2"),
            {"a": "nothing-happened", "h": link(row["previous_hash"], content_digest(forged))},
        )
    with engine.connect() as connection:
        verdict = verify(connection)
    assert verdict.broken is not None
    assert (verdict.broken.seq, verdict.events) == (3, 2)
    assert "does not link" in verdict.broken.reason


def test_the_last_events_removed_are_named(client: TestClient, engine: Engine) -> None:
    _some_events(client)
    with engine.connect() as connection:
        last = connection.scalar(text("SELECT max(seq) FROM audit_events"))
    with _append_only_off(engine) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": last})
    with engine.connect() as connection:
        verdict = verify(connection)
    assert verdict.broken is not None
    assert verdict.broken.seq == last
    assert f"names event #{last}, the trail ends at #{last - 1}" in verdict.broken.reason


def test_many_writers_at_once_make_one_line(
    engine: Engine, db_sessions: sessionmaker[Session]
) -> None:
    """Sixteen connections writing at once, in transactions and (PostgreSQL) autocommit, one
    to three events each: every event links to the one before, none twice."""
    sessions = [db_sessions]
    if engine.dialect.name == "postgresql":
        sessions.append(make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT")))
    writers, rounds = 16, 15
    failures: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(number: int) -> None:
        actor = Actor("system", None, f"writer {number}", None, f"w{number}")
        try:
            start.wait()
            for turn in range(rounds):
                with sessions[turn % len(sessions)]() as db:
                    trail = AuditTrail(db, actor)
                    for _ in range(1 + turn % 3):
                        trail.record_denied("write", Resource.PATIENT, Access(None, None), "x")
                    db.commit()
        except BaseException as failure:  # reported below
            failures.append(failure)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with engine.connect() as connection:
        verdict = verify(connection)
    assert verdict.broken is None
    assert verdict.events == writers * sum(1 + turn % 3 for turn in range(rounds))


def test_events_of_a_transaction_rolled_back_are_never_written(
    engine: Engine, db_sessions: sessionmaker[Session]
) -> None:
    actor = Actor("system", None, "rolled back", None, "-")
    with db_sessions() as db:
        AuditTrail(db, actor).record("read", Resource.PATIENT, None, patient_id=None)
        db.rollback()
        db.commit()
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM audit_events")) == 0
        assert verify(connection).broken is None


def test_sqlite_refuses_to_update_or_delete_an_event(client: TestClient, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's own trigger: tests/audit/test_audit.py")
    _some_events(client)
    for statement in (
        "UPDATE audit_events SET action = 'nothing-happened'",
        "DELETE FROM audit_events",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    with engine.connect() as connection:
        assert verify(connection).broken is None


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask, under which files are made world-readable."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_a_sqlite_database_and_its_log_are_the_service_users_alone(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "clinic.db"
    upgrade_to_head(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:  # WAL and its index made as it writes
            connection.execute(text("CREATE TABLE notes (body TEXT)"))
            connection.execute(text("INSERT INTO notes VALUES ('x')"))
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        engine.dispose()


def test_a_world_readable_sqlite_database_is_made_private(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
    engine.dispose()
    written: list[Path] = [p for p in tmp_path.iterdir() if p.name.startswith("old.db")]
    for older in written:
        older.chmod(0o644)  # as an earlier version left them
    make_engine(f"sqlite:///{path}").dispose()
    assert {p.name: _mode(p) for p in written} == {p.name: 0o600 for p in written}
