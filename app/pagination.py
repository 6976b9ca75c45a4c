"""Keyset pagination: opaque cursors and the `{"items", "next_cursor"}` page shape."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import InvalidCursor

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )


def encode_cursor(key: list[Any]) -> str:
    """Encode the sort key of the last item of a page."""
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, arity: int) -> list[Any]:
    """Decode a cursor made by `encode_cursor` for a key of `arity` parts."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("The cursor is not one this service issued.") from None
    if not isinstance(key, list) or len(key) != arity or not all(map(_plain_text, key)):
        raise InvalidCursor("The cursor is not one this service issued.")
    return key


def _plain_text(part: object) -> bool:
    """A cursor part the database can compare: a string of valid Unicode without NUL."""
    if not isinstance(part, str) or "\x00" in part:
        return False
    try:
        part.encode("utf-8")  # a lone surrogate ("\ud800") is not text any database stores
    except UnicodeEncodeError:
        return False
    return True


def cursor_uuid(text: str) -> uuid.UUID:
    """The id part of a decoded cursor."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidCursor("The cursor is not one this service issued.") from None


def cursor_datetime(text: str) -> datetime:
    """The timestamp part of a decoded cursor."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidCursor("The cursor is not one this service issued.") from None
    # Stored times are aware and well inside these years; anything else was forged.
    if value.tzinfo is None or not 1900 <= value.year <= 2999:
        raise InvalidCursor("The cursor is not one this service issued.")
    return value


@dataclass(frozen=True)
class Keyset:
    """A list's sort key: its columns (the last one unique, e.g. the id), how to read each
    part of a cursor back, and the direction."""

    columns: tuple[InstrumentedAttribute[Any], ...]
    parsers: tuple[Callable[[str], Any], ...]
    descending: bool = False


def paginate(
    db: Session,
    query: Select[Any],
    keyset: Keyset,
    *,
    limit: int,
    cursor: str | None,
    rows: bool = False,
) -> tuple[Sequence[Any], str | None]:
    """One page of `query` in keyset order, and the cursor of the next page (None: last).
    The page holds the query's first column (an ORM entity, say), or with `rows` whole rows."""
    if cursor:  # an empty cursor is none: the first page
        query = _after(query, keyset, _cursor_key(cursor, keyset))
    found = _fetch(db, query.order_by(*_order(keyset)).limit(limit + 1), rows=rows)
    page = found[:limit]
    if len(found) <= limit:
        return page, None
    return page, _cursor_of(page[-1], keyset)


def _fetch(db: Session, query: Select[Any], *, rows: bool) -> Sequence[Any]:
    return db.execute(query).all() if rows else db.scalars(query).all()


def paginate_kept(
    db: Session,
    query: Select[Any],
    keyset: Keyset,
    *,
    keep: Callable[[Sequence[Any]], Sequence[bool]],
    limit: int,
    cursor: str | None,
    batch: int = 200,
    rows: bool = False,
) -> tuple[Sequence[Any], str | None]:
    """Like `paginate`, for a filter only Python can answer: the rows are read in keyset order
    a batch at a time, and `keep` says of each batch which rows the page shows."""
    after = _cursor_key(cursor, keyset) if cursor else None
    kept: list[Any] = []
    while len(kept) <= limit:
        scan = query if after is None else _after(query, keyset, after)
        found = _fetch(db, scan.order_by(*_order(keyset)).limit(batch), rows=rows)
        kept += [row for row, shown in zip(found, keep(found), strict=True) if shown]
        if len(found) < batch:
            break
        after = tuple(getattr(found[-1], column.key) for column in keyset.columns)
    page = kept[:limit]
    return page, _cursor_of(page[-1], keyset) if len(kept) > limit else None


def _cursor_key(cursor: str, keyset: Keyset) -> tuple[Any, ...]:
    parts = decode_cursor(cursor, arity=len(keyset.columns))
    return tuple(parse(part) for parse, part in zip(keyset.parsers, parts, strict=True))


def _after(query: Select[Any], keyset: Keyset, key: tuple[Any, ...]) -> Select[Any]:
    columns = tuple_(*keyset.columns)
    return query.where(columns < key if keyset.descending else columns > key)


def _order(keyset: Keyset) -> list[Any]:
    return [column.desc() if keyset.descending else column for column in keyset.columns]


def _cursor_of(row: object, keyset: Keyset) -> str:
    return encode_cursor([_cursor_text(getattr(row, c.key)) for c in keyset.columns])


def _cursor_text(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
