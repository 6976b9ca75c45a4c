"""Authentication and the permission check, as route dependencies: the one place access is
decided. Every protected route declares `dependencies=[requires(Permission.X)]`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.orm import Session

from app.access import principals
from app.access.limits import count_request
from app.access.principals import AuthenticationRequired, Forbidden, InvalidToken, Principal
from app.auditing import Access, Actor, AuditTrail, Resource, patient_of
from app.db import run_in_greenlet
from app.logging import current_request_id
from app.roles import Permission, allows

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret

# Two ways to send a credential, both `Authorization: Bearer ...`; the docs explorer's
# Authorize button offers both (a login form, or a key to paste). They describe the API in its
# OpenAPI document (`app.web.openapi`); `bearer_token` reads the header itself, on the hot path.
login_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    scheme_name="Login",
    description="Staff log in with a username and password and get a token.",
    auto_error=False,
)
api_key_scheme = HTTPBearer(
    scheme_name="ApiKey",
    description="Integrations send their API key (`scl_...`) as a bearer token.",
    auto_error=False,
)


def client_address(request: Request) -> str:
    """The caller's address: the connection's own, or the one forwarded by a proxy listed in
    SCLEROSCHED_TRUSTED_PROXIES (the app's proxy-headers middleware, `app.main`)."""
    return request.client.host[:64] if request.client else "unknown"


def bearer_token(request: Request) -> str | None:
    """The credential of `Authorization: Bearer <credential>`, if one was sent."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    return (credential.strip() or None) if scheme.lower() == "bearer" else None


async def authenticate(request: Request) -> Principal:
    """The caller, from the bearer credential; 401 without one or with one that is not valid.
    A genuine credential that no longer works (a revoked key, a switched-off account) leaves
    a `denied` event in the audit trail. Checked once a request."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    token = bearer_token(request)
    if not token:
        raise no_credential()
    return await run_in_greenlet(_identify, request, token)


def no_credential(*, connection_close: bool = False) -> AuthenticationRequired:
    """The 401 for a request without a credential; `connection_close` when its body, unread,
    is to be dropped with the connection rather than read to the end."""
    return AuthenticationRequired(
        "Send `Authorization: Bearer <token or API key>`; staff get a token from "
        f"POST {TOKEN_URL}.",
        headers={"Connection": "close"} if connection_close else None,
    )


def _identify(request: Request, token: str) -> Principal:
    """Who the credential names, read in the request's own transaction: a revoked key or a
    switched-off account is refused on its next request, by every API process."""
    now = datetime.now(UTC)
    found = principals.identify(
        db=request.state.db, credential=token, signing_key=request.app.state.signing_key, now=now
    )
    if isinstance(found, principals.Refused):
        permission = required_permission(request.scope.get("route"))
        _record_denial(request, found.holder, permission, f"401: {found.reason}")
    if not isinstance(found, Principal):
        raise InvalidToken("The token has expired or was revoked, or the key is not known.")
    per_minute: int = request.app.state.requests_per_minute
    if per_minute:
        count_request(db=request.state.db, caller_id=found.id, now=now, per_minute=per_minute)
    request.state.principal = found
    return found


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


class PermissionCheck:
    """The dependency `requires` builds: the caller's role must hold `permission`."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        if allows(principal.role, self.permission):
            return principal
        raise await run_in_greenlet(_forbid, request, principal, self.permission)


def _forbid(request: Request, principal: Principal, permission: Permission) -> Forbidden:
    """The 403 for a role without `permission`, once the attempt is in the audit trail."""
    _record_denial(request, principal, permission, f"role {principal.role} lacks {permission}")
    return Forbidden(
        f"The {principal.role} role may not do this: it needs `{permission}`.",
        required_permission=permission.value,
    )


def require_also(request: Request, permission: Permission) -> None:
    """Within a route, before it does anything: what the request asks beyond its route's
    permission (a flag in its body) needs `permission` too, else 403, the denied attempt
    written to the audit trail as `requires` writes it."""
    principal: Principal = request.state.principal
    if not allows(principal.role, permission):
        request.state.db.rollback()  # nothing of the request's own is kept
        raise _forbid(request, principal, permission)


def requires(permission: Permission) -> Any:
    """A route dependency: the caller's role must hold `permission`, else 403 (and the denied
    attempt is written to the audit trail)."""
    return Depends(PermissionCheck(permission))


def holds(permission: Permission) -> Any:
    """A dependency answering whether the caller's role holds `permission` (for what a
    response shows, e.g. an evaluation's clinical detail). An API route's endpoint is handed
    the answer without a dependency to solve (`app.web.routes.ApiRoute`)."""
    return Depends(Holds(permission))


@dataclass(frozen=True)
class Holds:
    """`holds`'s dependency: whether the caller's role holds `permission`."""

    permission: Permission

    async def __call__(self, request: Request) -> bool:
        return allows((await authenticate(request)).role, self.permission)

    def of_known_caller(self, request: Request) -> bool:
        """The answer once the caller is checked: an API route that asks is protected (it is
        not built otherwise), and its caller is checked before its endpoint runs."""
        principal: Principal = request.state.principal
        return allows(principal.role, self.permission)


# Whether the caller may see clinical detail (findings, treatment records, clinical notes),
# or only what the front desk needs.
ClinicalDetail = Annotated[bool, holds(Permission.CLINICAL_READ)]


def actor_of(principal: Principal) -> Actor:
    return Actor(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role.value,
        request_id=current_request_id(),
    )


async def get_audit(request: Request) -> AuditTrail:
    """The audit trail, writing in the request's transaction as the caller checked by
    `requires`. An API route's endpoint is handed it without a dependency to solve
    (`app.web.routes.ApiRoute`)."""
    return audit_trail(request)


def audit_trail(request: Request) -> AuditTrail:
    """`get_audit`'s trail, made once the route's dependencies (`requires`) are solved."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # a route that audits must say what it requires
        raise RuntimeError(f"{request.url.path} audits without a `requires` dependency")
    trail = AuditTrail(request.state.db, actor_of(principal))
    request.state.audit = trail
    return trail


AuditDep = Annotated[AuditTrail, Depends(get_audit)]

# The record a denied request aimed at, from its path; else the area its permission names.
_PATH_RESOURCES = {
    "patient_id": Resource.PATIENT,
    "evaluation_id": Resource.EVALUATION,
    "consent_id": Resource.CONSENT,
    "plan_id": Resource.TREATMENT_PLAN,
    "session_id": Resource.SESSION,
    "review_id": Resource.REVIEW,
    "entry_id": Resource.WAITLIST_ENTRY,
    "offer_id": Resource.WAITLIST_OFFER,
    "practitioner_id": Resource.PRACTITIONER,
    "user_id": Resource.USER,
    "key_id": Resource.API_KEY,
    "webhook_id": Resource.WEBHOOK,
    "room_id": Resource.ROOM,  # before its location: the record aimed at
    "location_id": Resource.LOCATION,
}
_AREA_RESOURCES = {
    "patients": Resource.PATIENT,
    "calendars": Resource.PRACTITIONER,
    "calendar-feeds": Resource.PRACTITIONER,
    "evaluations": Resource.EVALUATION,
    "clinical": Resource.EVALUATION,
    "clearances": Resource.EVALUATION,
    "consents": Resource.CONSENT,
    "plans": Resource.TREATMENT_PLAN,
    "reviews": Resource.REVIEW,
    "scheduling": Resource.PATIENT,
    "sessions": Resource.SESSION,
    "users": Resource.USER,
    "api-keys": Resource.API_KEY,
    "audit": Resource.AUDIT_TRAIL,
    "webhooks": Resource.WEBHOOK,
    "locations": Resource.LOCATION,
    "waitlist": Resource.WAITLIST_ENTRY,
}


def _record_denial(
    request: Request, principal: Principal, permission: Permission | None, detail: str
) -> None:
    """A `denied` event for the record the request aimed at (from its path), else for the
    area its permission names (a route with none is about the caller's own account)."""
    action, resource, resource_id = aimed_at(request, permission)
    # The caller is checked before the request does anything else: its transaction holds
    # this trace alone, committed now so that it outlives the request's failure.
    db: Session = request.state.db
    patient_id = patient_of(db=db, resource_type=resource, resource_id=resource_id)
    AuditTrail(db, actor_of(principal)).record_denied(
        action, resource, Access(resource_id, patient_id), detail
    )
    db.commit()


def aimed_at(
    request: Request, permission: Permission | None
) -> tuple[str, Resource, uuid.UUID | None]:
    """What a request tried, as the trail names it: the verb of its permission (`book`), and
    the record its path names, else the area its permission names (a route with none is
    about the caller's own account)."""
    area, _, verb = permission.value.partition(":") if permission else ("users", "", "access")
    resource, resource_id = _AREA_RESOURCES[area], None
    for name, kind in _PATH_RESOURCES.items():
        if name in request.path_params:
            resource = kind
            try:
                resource_id = uuid.UUID(str(request.path_params[name]))
            except ValueError:
                resource_id = None
            break
    return verb or "access", resource, resource_id


def is_protected(route: object) -> bool:
    """Whether a route needs a credential (it asks who is calling)."""
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        if dependant.call is authenticate or isinstance(dependant.call, PermissionCheck):
            return True
        stack.extend(dependant.dependencies)
    return False


def required_permission(route: object) -> Permission | None:
    """The permission a route demands with `requires(...)`, if any."""
    dependant = getattr(route, "dependant", None)
    for dependency in dependant.dependencies if dependant is not None else ():
        if isinstance(dependency.call, PermissionCheck):
            return dependency.call.permission
    return None


def check_caller(request: Request, permission: Permission, token: str | None) -> None:
    """What a route's dependencies would say of the caller: 401, 403, or nothing. Runs in the
    request's greenlet."""
    if not token:
        raise no_credential()
    principal = _identify(request, token)
    if not allows(principal.role, permission):
        raise _forbid(request, principal, permission)
