"""One practitioner's sessions overlapping [from, to), as directly as Python allows: one
indexed range statement (no credential, no audit row, no completion records or history)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query, Response

from bench.references.common import app_with, json_response, make_pool

pool = make_pool(autocommit=True)
app = app_with(pool)

SQL = """
SELECT id, patient_id, practitioner_id, plan_id, start_at, end_at, time_zone, status,
       cancel_reason, created_at, updated_at, version
FROM treatment_sessions
-- a session lasts at most an hour (a CHECK in the schema): the start is bounded on both sides
WHERE practitioner_id = %(practitioner)s AND start_at < %(to)s
  AND start_at > %(from)s - interval '1 hour' AND end_at > %(from)s
ORDER BY start_at, id"""


@app.get("/api/v1/sessions")
async def day(
    practitioner_id: uuid.UUID,
    from_: Annotated[datetime, Query(alias="from")],
    to: datetime,
) -> Response:
    args = {"practitioner": practitioner_id, "from": from_, "to": to}
    async with pool.connection() as connection:
        rows = await (await connection.execute(SQL, args)).fetchall()
    return json_response({"items": rows, "next_cursor": None})
