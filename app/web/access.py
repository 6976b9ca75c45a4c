"""Authentication and the permission check, as route dependencies: the one place access is
decided. Every protected route declares `dependencies=[requires(Permission.X)]`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from starlette.exceptions import HTTPException

from app.access import principals
from app.access.principals import AuthenticationRequired, Forbidden, InvalidToken, Principal
from app.auditing import Access, Actor, AuditTrail, Resource, patient_of
from app.logging import current_request_id
from app.roles import Permission, allows
from app.web.db import Db, transaction

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret

# Two ways to send a credential, both `Authorization: Bearer ...`; the docs explorer's
# Authorize button offers both (a login form, or a key to paste).
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


def authenticate(
    request: Request,
    token: Annotated[str | None, Depends(login_scheme)],
    _key: Annotated[HTTPAuthorizationCredentials | None, Depends(api_key_scheme)],
) -> Principal:
    """The caller, from the bearer credential; 401 without one or with one that is not valid.
    A genuine credential that no longer works (a revoked key, a switched-off account) leaves
    a `denied` event in the audit trail."""
    if not token:
        raise AuthenticationRequired(
            "Send `Authorization: Bearer <token or API key>`; "
            f"staff get a token from POST {TOKEN_URL}."
        )
    with transaction(request, write=False) as db:
        found = principals.identify(
            db=db,
            credential=token,
            signing_key=request.app.state.signing_key,
            now=datetime.now(UTC),
        )
    if isinstance(found, principals.Refused):
        permission = required_permission(request.scope.get("route"))
        _record_denial(request, found.holder, permission, f"401: {found.reason}")
    if not isinstance(found, Principal):
        raise InvalidToken("The token has expired or was revoked, or the key is not known.")
    request.state.principal = found
    return found


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


class PermissionCheck:
    """The dependency `requires` builds: the caller's role must hold `permission`."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(self, request: Request, principal: CurrentPrincipal) -> Principal:
        if allows(principal.role, self.permission):
            return principal
        detail = f"role {principal.role} lacks {self.permission}"
        _record_denial(request, principal, self.permission, detail)
        raise Forbidden(
            f"The {principal.role} role may not do this: it needs `{self.permission}`.",
            required_permission=self.permission.value,
        )


def requires(permission: Permission) -> Any:
    """A route dependency: the caller's role must hold `permission`, else 403 (and the denied
    attempt is written to the audit trail)."""
    return Depends(PermissionCheck(permission))


def holds(permission: Permission) -> Any:
    """A dependency answering whether the caller's role holds `permission` (for what a
    response shows, e.g. an evaluation's clinical detail)."""

    def check(principal: CurrentPrincipal) -> bool:
        return allows(principal.role, permission)

    return Depends(check)


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


def get_audit(request: Request, db: Db) -> AuditTrail:
    """The audit trail, writing in the request's transaction as the caller checked by
    `requires`."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # a route that audits must say what it requires
        raise RuntimeError(f"{request.url.path} audits without a `requires` dependency")
    return AuditTrail(db, actor_of(principal))


AuditDep = Annotated[AuditTrail, Depends(get_audit)]

# The record a denied request aimed at, from its path; else the area its permission names.
_PATH_RESOURCES = {
    "patient_id": Resource.PATIENT,
    "evaluation_id": Resource.EVALUATION,
    "plan_id": Resource.TREATMENT_PLAN,
    "session_id": Resource.SESSION,
    "practitioner_id": Resource.PRACTITIONER,
    "user_id": Resource.USER,
    "key_id": Resource.API_KEY,
}
_AREA_RESOURCES = {
    "patients": Resource.PATIENT,
    "calendars": Resource.PRACTITIONER,
    "evaluations": Resource.EVALUATION,
    "clinical": Resource.EVALUATION,
    "clearances": Resource.EVALUATION,
    "plans": Resource.TREATMENT_PLAN,
    "scheduling": Resource.PATIENT,
    "sessions": Resource.SESSION,
    "users": Resource.USER,
    "api-keys": Resource.API_KEY,
    "audit": Resource.AUDIT_TRAIL,
}


def _record_denial(
    request: Request, principal: Principal, permission: Permission | None, detail: str
) -> None:
    """A `denied` event for the record the request aimed at (from its path), else for the
    area its permission names (a route with none is about the caller's own account)."""
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
    # Its own transaction: the request fails, the trace of the attempt stays.
    with transaction(request, write=True) as db:
        patient_id = patient_of(db=db, resource_type=resource, resource_id=resource_id)
        AuditTrail(db, actor_of(principal)).record_denied(
            verb or "access", resource, Access(resource_id, patient_id), detail
        )


def required_permission(route: object) -> Permission | None:
    """The permission a route demands with `requires(...)`, if any."""
    dependant = getattr(route, "dependant", None)
    for dependency in dependant.dependencies if dependant is not None else ():
        if isinstance(dependency.call, PermissionCheck):
            return dependency.call.permission
    return None


class CallerFirstRoute(APIRoute):
    """A protected route that answers who may call it before it judges the body.

    FastAPI decodes a JSON body before it runs the route's dependencies, so a body that is not
    even JSON would get a 422 (or 400) before a caller without a credential got their 401, or
    a caller without the permission their 403 (and its audit event). Here the caller is
    checked first when that happens; every other request goes through untouched."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_caller_first(request: Request) -> Response:
            try:
                return await handle(request)
            except (RequestValidationError, HTTPException) as problem:
                permission = required_permission(self)
                if permission is not None and _undecodable(problem):
                    token = await login_scheme(request)
                    await run_in_threadpool(_check_caller, request, permission, token)
                raise

        return handle_caller_first


def _undecodable(problem: Exception) -> bool:
    if isinstance(problem, RequestValidationError):
        return any(error.get("type") == "json_invalid" for error in problem.errors())
    return isinstance(problem, HTTPException) and problem.status_code == 400


def _check_caller(request: Request, permission: Permission, token: str | None) -> None:
    """What the route's dependencies would have said of the caller: 401, 403, or nothing."""
    PermissionCheck(permission)(request, authenticate(request, token, None))
