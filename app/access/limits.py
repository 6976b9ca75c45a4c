"""The per-credential rate limit: at most so many requests a minute for one user or API key,
counted in the database (one row per caller), so that it holds across API processes. Off
unless set (`SCLEROSCHED_REQUESTS_PER_MINUTE`). The login throttle is apart
(`app.accounts.logins`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.errors import DomainError
from app.models import RequestCount

WINDOW = timedelta(minutes=1)
_SECONDS = int(WINDOW.total_seconds())


class TooManyRequests(DomainError):
    status = 429
    code = "too-many-requests"
    title = "Too many requests"
    headers = {"Retry-After": "60"}  # documented default; each answer names its own wait


def count_request(*, db: Session, caller_id: uuid.UUID, now: datetime, per_minute: int) -> None:
    """Count this request against the caller's minute; `TooManyRequests` past the limit (the
    answer says how long to wait, and the RateLimit fields of the IETF httpapi draft)."""
    window = now.replace(second=0, microsecond=0)
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    table = RequestCount.metadata.tables[RequestCount.__tablename__]
    fresh = dialect.insert(table).values(caller_id=caller_id, window_start=window, count=1)
    same_window = table.c.window_start == fresh.excluded.window_start
    counted = fresh.on_conflict_do_update(
        index_elements=[table.c.caller_id],
        set_={
            "count": case((same_window, table.c.count + 1), else_=1),
            "window_start": fresh.excluded.window_start,
        },
    ).returning(table.c.count)
    made = db.scalar(counted) or 0
    if made > per_minute:
        wait = max(1, int((window + WINDOW - now).total_seconds()) + 1)
        raise TooManyRequests(
            f"At most {per_minute} requests a minute for one credential; wait {wait} seconds.",
            headers={
                "Retry-After": str(wait),
                "RateLimit-Policy": f'"per-credential";q={per_minute};w={_SECONDS}',
                "RateLimit": f'"per-credential";r=0;t={wait}',
            },
        )
