"""Integrations' API keys: created (shown once), listed, revoked."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import credentials
from app.accounts.schemas import ApiKeyCreate
from app.errors import NotFound
from app.models import ApiKey
from app.pagination import Keyset, cursor_datetime, cursor_uuid, paginate

_NEWEST_FIRST = Keyset(
    columns=(ApiKey.created_at, ApiKey.id), parsers=(cursor_datetime, cursor_uuid), descending=True
)


@dataclass(frozen=True)
class CreatedKey:
    record: ApiKey
    secret: str


def create_api_key(*, db: Session, data: ApiKeyCreate) -> CreatedKey:
    """A new key; its secret is returned this once and only its hash is kept."""
    made = credentials.new_api_key()
    key = ApiKey(name=data.name, role=data.role, prefix=made.prefix, key_hash=made.key_hash)
    db.add(key)
    db.flush()
    return CreatedKey(record=key, secret=made.secret)


def list_api_keys(
    *, db: Session, include_revoked: bool, limit: int, cursor: str | None
) -> tuple[Sequence[ApiKey], str | None]:
    query = select(ApiKey)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return paginate(db, query, _NEWEST_FIRST, limit=limit, cursor=cursor)


def revoke_api_key(*, db: Session, key_id: uuid.UUID, now: datetime) -> ApiKey:
    """Revoke a key for good (the record stays for the audit trail). Revoking twice is harmless."""
    key = db.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key with id {key_id}.")
    if key.revoked_at is None:
        key.revoked_at = now
        db.flush()
    return key
