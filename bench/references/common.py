"""What the reference apps share: psycopg's async pool on `BENCH_PGURL` (a libpq connection
string), opened and closed with the app, and orjson."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Response
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "16"))


def make_pool(**kwargs: object) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        os.environ["BENCH_PGURL"],
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        open=False,
        kwargs={"row_factory": dict_row, **kwargs},
    )


def app_with(pool: AsyncConnectionPool) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open()
        yield
        await pool.close()

    return FastAPI(lifespan=lifespan)


def json_response(content: object, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json")


def problem(title: str, status: int) -> Response:
    return Response(orjson.dumps({"title": title}), status, media_type="application/problem+json")


# The audit trail's chain (sclerosched's `app.audit.chain`): an event is linked through the
# one-row head, which the update locks until the transaction ends, and carries its place, the
# hash before it and its own. `%(digest)s` is the event's fields' SHA-256 (`event_digest`).
LINK = """
l AS (UPDATE audit_chain_head
      SET seq = seq + 1, previous_hash = hash,
          hash = encode(sha256(decode(hash, 'hex') || decode(%(digest)s, 'hex')), 'hex')
      WHERE id = 1 RETURNING seq, previous_hash, hash)"""


def event_digest(fields: dict[str, object]) -> str:
    """The SHA-256 of an event's fields in canonical JSON, as sclerosched computes it."""
    canonical = orjson.dumps({k: str(v) for k, v in fields.items()}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()
