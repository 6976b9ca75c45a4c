"""The engine and its sessions, set up for a multi-threaded web server (SQLite included)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

# Execution option: on SQLite, begin with BEGIN IMMEDIATE, i.e. take the database's one write
# lock before the first read, so a check-then-write (no overlapping booking, a free identifier)
# cannot interleave with another writer. PostgreSQL ignores it: its constraints decide there.
WRITE_LOCK = "sclerosched_write_lock"


def make_engine(database_url: str, *, foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """Create the engine, with SQLite set up for a multi-threaded web server.

    Statement parameters are patient data: they never appear in logs or error messages.
    `foreign_keys=False` is for SQLite migrations only: batch mode rebuilds a table by copying
    it, dropping the original and renaming the copy, which enforced foreign keys would refuse
    (or cascade into the rows that point at it).
    """
    kwargs.setdefault("hide_parameters", True)
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        pragma = f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}"
        event.listen(engine, "connect", lambda dbapi, _: _sqlite_on_connect(dbapi, pragma))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(database_url, pool_pre_ping=True, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, foreign_keys_pragma: str) -> None:
    # The driver's own transaction handling would begin lazily, after our reads: we emit BEGIN
    # ourselves (the SQLAlchemy pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(foreign_keys_pragma)
    # WAL lets readers go on while one writer commits.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE_LOCK, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def hold_lock(db: Session, key: str) -> None:
    """Take the lock named `key` until the transaction ends (PostgreSQL's advisory locks:
    every API process sees it). SQLite needs none: every writing request holds the
    database's one write lock already."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def database_is_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not ready"
        return False
    return True
