"""The database handle of a request: one transaction a request, committed before the response
is sent; and short transactions of their own (who is calling, a refusal to keep)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from app.db import WRITE_LOCK


def _db(request: Request, *, may_write: bool) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as db:
        if may_write:
            db.connection(execution_options={WRITE_LOCK: True})
        yield db
        db.commit()


def get_db(request: Request) -> Iterator[Session]:
    """One session per request. Committed when the route returns, before the response is sent.

    Its transaction starts holding the write lock (SQLite only): almost every request writes,
    if only its audit event, and a read transaction upgraded to a write later may fail.
    """
    yield from _db(request, may_write=True)


def get_read_db(request: Request) -> Iterator[Session]:
    """For a route that only reads and leaves no audit event (calendars, free slots)."""
    yield from _db(request, may_write=False)


@contextmanager
def transaction(request: Request, *, write: bool) -> Iterator[Session]:
    """A short transaction of its own, apart from the request's: to identify the caller, or to
    keep a trace (a refused login, a denied attempt) that must outlive the request's failure.
    Committed if `write`, else rolled back."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as db:
        if write:
            db.connection(execution_options={WRITE_LOCK: True})
        yield db
        if write:
            db.commit()


# scope="function": the commit above runs right after the route, inside the request, so a
# failing commit becomes an error response instead of a lost write after a 2xx.
Db = Annotated[Session, Depends(get_db, scope="function")]
ReadDb = Annotated[Session, Depends(get_read_db, scope="function")]
