"""Keyset pagination: sealed cursors and the `{"items", "next_cursor"}` page shape.

A cursor holds the sort key of a page's last item (a patient's name, a time): the services read
and write it as plain text (`paginate`), and it leaves the server only sealed (`CursorSeal`)."""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, Field
from sqlalchemy import Row, Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import InvalidCursor

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page of this list; null on the last "
        "page. Opaque and sealed: it holds nothing readable, and works for this list only"
    )


_NOT_ISSUED = "The cursor is not one this service issued for this list."


class CursorSeal:
    """Seals the cursors the lists hand out, with AES-GCM under a key derived from the secret
    key. What a cursor holds (a patient's name, a time) cannot be read from a URL or a proxy's
    log, and a cursor changed, forged, or issued for another list (or under another key) is
    refused as `invalid-cursor`."""

    _NONCE = 12

    def __init__(self, secret: str) -> None:
        derive = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"list cursors")
        self._aead = AESGCM(derive.derive(secret.encode()))

    def seal(self, cursor: str, *, list_name: str) -> str:
        """The cursor `paginate` gave, as a client sees it: for the list `list_name` only."""
        nonce = os.urandom(self._NONCE)
        box = nonce + self._aead.encrypt(nonce, cursor.encode(), list_name.encode())
        return base64.urlsafe_b64encode(box).decode().rstrip("=")

    def open(self, sealed: str, *, list_name: str) -> str:
        """The cursor `seal` sealed for `list_name`, or `InvalidCursor`."""
        try:
            box = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
            if len(box) <= self._NONCE:
                raise InvalidCursor(_NOT_ISSUED)
            nonce, data = box[: self._NONCE], box[self._NONCE :]
            return self._aead.decrypt(nonce, data, list_name.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag):  # UnicodeDecodeError is a ValueError
            raise InvalidCursor(_NOT_ISSUED) from None


def encode_cursor(key: list[Any]) -> str:
    """The cursor of a page's last item: its sort key, as text (sealed before it is sent)."""
    return json.dumps(key, separators=(",", ":"), ensure_ascii=False, default=str)


def decode_cursor(cursor: str, *, arity: int) -> list[Any]:
    """The sort key in a cursor made by `encode_cursor`, for a key of `arity` parts."""
    try:
        key = json.loads(cursor)
    except ValueError:
        raise InvalidCursor(_NOT_ISSUED) from None
    if not isinstance(key, list) or len(key) != arity or not all(map(_plain_text, key)):
        raise InvalidCursor(_NOT_ISSUED)
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
        raise InvalidCursor(_NOT_ISSUED) from None


def cursor_datetime(text: str) -> datetime:
    """The timestamp part of a decoded cursor."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidCursor(_NOT_ISSUED) from None
    # Stored times are aware and well inside these years; anything else was forged.
    if value.tzinfo is None or not 1900 <= value.year <= 2999:
        raise InvalidCursor(_NOT_ISSUED)
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
        query = _after(query, keyset, cursor_key(cursor, keyset))
    found = _fetch(db, query.order_by(*_order(keyset)).limit(limit + 1), rows=rows)
    page = found[:limit]
    if len(found) <= limit:
        return page, None
    return page, cursor_of(page[-1], keyset)


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
    after = cursor_key(cursor, keyset) if cursor else None
    kept: list[Any] = []
    while len(kept) <= limit:
        scan = query if after is None else _after(query, keyset, after)
        found = _fetch(db, scan.order_by(*_order(keyset)).limit(batch), rows=rows)
        kept += [row for row, shown in zip(found, keep(found), strict=True) if shown]
        if len(found) < batch:
            break
        after = tuple(getattr(found[-1], column.key) for column in keyset.columns)
    page = kept[:limit]
    return page, cursor_of(page[-1], keyset) if len(kept) > limit else None


def cursor_key(cursor: str, keyset: Keyset) -> tuple[Any, ...]:
    """The sort key a cursor holds (`paginate`'s, or a list's that pages a statement of its
    own); `InvalidCursor` if it holds none."""
    parts = decode_cursor(cursor, arity=len(keyset.columns))
    return tuple(parse(part) for parse, part in zip(keyset.parsers, parts, strict=True))


def _after(query: Select[Any], keyset: Keyset, key: tuple[Any, ...]) -> Select[Any]:
    columns = tuple_(*keyset.columns)
    return query.where(columns < key if keyset.descending else columns > key)


def _order(keyset: Keyset) -> list[Any]:
    return [column.desc() if keyset.descending else column for column in keyset.columns]


def cursor_of(row: object, keyset: Keyset) -> str:
    """The cursor of the page after `row`, its last item: an entity or a row with the
    keyset's columns, or a row led by such an entity (the entity and some joined columns)."""
    first = keyset.columns[0].key
    item = row if hasattr(row, first) or not isinstance(row, Row) else row[0]
    return encode_cursor([_cursor_text(getattr(item, c.key)) for c in keyset.columns])


def _cursor_text(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
