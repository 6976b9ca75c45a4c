"""The shared declarative base: naming convention, UUID keys, timestamps and a version counter."""

from __future__ import annotations

import enum
import os
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    DateTime,
    Dialect,
    Enum,
    MetaData,
    TypeDecorator,
    any_,
    bindparam,
    literal,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    QueryableAttribute,
    declared_attr,
    mapped_column,
)
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

# Every constraint gets a stable name, so migrations can alter and drop it on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562, version 7): 48 bits of Unix time in milliseconds, then
    random bits. Rows keyed by it are appended at the end of their primary-key index (the audit
    trail takes one on nearly every request) instead of landing at random places in it."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC 9562 variant
    return uuid.UUID(int=value)


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, always timezone-aware UTC in Python.

    PostgreSQL keeps it as `timestamptz`, and the service's connections to it read time in UTC
    (`app.db`), so psycopg returns it as this type would: no conversion a value (a list reads
    thousands). SQLite has no zone support, so it stores naive UTC text, which still sorts and
    compares correctly.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give an offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "postgresql":
            return None  # already aware UTC: see above
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def text_enum(kind: type[enum.StrEnum], name: str, *, length: int = 24) -> Enum:
    """A closed vocabulary stored as its values in a plain string column with a CHECK
    constraint: the same on SQLite and PostgreSQL, and a new value is a simple migration."""
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


class OneOf(ColumnElement[bool]):
    """`column IN (...)` over a list bound at execution, under the parameter `name`: a
    statement built once asks it of lists of any length.

    On PostgreSQL it is `column = ANY(:name)`, the list bound as one array: the statement's
    text is the same whatever the list's length, so nothing is written out anew for each
    element at each execution, and psycopg and the server keep one prepared statement for it.
    Elsewhere (SQLite) it is an expanding `IN`, one parameter an element."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition, as `IN` is: no `= 1` after it on SQLite
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


def one_of(column: ColumnElement[Any] | QueryableAttribute[Any], name: str) -> OneOf:
    """Whether `column` is one of the list bound as `name` (see `OneOf`)."""
    return OneOf(column.expression if isinstance(column, QueryableAttribute) else column, name)


@compiles(OneOf)
def _expanding_in(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    listed = element.column.in_(bindparam(element.name, expanding=True))
    return compiler.process(listed, **kw)


@compiles(OneOf, "postgresql")
def _equals_any(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    array = bindparam(element.name, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(array), **kw)


def among(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """Whether `column` is one of `values`, fixed when a statement is built (the statuses that
    take time in a calendar): a bound parameter each, written into the statement's text once,
    when it is compiled. (`in_` of a plain list binds it as one expanding parameter, written
    out anew into the text at every execution.)"""
    expression = column.expression if isinstance(column, QueryableAttribute) else column
    return expression.in_([literal(value, type_=expression.type) for value in values])


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Entity:
    """Columns every stored record has. `version` guards against lost concurrent updates."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - declared_attr takes the class
        # UPDATE ... WHERE version = :seen; zero rows matched raises StaleDataError.
        return {"version_id_col": cls.__dict__["version"]}
