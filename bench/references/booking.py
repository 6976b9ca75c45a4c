"""A booking over HTTP, as directly as Python allows: the least safe booking transaction on
psycopg's async API behind an async FastAPI POST on sclerosched's path. Per booking, in
pipeline mode (2 round trips): BEGIN; the patient's advisory lock, and the locks of the
clock hours the time touches (bookings that could want one room pick it one after the other,
as sclerosched's do, or most would lose the race for the same room); ONE check (the
practitioner's overlap, the patient's 14 calendar days, which covers the patient's overlap
too, and a free room of the practitioner's locations); INSERT the session (the exclusion
constraints stay on), its event and an audit row; COMMIT. It does not read the patient's
eligibility, the practitioner's hours or time off, or the caller's key: sclerosched must, so
its own best is somewhat below this."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
from fastapi import Request, Response

from bench.references.common import LINK, app_with, event_digest, json_response, make_pool, problem

pool = make_pool()
app = app_with(pool)

ZONE = "Europe/Paris"
LIVE = ["booked", "arrived", "fulfilled"]
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
# The clock hours the booking touches (sclerosched's `app.locations.service.room_locks`).
HOUR_LOCKS = (
    "SELECT pg_advisory_xact_lock(hashtextextended('rooms:' || to_char(h, 'YYYYMMDDHH24'), 0))"
    " FROM generate_series(date_trunc('hour', %(start)s AT TIME ZONE 'UTC'),"
    " (%(end)s AT TIME ZONE 'UTC') - interval '1 microsecond', interval '1 hour') AS h"
)
CHECK = """
SELECT EXISTS (SELECT FROM treatment_sessions
               WHERE status = ANY(%(live)s) AND practitioner_id = %(practitioner)s
                 AND start_at < %(end)s AND end_at > %(start)s
                 AND start_at > %(start)s - interval '1 hour') AS busy,
       EXISTS (SELECT FROM treatment_sessions
               WHERE status = ANY(%(live)s) AND patient_id = %(patient)s
                 AND start_at > %(start)s - interval '15 days'
                 AND start_at < %(start)s + interval '15 days'
                 AND abs((start_at AT TIME ZONE %(zone)s)::date
                         - (%(start)s AT TIME ZONE %(zone)s)::date) < 14) AS close,
       (SELECT ARRAY[r.location_id, r.id] FROM rooms r
        WHERE r.active AND r.location_id IN (SELECT location_id FROM practitioner_availability
                                             WHERE practitioner_id = %(practitioner)s)
          AND NOT EXISTS (SELECT FROM treatment_sessions
                          WHERE status = ANY(%(live)s) AND room_id = r.id
                            AND start_at < %(end)s AND end_at > %(start)s
                            AND start_at > %(start)s - interval '1 hour')
        ORDER BY r.created_at, r.id LIMIT 1) AS room"""
INSERT_SESSION = """
INSERT INTO treatment_sessions (id, patient_id, practitioner_id, start_at, end_at, time_zone,
                                status, created_at, updated_at, version, location_id, room_id)
VALUES (%s, %s, %s, %s, %s, %s, 'booked', now(), now(), 1, %s, %s)"""
INSERT_EVENT = """
INSERT INTO session_events (id, session_id, action, to_status, at)
VALUES (gen_random_uuid(), %s, 'book', 'booked', now())"""
INSERT_AUDIT = (
    "WITH"
    + LINK
    + """
INSERT INTO audit_events (id, at, actor_kind, actor_name, role, action, resource_type,
                          resource_id, patient_id, request_id, outcome,
                          seq, previous_hash, hash)
SELECT %(event)s, %(at)s, 'api-key', 'bench', 'receptionist', 'book', 'session',
       %(session)s, %(patient)s, %(request)s, 'success', l.seq, l.previous_hash, l.hash FROM l"""
)


class _Refused(Exception):
    pass


async def book(
    connection: psycopg.AsyncConnection[object],
    patient: uuid.UUID,
    practitioner: uuid.UUID,
    start: datetime,
) -> uuid.UUID | None:
    """Book 45 minutes; the session's id, or None when a rule or a constraint refuses."""
    end, session = start + timedelta(minutes=45), uuid.uuid4()
    args = {
        "live": LIVE,
        "practitioner": practitioner,
        "patient": patient,
        "start": start,
        "end": end,
        "zone": ZONE,
    }
    try:
        async with connection.pipeline(), connection.transaction():
            await connection.execute(LOCK, (f"patient:{patient}",))
            await connection.execute(HOUR_LOCKS, args)
            cursor = await connection.execute(CHECK, args)
            row = await cursor.fetchone()  # round trip 1
            if row is None or row["busy"] or row["close"] or row["room"] is None:
                raise _Refused
            location, room = row["room"]
            await connection.execute(
                INSERT_SESSION, (session, patient, practitioner, start, end, ZONE, location, room)
            )
            await connection.execute(INSERT_EVENT, (session,))
            event, at, request_id = uuid.uuid4(), datetime.now(UTC), uuid.uuid4().hex
            fields = {"id": event, "at": at, "session": session, "request_id": request_id}
            await connection.execute(
                INSERT_AUDIT,
                {
                    "event": event,
                    "at": at,
                    "session": session,
                    "patient": patient,
                    "request": request_id,
                    "digest": event_digest(fields),
                },
            )
        return session  # COMMIT sent and confirmed as the pipeline closes: round trip 2
    except (_Refused, psycopg.errors.ExclusionViolation):
        return None


@app.post("/api/v1/sessions")
async def create(request: Request) -> Response:
    body = orjson.loads(await request.body())
    patient, practitioner = uuid.UUID(body["patient_id"]), uuid.UUID(body["practitioner_id"])
    start = datetime.fromisoformat(body["start"])
    async with pool.connection() as connection:
        session = await book(connection, patient, practitioner, start)
    if session is None:
        return problem("Conflict", 409)
    return json_response(
        {"id": session, "patient_id": patient, "practitioner_id": practitioner, "start": start},
        201,
    )
