"""PostgreSQL with two roles: the one that owns the schema runs the migrations, and the API's
own role gets only what the service needs. Above all it cannot change or remove audit events,
nor alter or disable the trail's triggers (only a table's owner can): INSERT and SELECT on
`audit_events`, SELECT and UPDATE on the chain's head (`app.audit.chain`), SELECT on Alembic's
version table, and SELECT, INSERT, UPDATE and DELETE on every other table, those the owner
creates later included (default privileges).

Granted after every migration run, so that a role named anew, or a table added by a later
revision, is covered at the next start.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

_READ_AND_APPEND = {"audit_events": "SELECT, INSERT", "audit_chain_head": "SELECT, UPDATE"}
_READ_ONLY = ("alembic_version",)


def runtime_role(runtime_url: str | None) -> str | None:
    """The API's role, from its URL (none: the same role as the migrations')."""
    if runtime_url is None:
        return None
    url = make_url(runtime_url)
    return url.username if url.get_backend_name() == "postgresql" else None


def grant_runtime_role(connection: Connection, role: str) -> None:
    """Give `role` what the service needs, and no more (see the module); nothing when the
    migrations run as `role` itself."""
    if connection.scalar(_CURRENT_USER) == role:
        return
    preparer = connection.dialect.identifier_preparer
    grantee = preparer.quote(role)
    schema = preparer.quote(connection.scalar(_CURRENT_SCHEMA))
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {grantee}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {grantee}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {grantee}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {grantee}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {grantee}",
    ]
    for table, privileges in _READ_AND_APPEND.items():
        name = f"{schema}.{preparer.quote(table)}"
        statements += [
            f"REVOKE ALL ON {name} FROM {grantee}",
            f"GRANT {privileges} ON {name} TO {grantee}",
        ]
    for table in _READ_ONLY:
        name = f"{schema}.{preparer.quote(table)}"
        statements += [
            f"REVOKE ALL ON {name} FROM {grantee}",
            f"GRANT SELECT ON {name} TO {grantee}",
        ]
    for statement in statements:
        connection.exec_driver_sql(statement)
    if connection.scalar(_SUPERUSER, {"role": role}):
        logger.warning(
            "the API's role %s is a superuser: it can still alter the audit trail; give it an "
            "ordinary role",
            role,
        )
    logger.info("granted the API's role %s what it needs (audit events: read and add)", role)


_CURRENT_USER = text("SELECT current_user")
_CURRENT_SCHEMA = text("SELECT current_schema()")
_SUPERUSER = text("SELECT rolsuper FROM pg_roles WHERE rolname = :role")
