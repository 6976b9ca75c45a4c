"""The database handle of a request: one transaction a request, opened by the route
(`app.web.routes.ApiRoute`) and committed before the response is sent; and short transactions
of their own (a refusal to keep, a login attempt to count).

Everything here runs inside the request's greenlet (`app.db.run_in_greenlet`): plain
synchronous code whose database calls await the async driver.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.db import RequestSessions

Use = Literal["change", "look", "read"]


def open_request_db(request: Request, use: Use) -> Session:
    """The request's session (no I/O yet: it connects at its first statement), of the kind
    its route needs (`app.db.RequestSessions`)."""
    sessions: RequestSessions = request.app.state.sessions
    db: Session = getattr(sessions, use)()
    request.state.db = db
    return db


async def get_db(request: Request) -> Session:
    """The request's session, which the route opened (and commits when the endpoint returns,
    before the response is sent). Async: no I/O, so no worker thread."""
    db: Session = request.state.db
    return db


async def get_read_db(request: Request) -> Session:
    """For a route that only reads and leaves no audit event (calendars, free slots): its
    route opens a session that takes no write lock."""
    db: Session = request.state.db
    return db


async def get_changing_db(request: Request) -> Session:
    """For a read that may change records before it answers (the waitlist's offers: those
    whose time is up expire as they are read): its route opens a session in a transaction, as
    a write's is."""
    db: Session = request.state.db
    return db


@contextmanager
def transaction(request: Request, *, write: bool) -> Iterator[Session]:
    """A short transaction of its own, apart from the request's: to keep a trace (a refused
    login, a denied attempt) that must outlive the request's failure. Committed if `write`,
    else rolled back."""
    sessions: RequestSessions = request.app.state.sessions
    with (sessions.change if write else sessions.read)() as db:
        yield db
        if write:
            db.commit()


Db = Annotated[Session, Depends(get_db)]
ReadDb = Annotated[Session, Depends(get_read_db)]
ChangingDb = Annotated[Session, Depends(get_changing_db)]
