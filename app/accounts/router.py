"""Logging in, who am I, staff accounts and integration keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response, status

from app.access import credentials
from app.accounts import api_keys, logins, users
from app.accounts.password_rules import SamePassword, WeakPassword, check_password_change
from app.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyRead,
    LoginForm,
    PasswordChange,
    PrincipalRead,
    TokenRead,
    UserCreate,
    UserPage,
    UserRead,
    UserUpdate,
)
from app.auditing import Access, Actor, AuditTrail, Changed, Resource
from app.db import off_the_event_loop
from app.errors import InvalidCursor, NotFound, VersionMismatch
from app.logging import current_request_id
from app.practitioners.service import UnknownPractitioner
from app.roles import GRANTS, Permission
from app.web.access import (
    TOKEN_URL,
    AuditDep,
    CurrentPrincipal,
    actor_of,
    bearer_token,
    client_address,
    requires,
)
from app.web.db import Db, transaction
from app.web.params import Cursor, ExpectedVersion, Limit, holds_secret, sends, set_etag
from app.web.policy import Policy
from app.web.problems import problem_responses
from app.web.routes import ApiRoute

# The one route open to all: logging in.
login_router = APIRouter(prefix="/api/v1", tags=["access"], route_class=ApiRoute)
router = APIRouter(prefix="/api/v1", tags=["access"], route_class=ApiRoute)


@login_router.post(
    TOKEN_URL.removeprefix(login_router.prefix),
    summary="Log in",
    responses=problem_responses(
        logins.InvalidCredentials, logins.TooManyLoginAttempts, logins.LoginBusy
    ),
    response_description="A bearer token and how long it is valid",
)
def log_in(
    request: Request,
    clinic: Policy,
    form: Annotated[LoginForm, Form()],
) -> TokenRead:
    """The OAuth2 password flow (the docs explorer's **Authorize** button uses it): a form
    with `username` and `password` gives a bearer token, valid for 30 minutes by default.

    A wrong username and a wrong password get the same 401 `invalid-credentials`. After 5
    failures for one username within 15 minutes, or 30 from one client address whatever the
    usernames, logins for it are refused with 429 `too-many-login-attempts` and a
    `Retry-After` header until the failures age out of the 15 minutes. When the server is
    already checking as many passwords as it may at once, 503 `too-many-logins-at-once`
    with `Retry-After`. Every success and failure is in the audit trail; refusals during a
    pause are counted, in an event at the first, the 10th, the 100th, ...
    """
    policy = clinic.login
    now = datetime.now(UTC)  # credentials keep to the system clock
    client = client_address(request)
    with transaction(request, write=False) as db:
        attempt = logins.check_password(
            db=db,
            username=form.username,
            password=form.password,
            client=client,
            now=now,
            policy=policy,
        )
    # Its own transaction, committed whatever the answer: a failure must be counted.
    with transaction(request, write=True) as db:
        result = logins.settle_login(db=db, attempt=attempt, now=now, policy=policy)
        if isinstance(result, logins.Refusal):
            if result.audit_detail is not None:
                trail = AuditTrail(db, _anonymous(form.username))
                trail.record_denied(
                    "log-in", Resource.USER, Access(None, None), result.audit_detail
                )
        else:
            actor = Actor("user", result.id, result.username, result.role, current_request_id())
            AuditTrail(db, actor).record("log-in", Resource.USER, result.id, patient_id=None)
            token = logins.issue_token(
                user=result, signing_key=request.app.state.signing_key, now=now, policy=policy
            )
    if isinstance(result, logins.Refusal):
        raise result.error
    return TokenRead(access_token=token, expires_in=int(policy.token_lifetime.total_seconds()))


def _text(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _anonymous(username: str) -> Actor:
    return Actor("anonymous", None, username.strip()[:64], None, current_request_id())


@router.get(
    "/auth/me",
    summary="Who am I?",
    responses=problem_responses(validation=False),
    response_description="The caller: who the credential belongs to, its role and permissions",
)
def who_am_i(principal: CurrentPrincipal) -> PrincipalRead:
    """The user or API key the credential belongs to, its role, and what that role may do
    (front-end apps use it to show only the actions that will be allowed)."""
    return PrincipalRead(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role,
        permissions=sorted(GRANTS[principal.role]),
    )


@router.post(
    "/auth/password",
    summary="Change my password",
    responses=problem_responses(
        logins.WrongPassword,
        WeakPassword,
        SamePassword,
        logins.TooManyLoginAttempts,
        logins.LoginBusy,
        logins.NotALoginToken,
    ),
    response_description="A new token: every token issued before, this one included, ends",
    openapi_extra=holds_secret(),
)
def change_my_password(
    request: Request, body: PasswordChange, caller: CurrentPrincipal, clinic: Policy, db: Db
) -> TokenRead:
    """Change your own password: send the current one and the new one (12 characters or
    more, no control character, nothing repeated, not your username, not a common password,
    not easy to guess: else 422 `weak-password`; the current one again: 422 `same-password`).
    A wrong current password is 403 `wrong-password` and counts as a failed
    login (5 pause it, 429). Every token of yours ends, on every device, and the answer is a
    new token to go on with. Recorded in the audit trail."""
    if caller.kind != "user":
        raise logins.NotALoginToken("An API key has no password: an admin replaces the key.")
    policy = clinic.login
    now = datetime.now(UTC)
    check_password_change(
        current=body.current_password, new=body.new_password, username=caller.name
    )
    db.commit()  # nothing written yet: no lock held while the passwords are hashed
    with transaction(request, write=False) as look:
        attempt = logins.check_password(
            db=look,
            username=caller.name,
            password=body.current_password,
            client=client_address(request),
            now=now,
            policy=policy,
        )
    new_hash = None
    if attempt.user_id is not None:
        with logins.hashing_slot(policy.passwords):
            new_hash = off_the_event_loop(policy.passwords.hash, body.new_password)
    result = logins.settle_login(db=db, attempt=attempt, now=now, policy=policy)
    trail = AuditTrail(db, actor_of(caller))
    if isinstance(result, logins.Refusal) or new_hash is None or result.id != caller.id:
        error = result.error if isinstance(result, logins.Refusal) else None
        detail = result.audit_detail if isinstance(result, logins.Refusal) else "wrong-password"
        if detail is not None:
            trail.record_denied("change-password", Resource.USER, Access(caller.id, None), detail)
        db.commit()  # the failure counts, whatever is answered
        if error is None or isinstance(error, logins.InvalidCredentials):
            raise logins.WrongPassword("The current password is wrong.")
        raise error
    user = users.set_own_password(db=db, user_id=caller.id, new_hash=new_hash, now=now)
    trail.record("change-password", Resource.USER, user.id, patient_id=None)
    token = logins.issue_token(
        user=user, signing_key=request.app.state.signing_key, now=now, policy=policy
    )
    return TokenRead(access_token=token, expires_in=int(policy.token_lifetime.total_seconds()))


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out",
    responses=problem_responses(logins.NotALoginToken, validation=False),
    response_description="The token has ended",
)
def log_out(request: Request, caller: CurrentPrincipal, db: Db, audit: AuditDep) -> None:
    """End the token this request is sent with: from now on every API process refuses it
    (401 `invalid-token`). Your other tokens (other devices) go on; changing your password
    ends them all. Recorded in the audit trail."""
    claims = credentials.read_token(bearer_token(request) or "", key=request.app.state.signing_key)
    if caller.kind != "user" or claims is None:
        raise logins.NotALoginToken("An API key is not logged out: an admin revokes it.")
    logins.log_out(
        db=db, token_id=claims.token_id, expires_at=claims.expires_at, now=datetime.now(UTC)
    )
    audit.record("log-out", Resource.USER, caller.id, patient_id=None)


# --- staff accounts (admins) ------------------------------------------------------------


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
    dependencies=[requires(Permission.USERS_MANAGE)],
    responses=problem_responses(
        users.UsernameTaken, users.PractitionerLinked, UnknownPractitioner, WeakPassword
    ),
    response_description="The account created",
    openapi_extra=sends("ETag", "Location"),
)
def create_user(
    body: UserCreate, db: Db, audit: AuditDep, response: Response, clinic: Policy
) -> UserRead:
    """A staff account with a role: `admin`, `clinician`, `receptionist` or `integration`.
    Usernames are not case-sensitive; the password (12 characters or more, no control
    character, nothing repeated, not the username, not a common password, not easy to guess:
    else 422 `weak-password`) is stored as an Argon2id hash.

    `practitioner_id` links the account to the practitioner this person is: a clinician
    records evaluations and clearances only in that name, so link each clinician's account
    (one account per practitioner, else 409 `practitioner-linked`)."""
    user = users.create_user(db=db, data=body, passwords=clinic.login.passwords)
    audit.record("create", Resource.USER, user.id, patient_id=None)
    response.headers["Location"] = f"{router.prefix}/users/{user.id}"
    set_etag(response, user.version)
    return UserRead.model_validate(user)


@router.get(
    "/users",
    summary="List users",
    dependencies=[requires(Permission.USERS_MANAGE)],
    responses=problem_responses(InvalidCursor),
    response_description="A page of staff accounts",
)
def list_users(db: Db, cursor: Cursor, limit: Limit = 50) -> UserPage:
    """Staff accounts by username, a page at a time."""
    items, next_cursor = users.list_users(db=db, limit=limit, cursor=cursor.after)
    return UserPage(
        items=[UserRead.model_validate(u) for u in items], next_cursor=cursor.next_page(next_cursor)
    )


@router.patch(
    "/users/{user_id}",
    summary="Update a user",
    dependencies=[requires(Permission.USERS_MANAGE)],
    responses=problem_responses(
        NotFound,
        VersionMismatch,
        users.OwnAccount,
        users.LastAdmin,
        users.PractitionerLinked,
        UnknownPractitioner,
        WeakPassword,
    ),
    response_description="The account as changed",
    openapi_extra=sends("ETag"),
)
def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    db: Db,
    audit: AuditDep,
    response: Response,
    if_match: ExpectedVersion,
    caller: CurrentPrincipal,
    clinic: Policy,
) -> UserRead:
    """Change a user's role, switch the account off (`active: false`) or on, or reset the
    password. A reset or switching off ends the user's open sessions at once (switching the
    account on again does not revive them). Nobody switches off or demotes their own account
    (409 `own-account`), and the last active admin stays one (409 `last-admin`).

    `practitioner_id` links the account to the practitioner this person is (the name their
    evaluations and clearances are signed in); `null` unlinks it. A practitioner is linked to
    one account at most (409 `practitioner-linked`)."""
    linked_before = users.get_user(db=db, user_id=user_id).practitioner_id
    user = users.update_user(
        db=db,
        user_id=user_id,
        changes=body,
        expected_version=if_match,
        acting_user_id=caller.id if caller.kind == "user" else None,
        passwords=clinic.login.passwords,
    )
    changed = ",".join(sorted(body.model_dump(exclude_unset=True)))
    # Whose name the account signs in: the trail keeps the link before and after.
    link = (
        {"practitioner_id": Changed(_text(linked_before), _text(user.practitioner_id))}
        if "practitioner_id" in body.model_fields_set
        else None
    )
    audit.record(f"update:{changed}"[:40], Resource.USER, user.id, patient_id=None, changes=link)
    set_etag(response, user.version)
    return UserRead.model_validate(user)


# --- integration keys (admins) ----------------------------------------------------------


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    dependencies=[requires(Permission.API_KEYS_MANAGE)],
    responses=problem_responses(),
    response_description="The key, shown this once, with its record",
    openapi_extra=holds_secret(),
)
def create_api_key(body: ApiKeyCreate, db: Db, audit: AuditDep) -> ApiKeyCreated:
    """A key for an integration (role `integration` unless said otherwise). The key is in
    this answer only: store it in the integration's secrets; the service keeps a hash."""
    created = api_keys.create_api_key(db=db, data=body)
    audit.record("create", Resource.API_KEY, created.record.id, patient_id=None)
    read = ApiKeyRead.model_validate(created.record)
    return ApiKeyCreated(**read.model_dump(), key=created.secret)


@router.get(
    "/api-keys",
    summary="List API keys",
    dependencies=[requires(Permission.API_KEYS_MANAGE)],
    responses=problem_responses(InvalidCursor),
    response_description="A page of API keys (never the keys themselves)",
)
def list_api_keys(
    db: Db,
    cursor: Cursor,
    include_revoked: Annotated[bool, Query(description="Show revoked keys too")] = False,
    limit: Limit = 50,
) -> ApiKeyPage:
    """Keys newest first, without their secrets (only the first characters, to tell them
    apart)."""
    items, next_cursor = api_keys.list_api_keys(
        db=db, include_revoked=include_revoked, limit=limit, cursor=cursor.after
    )
    return ApiKeyPage(
        items=[ApiKeyRead.model_validate(k) for k in items],
        next_cursor=cursor.next_page(next_cursor),
    )


@router.delete(
    "/api-keys/{key_id}",
    summary="Revoke an API key",
    dependencies=[requires(Permission.API_KEYS_MANAGE)],
    responses=problem_responses(NotFound),
    response_description="The key's record, revoked",
)
def revoke_api_key(key_id: uuid.UUID, db: Db, audit: AuditDep) -> ApiKeyRead:
    """The key stops working at once. Its record stays, marked revoked, for the audit trail."""
    key = api_keys.revoke_api_key(db=db, key_id=key_id, now=datetime.now(UTC))
    audit.record("revoke", Resource.API_KEY, key.id, patient_id=None)
    return ApiKeyRead.model_validate(key)
