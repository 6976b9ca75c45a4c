"""The engines and their sessions.

The API runs each request on the event loop: the routes and services are plain functions over
a `Session`, run in a greenlet by SQLAlchemy's asyncio bridge (`run_in_greenlet`), whose
database calls await an async driver (psycopg's async API, aiosqlite). No request hands off to
a worker thread, and the services read as ordinary synchronous code. The commands and the
migrations use a plain synchronous engine on the same database.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from psycopg import _queries
from sqlalchemy import URL, Connection, Engine, TextClause, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util import await_, greenlet_spawn
from sqlalchemy.util.concurrency import in_greenlet

# Execution option: on SQLite, begin with BEGIN IMMEDIATE, i.e. take the database's one write
# lock before the first read, so a check-then-write (no overlapping booking, a free identifier)
# cannot interleave with another writer. PostgreSQL ignores it: its constraints decide there.
WRITE_LOCK = "sclerosched_write_lock"

# The isolation level of a request that changes records, on PostgreSQL.
TRANSACTION_LEVEL = "READ COMMITTED"

# A pooled PostgreSQL connection is replaced after this long, so none outlives a server-side
# idle timeout or a failover by much (instead of a `SELECT 1` before every checkout).
POOL_RECYCLE_SECONDS = 1800

T = TypeVar("T")

logger = logging.getLogger(__name__)


def _url(database_url: str, *, asynchronous: bool) -> URL:
    """The URL with the driver this service uses: psycopg (3) for PostgreSQL, whose one package
    has both APIs; the standard library's sqlite3, or aiosqlite over it, for SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(drivername="sqlite+aiosqlite" if asynchronous else "sqlite")
    return url.set(drivername="postgresql+psycopg")


def make_engine(database_url: str, *, foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """A synchronous engine, for the commands, the migrations and tools.

    Statement parameters are patient data: they never appear in logs or error messages.
    `foreign_keys=False` is for SQLite migrations only: batch mode rebuilds a table by copying
    it, dropping the original and renaming the copy, which enforced foreign keys would refuse
    (or cascade into the rows that point at it).
    """
    kwargs.setdefault("hide_parameters", True)
    url = _url(database_url, asynchronous=False)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _set_up_sqlite(engine, foreign_keys=foreign_keys)
        return engine
    engine = create_engine(url, pool_recycle=POOL_RECYCLE_SECONDS, **kwargs)
    event.listen(engine, "connect", _postgresql_on_connect)
    return engine


def make_async_engine(database_url: str, *, pool_size: int = 32, **kwargs: Any) -> AsyncEngine:
    """The API's engine: an async driver, so a request waiting on the database leaves the
    event loop to the others.

    No ping before each checkout: a connection the server dropped fails its request's first
    statement, and the request is tried again on a new one (`app.web.routes`). The pool holds
    `pool_size` connections: fewer than the requests in flight, and commits queue for one.
    """
    kwargs.setdefault("hide_parameters", True)
    url = _url(database_url, asynchronous=True)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _set_up_sqlite(engine.sync_engine, foreign_keys=True)
        return engine
    _keep_long_statements_converted()
    # Pooled connections stay in autocommit: most requests only read (and audit in one
    # statement), and a connection set to autocommit for each of them, then set back, costs
    # two driver calls a request. A request that changes records asks for a transaction
    # (`request_sessions`): it pays the switch, and the pool switches it back.
    kwargs.setdefault("isolation_level", "AUTOCOMMIT")
    kwargs.setdefault("json_deserializer", _json_loads)
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=0, pool_recycle=POOL_RECYCLE_SECONDS, **kwargs
    )
    event.listen(engine.sync_engine, "connect", _postgresql_on_connect)
    return engine


def _json_loads(data: bytes | str) -> Any:
    """JSON read from PostgreSQL (an evaluation's flags, a listed session's history), parsed
    by orjson: five to seven times faster than the standard library's parser, to the same
    values for what this service stores (its own JSON; its numbers are bounded by validation,
    none beyond 64 bits). What orjson refuses and the standard library takes (an escaped lone
    surrogate in a text) is parsed by the standard library."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _postgresql_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """A new connection reads time in UTC, whatever the server's default or the URL's own
    options: psycopg then returns every `timestamptz` as an aware UTC datetime, and
    `UTCDateTime` has nothing left to convert, value by value. Set once a connection, in
    autocommit (a rollback would take back a SET made in a transaction); not as a startup
    option, which a connection pooler may refuse (PgBouncer does, unless told to ignore it)."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    dbapi_connection.autocommit = autocommit


# psycopg rewrites a statement's `%(name)s` placeholders as `$1, $2...` before sending it, and
# keeps the rewriting of each statement it has seen (an LRU of 128), but not for a statement of
# more than 4,096 bytes or 50 parameters: a guard against the multi-row INSERTs an ORM
# generates, each one different. This service's statements are built once and sent again and
# again, and booking's two longest (its checks, 8 KB; its writes, over 50 parameters) would be
# rewritten anew on every booking: about 0.6 ms of CPU a booking. The limits are constants of
# psycopg's query module, not settings: `tests/service/test_db.py` checks that they still take.
_CONVERTED_LENGTH = 32_768
_CONVERTED_PARAMETERS = 256


def _keep_long_statements_converted() -> None:
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(
        _queries.MAX_CACHED_STATEMENT_LENGTH, _CONVERTED_LENGTH
    )
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(
        _queries.MAX_CACHED_STATEMENT_PARAMS, _CONVERTED_PARAMETERS
    )


def _set_up_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    _keep_private(engine.url.database)
    pragma = f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}"
    event.listen(engine, "connect", lambda dbapi, _: _sqlite_on_connect(dbapi, pragma))
    event.listen(engine, "begin", _sqlite_begin)


def _sqlite_on_connect(dbapi_connection: Any, foreign_keys_pragma: str) -> None:
    # The driver's own transaction handling would begin lazily, after our reads: we emit BEGIN
    # ourselves (the SQLAlchemy pysqlite and aiosqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(foreign_keys_pragma)
    # WAL lets readers go on while one writer commits.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.close()


# The files SQLite keeps beside a database: its write-ahead log, the log's index, a rollback
# journal (during migrations before WAL is on).
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _keep_private(database: str | None) -> None:
    """Only the service's own user may read a SQLite database: the file is created 0600 before
    SQLite first opens it, and one made by an older version is made 0600. SQLite creates the
    WAL and its index with the database file's permissions, so they are 0600 too (those an
    older version left are changed here as well)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    # Never open and close the file itself when it exists: closing any descriptor of a SQLite
    # file drops every lock this process's connections hold on it.
    try:
        os.close(os.open(database, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # no such directory, no right to write there: SQLite says so when it connects
    try:
        for path in (database, *(database + suffix for suffix in _SQLITE_SIDE_FILES)):
            if os.path.exists(path) and stat.S_IMODE(os.stat(path).st_mode) != 0o600:
                os.chmod(path, 0o600)
    except PermissionError:
        logger.warning("the SQLite database %s is not the service user's: left as it is", database)


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE_LOCK, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def hold_lock(db: Session, *keys: str, shared: Sequence[str] = ()) -> None:
    """Take the locks named `keys`, in that order, then those named `shared` in shared mode
    (held by any number at once, none while another holds it alone), until the transaction
    ends (PostgreSQL's advisory locks: every API process sees them), in one statement. SQLite
    needs none: every writing request holds the database's one write lock already."""
    if db.get_bind().dialect.name == "postgresql":
        values = {f"key{i}": key for i, key in enumerate((*keys, *shared))}
        db.execute(_locks(len(keys), len(shared)), values)


def try_lock(db: Session, key: str, *, shared: bool = False) -> bool:
    """Take the lock named `key` until the transaction ends if no one holds it (`shared`: if
    no one holds it alone); whether it was taken (PostgreSQL's advisory locks). SQLite:
    always, as every writing request holds the database's one write lock already, one
    request at a time."""
    if db.get_bind().dialect.name != "postgresql":
        return True
    taken = db.scalar(_TRY_SHARED if shared else _TRY, {"key": key})
    return bool(taken)


@functools.lru_cache(maxsize=16)
def _locks(exclusive: int, shared: int) -> TextClause:
    calls = [f"pg_advisory_xact_lock(hashtextextended(:key{i}, 0))" for i in range(exclusive)]
    calls += [
        f"pg_advisory_xact_lock_shared(hashtextextended(:key{i}, 0))"
        for i in range(exclusive, exclusive + shared)
    ]
    return text("SELECT " + ", ".join(calls))


_TRY = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))")
_TRY_SHARED = text("SELECT pg_try_advisory_xact_lock_shared(hashtextextended(:key, 0))")


# `Session.info` key: the session's statements each commit on their own (PostgreSQL, a request
# that only looks): what it records may be written by the statement that reads
# (`app.auditing.AuditTrail.read_recorded`).
WRITES_AT_ONCE = "sclerosched.writes_at_once"


def make_sessionmaker(engine: Engine, *, writes_at_once: bool = False) -> sessionmaker[Session]:
    info = {WRITES_AT_ONCE: True} if writes_at_once else None
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False, info=info)


@dataclass(frozen=True)
class RequestSessions:
    """Sessions for requests, used inside `run_in_greenlet`.

    - `change`: one transaction for a request that changes records (its checks, its writes and
      its audit event commit together, or not at all); on SQLite it takes the database's write
      lock from the start (a read transaction upgraded to a write later may fail).
    - `look`: for a request that only reads and records that it did (its audit event). On
      PostgreSQL each statement commits on its own (autocommit): nothing it reads changes, its
      audit event is one statement, and it saves the round trips of BEGIN and COMMIT (each
      statement sees what was committed before it, as in a transaction at PostgreSQL's usual
      READ COMMITTED level). On SQLite, as `change`.
    - `read`: for a request that reads and writes nothing (calendars, free slots).
    """

    change: sessionmaker[Session]
    look: sessionmaker[Session]
    read: sessionmaker[Session]


def request_sessions(engine: AsyncEngine) -> RequestSessions:
    base = engine.sync_engine
    if base.dialect.name != "postgresql":
        change = make_sessionmaker(base.execution_options(**{WRITE_LOCK: True}))
        return RequestSessions(change, change, make_sessionmaker(base))
    # The pool's connections are in autocommit (`make_async_engine`): a change takes a
    # transaction at PostgreSQL's usual level, which every check of this service assumes.
    change = make_sessionmaker(base.execution_options(isolation_level=TRANSACTION_LEVEL))
    autocommit = make_sessionmaker(base, writes_at_once=True)
    return RequestSessions(change, autocommit, autocommit)


async def run_in_greenlet(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run synchronous database code on the event loop: its I/O awaits the async driver."""
    return await greenlet_spawn(fn, *args, **kwargs)


def off_the_event_loop(fn: Callable[..., T], /, *args: Any) -> T:
    """Run CPU-heavy work (a password hash) in a worker thread when called from a request's
    greenlet, so the other requests go on meanwhile; directly anywhere else."""
    if in_greenlet():
        return await_(anyio.to_thread.run_sync(fn, *args))
    return fn(*args)


async def database_is_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not ready"
        return False
    return True


def database_is_reachable_now(engine: Engine) -> bool:
    """`database_is_reachable`, for a synchronous engine."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not ready"
        return False
    return True
