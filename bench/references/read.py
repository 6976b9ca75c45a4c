"""A patient read, as directly as Python allows: the bearer API key checked, the patient and
its identifiers read, and an audit row written, in ONE statement (one round trip, one implicit
transaction): a CTE looks the key up by its SHA-256 (unique index), reads the patient with its
identifiers (`json_agg`) and inserts into sclerosched's `audit_events`, linked to its chain."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from fastapi import Request, Response

from bench.references.common import (
    LINK,
    app_with,
    event_digest,
    json_response,
    make_pool,
    problem,
)

pool = make_pool(autocommit=True)
app = app_with(pool)
READERS = ["admin", "clinician", "receptionist"]  # the roles that may read a patient

SQL = (
    """
WITH k AS (SELECT id, name, role FROM api_keys
           WHERE key_hash = %(hash)s AND revoked_at IS NULL AND role = ANY(%(roles)s)),
p AS (SELECT p.id, p.given_name, p.family_name, p.birth_date, p.sex, p.phone, p.email,
             p.weight_kg, p.archived, p.archived_at, p.created_at, p.updated_at, p.version,
             COALESCE((SELECT json_agg(json_build_object('system', i.system, 'value', i.value)
                                       ORDER BY i.system, i.value)
                       FROM patient_identifiers i WHERE i.patient_id = p.id), '[]') AS identifiers
      FROM patients p WHERE p.id = %(patient)s AND EXISTS (SELECT FROM k)),
"""
    + LINK.replace("WHERE id = 1", "WHERE id = 1 AND EXISTS (SELECT FROM p)")
    + """,
a AS (INSERT INTO audit_events (id, at, actor_kind, actor_id, actor_name, role, action,
                                resource_type, resource_id, patient_id, request_id, outcome,
                                seq, previous_hash, hash)
      SELECT %(event)s, %(at)s, 'api-key', k.id, k.name, k.role, 'read', 'patient',
             p.id, p.id, %(request)s, 'success', l.seq, l.previous_hash, l.hash FROM k, p, l)
SELECT p.* FROM k LEFT JOIN p ON true"""
)


@app.get("/api/v1/patients/{patient_id}")
async def read(patient_id: uuid.UUID, request: Request) -> Response:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return problem("Unauthorized", 401)
    event, at, request_id = uuid.uuid4(), datetime.now(UTC), uuid.uuid4().hex
    args = {
        "hash": hashlib.sha256(credential.encode()).hexdigest(),
        "roles": READERS,
        "patient": patient_id,
        "request": request_id,
        "event": event,
        "at": at,
        "digest": event_digest(
            {"id": event, "at": at, "patient_id": patient_id, "request_id": request_id}
        ),
    }
    async with pool.connection() as connection:
        row = await (await connection.execute(SQL, args)).fetchone()
    if row is None:  # no such key (or revoked, or a role that may not read): nothing read
        return problem("Unauthorized", 401)
    if row["id"] is None:
        return problem("Not Found", 404)
    return json_response(row)
