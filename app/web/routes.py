"""`ApiRoute`: how every API route runs a request.

- On the event loop, with no worker thread: a plain (synchronous) endpoint runs in a greenlet
  (`app.db.run_in_greenlet`), its database calls awaiting the async driver.
- In one transaction: the route opens the request's session, the caller's credential is
  checked in it, the endpoint works and audits in it, and it is committed once the endpoint
  returns, before the response is sent (a failing commit is an error answer, never a lost
  write after a 2xx).
- Once more on a new connection when the server dropped the pooled one before anything was
  written (no ping before each checkout), and up to three times in all when it lost a race to
  another transaction (a deadlock, a serialization failure): then 409, never a 503.
- Retried safely: a write sent with an `Idempotency-Key` is answered once and that answer
  given again to its retries (`app.idempotency`), kept in the transaction of the change.
- The caller first: a protected route checks the credential before any byte of the body is
  read (a body of any size from nobody gets a 401 at once). FastAPI decodes a JSON body before
  it runs the route's dependencies, so a body that is not even JSON would get a 422 (or 400)
  before a caller without the permission got their 403 (and its audit event): here the
  permission is checked first when that happens.
- Refused, yet accounted for: a refusal whose answer shows a patient's data (the flags that
  block a booking, that an identifier is another patient's) or says that a patient's record of
  that id does not exist leaves a `denied` audit event, written once the request's transaction
  is rolled back (the refused changes vanish, the trace stays).
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from app import idempotency
from app.auditing import Access, AuditTrail, Resource, nothing_to_commit
from app.db import run_in_greenlet
from app.errors import ConcurrentUpdate, DomainError, NotFound
from app.roles import Permission
from app.web.access import (
    Holds,
    PermissionCheck,
    actor_of,
    aimed_at,
    audit_trail,
    authenticate,
    bearer_token,
    check_caller,
    get_audit,
    is_protected,
    no_credential,
    required_permission,
)
from app.web.clock import clinic_now, current_time
from app.web.db import Use, get_changing_db, get_db, get_read_db, open_request_db
from app.web.params import (
    HOLDS_SECRET,
    content_tag,
    one_value_per_query_parameter,
    unchanged_since,
)
from app.web.policy import clinic_policy, policy_of


class ApiRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        asks_caller = False
        if not inspect.iscoroutinefunction(endpoint):
            endpoint, asks_caller = _in_greenlet(endpoint)
        super().__init__(path, endpoint, **kwargs)
        if asks_caller and not is_protected(self):
            # Handed the audit trail or a role question, it must have the caller checked.
            raise TypeError(f"{path} asks who is calling without a `requires` dependency")

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        use: Use = (
            "read"
            if _depends_on(self.dependant, get_read_db)
            else "look"
            if (self.methods or set()) <= {"GET", "HEAD"}
            and not _depends_on(self.dependant, get_changing_db)
            else "change"
        )

        protected = is_protected(self)
        permission = required_permission(self)
        idempotent = protected and bool((self.methods or set()) & {"POST", "PATCH"})
        # An answer holding a secret shown once (a new API key) is never kept for a retry.
        secret = bool((self.openapi_extra or {}).get(HOLDS_SECRET))

        async def handle_in_one_transaction(request: Request) -> Response:
            retry: Retry | None = None
            keys: list[str] = []
            if protected and use == "change":
                # No credential, no body read: 401 at once. Then the body (bounded,
                # `app.web.middleware`), before any connection is taken: none is held while a
                # client uploads; the credential is checked in the request's transaction, and
                # the body parsed only after that. With a rate limit, the caller is checked
                # and counted first, in a transaction of its own (a refused write counts).
                if bearer_token(request) is None:
                    raise no_credential(connection_close=_has_body(request))
                if request.app.state.requests_per_minute:
                    await _checked_apart(request)
                body = await request.body()
                if idempotent:
                    keys = request.headers.getlist(IDEMPOTENCY_KEY)
            for attempt in range(1, _ATTEMPTS + 1):
                db = open_request_db(request, use)
                closed = False
                try:
                    if protected:  # who is calling (known already, for a change)
                        principal = await authenticate(request)
                    if keys:
                        # The caller first (a refused one is audited as such), then its key:
                        # an answer is given again only to whom may still get it.
                        if permission is not None:
                            await PermissionCheck(permission)(request)
                        retry = _retry(request, keys, body, secret=secret)
                        kept = await run_in_greenlet(
                            idempotency.claim,
                            db=db,
                            caller_id=principal.id,
                            key=retry.key,
                            request=retry.request,
                            now=datetime.now(UTC),
                        )
                        if kept is not None:
                            await run_in_greenlet(_record_replay, request, db, kept)
                            return _replayed(kept)
                    one_value_per_query_parameter(request)
                    response = await handle(request)
                    _tag_content(response)
                    if retry is not None and 200 <= response.status_code < 300:
                        await run_in_greenlet(
                            idempotency.keep,
                            db=db,
                            caller_id=principal.id,
                            key=retry.key,
                            request=retry.request,
                            answer=_answer(response, getattr(request.state, "audit", None)),
                            now=datetime.now(UTC),
                            lifetime=request.app.state.idempotency_lifetime,
                        )
                except DBAPIError as failure:
                    if attempt < _ATTEMPTS and (failure.connection_invalidated or _lost(failure)):
                        continue  # nothing was committed: once more, on a fresh transaction
                    if _lost(failure):
                        raise ConcurrentUpdate(
                            "The request lost a race with another one changing the same "
                            "records, several times; try again."
                        ) from None
                    raise
                except DomainError as refusal:
                    disclosed = _disclosed(request, permission, refusal)
                    if disclosed is not None:
                        await run_in_greenlet(_record_refusal, request, db, disclosed)
                    raise
                except (RequestValidationError, HTTPException) as problem:
                    if permission is not None and _undecodable(problem):
                        token = bearer_token(request)
                        await run_in_greenlet(check_caller, request, permission, token)
                    raise
                else:
                    closed = True  # by `_finish`, whether the commit succeeds or not
                    await run_in_greenlet(_finish, db)
                    tag = response.headers.get("etag")
                    inm = request.headers.getlist(_INM)
                    if tag and inm and use != "change" and unchanged_since(tag, inm):
                        return Response(status_code=304, headers={"ETag": tag})
                    return response
                finally:
                    if not closed:
                        await run_in_greenlet(db.close)
            raise AssertionError("unreachable")  # pragma: no cover

        return handle_in_one_transaction


IDEMPOTENCY_KEY = "idempotency-key"
_INM = "if-none-match"
REPLAYED = "Idempotent-Replayed"
# Headers the middleware sets on every answer, and the length: not kept with an answer.
_NOT_KEPT = frozenset({"content-length", "x-request-id", "cache-control"})


def _retry(request: Request, keys: list[str], body: bytes, *, secret: bool) -> Retry:
    """The retry a write's `Idempotency-Key` names, or the problem with the key."""
    if secret:
        raise idempotency.IdempotencyKeyNotTaken(
            "This answer holds a secret shown once, which is never kept: send the request "
            "without Idempotency-Key (a lost answer: revoke the key and make another)."
        )
    return Retry(
        key=idempotency.read_key(keys),
        request=idempotency.fingerprint(
            request.method, _target(request), body, request.headers.get("content-type", "")
        ),
    )


@dataclass(frozen=True)
class Retry:
    """A write sent with an `Idempotency-Key`: the key and the request's fingerprint."""

    key: str
    request: str


async def _checked_apart(request: Request) -> None:
    """Who is calling, in a short transaction of its own (the request's own begins after the
    body is in); `authenticate` then knows the caller for the rest of the request."""
    db = open_request_db(request, "look")
    try:
        await authenticate(request)
    except BaseException:
        await run_in_greenlet(db.close)
        raise
    await run_in_greenlet(_finish, db)  # the request counted against the rate limit


def _finish(db: Session) -> None:
    """Commit and close, in one hand-off to the greenlet rather than two: the session is
    closed (its connection back in the pool) whether the commit succeeds or not. A session
    with nothing to commit (a read whose statements committed as they ran, its audit event
    written by the read itself) is only closed."""
    try:
        if not nothing_to_commit(db):
            db.commit()
    finally:
        db.close()


def _target(request: Request) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return request.url.path + (f"?{query}" if query else "")


def _answer(response: Response, audit: AuditTrail | None) -> idempotency.Answer:
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in response.raw_headers
        if name.decode("latin-1").lower() not in _NOT_KEPT
    ]
    last = audit.last if audit is not None else None
    about = (last[0].value, last[1].resource_id, last[1].patient_id) if last else None
    return idempotency.Answer(response.status_code, headers, bytes(response.body), about)


def _tag_content(response: Response) -> None:
    """A successful answer's `ETag` names what it showed too (`app.web.params.content_tag`)."""
    tag = response.headers.get("etag")
    body = getattr(response, "body", None)
    if tag and body and 200 <= response.status_code < 300:
        response.headers["etag"] = content_tag(tag, bytes(body))


def _record_replay(request: Request, db: Any, kept: idempotency.Answer) -> None:
    """An answer given again discloses what it holds: in the audit trail, against the record
    the write was about."""
    principal = request.state.principal
    if kept.about is not None:
        kind, resource_id, patient_id = kept.about
        AuditTrail(db, actor_of(principal)).record(
            "replay", Resource(kind), resource_id, patient_id=patient_id
        )
    db.commit()


# A GET of one of these that does not exist is audited as a read: who is trying ids?
_PATIENT_RECORDS = frozenset(
    {
        Resource.PATIENT,
        Resource.EVALUATION,
        Resource.CONSENT,
        Resource.TREATMENT_PLAN,
        Resource.SESSION,
        Resource.REVIEW,
        Resource.WAITLIST_ENTRY,
        Resource.WAITLIST_OFFER,
    }
)


@dataclass(frozen=True)
class Disclosed:
    """What a refusal showed, for the trail: as `AuditTrail.record_denied` takes it."""

    action: str
    resource: Resource
    access: Access
    detail: str


def _disclosed(
    request: Request, permission: Permission | None, refusal: DomainError
) -> Disclosed | None:
    """What a refused request learnt that the trail must keep: a patient's data the answer
    shows (`DomainError.discloses`: the flags that block their booking, that an identifier is
    theirs), or that a patient's record of that id does not exist. Nothing for the others."""
    if getattr(request.state, "principal", None) is None:
        return None
    action, resource, resource_id = aimed_at(request, permission)
    detail = f"{refusal.status} {refusal.code}"
    if refusal.discloses is not None:
        return Disclosed(action, resource, Access(resource_id, refusal.discloses), detail)
    if (
        isinstance(refusal, NotFound)
        and request.method in {"GET", "HEAD"}
        and resource_id is not None
        and resource in _PATIENT_RECORDS
    ):
        return Disclosed("read", resource, Access(resource_id, None), detail)
    return None


def _record_refusal(request: Request, db: Any, disclosed: Disclosed) -> None:
    """The refusal's trace, in a transaction of its own once the request's is rolled back:
    what the request changed vanishes, what it was shown stays on record."""
    db.rollback()
    AuditTrail(db, actor_of(request.state.principal)).record_denied(
        disclosed.action, disclosed.resource, disclosed.access, disclosed.detail
    )
    db.commit()


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return "chunked" in request.headers.get("transfer-encoding", "") or (
        length is not None and length != "0"
    )


def _replayed(answer: idempotency.Answer) -> Response:
    replay = Response(content=answer.body, status_code=answer.status)
    for name, value in answer.headers:
        replay.headers.append(name, value)
    replay.headers[REPLAYED] = "true"
    return replay


# A request that lost a race (a deadlock between two transactions, a serialization failure) is
# tried this many times in all before it is answered 409.
_ATTEMPTS = 3
_LOST_RACE = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def _lost(failure: DBAPIError) -> bool:
    return getattr(failure.orig, "sqlstate", None) in _LOST_RACE


def _in_greenlet(
    endpoint: Callable[..., Any],
) -> tuple[Callable[..., Coroutine[Any, Any, Any]], bool]:
    """The endpoint as a coroutine that runs it in a greenlet. FastAPI reads the parameters
    from the wrapper's signature: the endpoint's (their annotations resolved), but for the
    request's session and audit trail (`Db`, `AuditDep`), the clinic's clock and policy
    (`Now`, `Policy`) and whether the caller's role holds a permission (`holds`), handed to
    the endpoint from the request once the other dependencies are solved (the caller checked
    by `requires`). The same values the dependencies gave, without up to six dependencies
    solved on every request; none has a parameter, so the OpenAPI document is the same.
    Also whether any of them needs the caller known (the audit trail, a role question)."""
    signature = inspect.signature(endpoint)
    hints = typing.get_type_hints(endpoint, include_extras=True)
    dependencies = {name: _dependency(hints.get(name)) for name in signature.parameters}
    handed = {
        name: make
        for name, dependency in dependencies.items()
        if (make := _handed(dependency)) is not None
    }
    asks_caller = any(
        isinstance(dependency, Holds) or dependency is get_audit
        for dependency in dependencies.values()
    )
    kept = [
        parameter.replace(annotation=hints.get(name, parameter.annotation))
        for name, parameter in signature.parameters.items()
        if name not in handed
    ]
    # FastAPI gives the request to one parameter: the endpoint's own, if it takes it.
    own = next((name for name in signature.parameters if hints.get(name) is Request), None)
    if handed and own is None:
        kept.append(inspect.Parameter(_REQUEST, inspect.Parameter.KEYWORD_ONLY, annotation=Request))

    @functools.wraps(endpoint)
    async def run(**kwargs: Any) -> Any:
        if handed:
            request = kwargs[own] if own is not None else kwargs.pop(_REQUEST)
            for name, make in handed.items():
                kwargs[name] = make(request)
        return await run_in_greenlet(endpoint, **kwargs)

    answer = hints.get("return", signature.return_annotation)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=kept, return_annotation=None if answer is type(None) else answer
    )
    return run, asks_caller


_REQUEST = "_handed_request"


def _request_db(request: Request) -> Session:
    db: Session = request.state.db
    return db


# What an endpoint is handed rather than solved as a dependency: by the dependency it names.
_HANDED: dict[object, Callable[[Request], Any]] = {
    get_db: _request_db,
    get_audit: audit_trail,
    current_time: clinic_now,
    clinic_policy: policy_of,
}


def _handed(dependency: object) -> Callable[[Request], Any] | None:
    if isinstance(dependency, Holds):  # whether the caller's role holds a permission
        return dependency.of_known_caller
    return _HANDED.get(dependency)


def _dependency(annotation: object) -> object:
    """The callable an `Annotated[..., Depends(call)]` parameter names, else None."""
    if typing.get_origin(annotation) is not Annotated:
        return None
    marks = [mark for mark in typing.get_args(annotation)[1:] if isinstance(mark, Depends)]
    return marks[-1].dependency if marks else None


def _depends_on(dependant: Any, call: Callable[..., Any]) -> bool:
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is call:
            return True
        stack.extend(current.dependencies)
    return False


def _undecodable(problem: Exception) -> bool:
    if isinstance(problem, RequestValidationError):
        return any(error.get("type") == "json_invalid" for error in problem.errors())
    return isinstance(problem, HTTPException) and problem.status_code == 400
