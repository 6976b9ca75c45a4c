"""The ASGI middleware around every request, in one pure-ASGI layer: the bounds a request must
keep before anything reads it, the request id and the access log, security headers and no
caching of API answers, and a problem+json answer for an unexpected failure."""

from __future__ import annotations

import time
from http import HTTPStatus

from fastapi.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import (
    CLIENT_REQUEST_ID_HEADER,
    access_logger,
    bind_request_id,
    client_request_id,
    logged_path,
    new_request_id,
    unbind_request_id,
)
from app.web.problems import problem_response, unexpected_failure

# What a request may be before anything parses it: uvicorn has read its head (and bounds it,
# `app.cli`), and these are checked in one pass over it, so an oversized or many-keyed request
# is refused in microseconds, before its query string is split or its credential checked.
MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADER_LINES = 100
MAX_QUERY_PARAMETERS = 100
# The largest body a request without credentials may send (a login form is far smaller).
MAX_ANONYMOUS_BODY_BYTES = 4 * 1024
# The longest path the access log writes (a refused long URL is logged cut).
_LOGGED_PATH = 500

# The answers no browser or proxy may keep: the REST API's and the FHIR interface's.
_NOT_KEPT = ("/api/", "/fhir/")
_REQUEST_ID = b"x-request-id"
_CLIENT_REQUEST_ID = CLIENT_REQUEST_ID_HEADER.lower().encode()
_CACHE_CONTROL = b"cache-control"
_CSP = b"content-security-policy"
# On every answer. What a browser may do with an answer: nothing but show it (no framing, no
# scripts, no guessing its type, no referrer). The docs explorer's pages send their own
# policy, which lets them run their own assets (`app.web.docs`).
_SECURITY = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_API_POLICY = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Production only: a browser that once reached the service over HTTPS never tries plain HTTP.
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_SET_BY_US = frozenset(
    {_REQUEST_ID, _CLIENT_REQUEST_ID, _CACHE_CONTROL, _HSTS[0], *(name for name, _ in _SECURITY)}
)


class ApiMiddleware:
    """- Refuses, before anything else reads it, a request over the bounds above: a URL over
      `MAX_URL_BYTES` (414), headers over `MAX_HEADER_BYTES` or `MAX_HEADER_LINES` (431), a
      query string of more than `MAX_QUERY_PARAMETERS` parameters (400).
    - Makes the request id (always the server's own), adds it to every response, and writes
      the access log line (method, path, status, time: never the query string). A client's
      own `X-Request-ID`, if short and plain, is kept apart: logged on that line and sent back
      as `X-Client-Request-ID`.
    - Security headers on every answer (`_SECURITY`, a content security policy, HSTS when
      `strict_transport_security`), and `Cache-Control: no-store` on every API answer: they
      carry patient data or credentials, which no browser or proxy may keep.
    - Turns an exception no handler knows into a 500 problem, logged once with the request id,
      with the headers above; it answers instead of re-raising, so the connection stays
      usable.
    - Answers HEAD on every GET route (load balancers probe with it): the GET's status and
      headers, no body.
    - Bounds request bodies: a body over `max_body_bytes` is refused with a 413 problem as soon
      as it is known to be (its declared length, or the bytes streamed so far), never read
      whole. Nothing reads a body before the caller is known (`app.web.routes.ApiRoute`); a
      route anyone may call (`public_paths`: logging in) and a request without credentials
      take `MAX_ANONYMOUS_BODY_BYTES` at most, whatever headers come with them."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        public_paths: frozenset[str] = frozenset(),
        strict_transport_security: bool = False,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.public_paths = public_paths
        self.always = [*_SECURITY, _HSTS] if strict_transport_security else list(_SECURITY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        sent_id = next((v for k, v in scope["headers"] if k == _REQUEST_ID), None)
        client_id = client_request_id(sent_id.decode("latin-1")) if sent_id else None
        state = scope.setdefault("state", {})
        state["request_id"], state["client_request_id"] = request_id, client_id
        token = bind_request_id(request_id)
        ours = [*self.always, (_REQUEST_ID, request_id.encode("latin-1"))]
        if client_id:
            ours.append((_CLIENT_REQUEST_ID, client_id.encode("latin-1")))
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        if scope["path"].startswith(_NOT_KEPT):
            ours.append((_CACHE_CONTROL, b"no-store"))

        began = time.perf_counter()
        status = 500  # if the app fails before answering
        answering = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, answering
            if message["type"] == "http.response.start":
                status, answering = message["status"], True
                headers = [h for h in message.get("headers", []) if h[0].lower() not in _SET_BY_US]
                if not any(name.lower() == _CSP for name, _ in headers):
                    headers.append((_CSP, _API_POLICY))
                message["headers"] = headers + ours
                if status == 405:  # what a GET route allows, HEAD is allowed too
                    message["headers"] = [_with_head(h) for h in message["headers"]]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            try:
                refused = _out_of_bounds(scope)
                if refused is not None:
                    await refused(Request(scope))(scope, receive, send_with_headers)
                else:
                    await self.app(scope, self._bounded(scope, receive), send_with_headers)
            except ClientDisconnect:  # the client left mid-request: nobody to answer
                status = _CLIENT_CLOSED
            except Exception as exc:
                if answering:  # too late for a problem response: the client sees a cut answer
                    raise
                await unexpected_failure(Request(scope), exc)(scope, receive, send_with_headers)
        finally:
            path = logged_path(scope["path"])
            access_logger.info(
                "%s %s %d %.1fms%s",
                "HEAD" if head else scope["method"],
                path if len(path) <= _LOGGED_PATH else path[:_LOGGED_PATH] + "...",
                status,
                (time.perf_counter() - began) * 1000,
                f" client_request_id={client_id}" if client_id else "",
            )
            unbind_request_id(token)

    def _bounded(self, scope: Scope, receive: Receive) -> Receive:
        headers = scope["headers"]
        length = next((v for k, v in headers if k == b"content-length"), b"")
        declared = int(length) if length.isdigit() else None
        limit, streamed = self.max_body_bytes, 0
        if scope["path"] in self.public_paths or not any(k == b"authorization" for k, _ in headers):
            # Nobody known sends only a login form (an Authorization header sent with it
            # proves nothing): a few hundred bytes, never a megabyte held in memory on each
            # of a thousand connections.
            limit = min(limit, MAX_ANONYMOUS_BODY_BYTES)

        async def receive_at_most() -> Message:
            nonlocal streamed
            if declared is not None and declared > limit:
                raise _too_large(limit)  # before reading a byte of it
            message = await receive()
            if message["type"] == "http.request":
                streamed += len(message.get("body", b""))
                if streamed > limit:
                    raise _too_large(limit)
            return message

        return receive_at_most


# What the access log says of a request whose client went away before its answer (nginx's
# convention: no status was sent).
_CLIENT_CLOSED = 499


class _Refusal:
    """A request refused at the door, answered as a problem."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        self.status, self.code, self.detail = status, code, detail

    def __call__(self, request: Request) -> ASGIApp:
        return problem_response(
            request,
            status=self.status,
            code=self.code,
            title=HTTPStatus(self.status).phrase,
            detail=self.detail,
        )


def _out_of_bounds(scope: Scope) -> _Refusal | None:
    """The first bound the request's head breaks, if any: each is one pass over bytes."""
    query = scope["query_string"]
    if len(scope.get("raw_path") or scope["path"]) + len(query) > MAX_URL_BYTES:
        return _Refusal(414, "uri-too-long", f"The URL is over the {MAX_URL_BYTES} bytes accepted.")
    headers = scope["headers"]
    if len(headers) > MAX_HEADER_LINES or sum(len(k) + len(v) for k, v in headers) > (
        MAX_HEADER_BYTES
    ):
        return _Refusal(
            431,
            "request-header-fields-too-large",
            f"The headers are over the {MAX_HEADER_BYTES} bytes or {MAX_HEADER_LINES} lines "
            "accepted.",
        )
    if query.count(b"&") >= MAX_QUERY_PARAMETERS:  # n parameters: n - 1 separators
        return _Refusal(
            400,
            "too-many-query-parameters",
            f"The query string has more than the {MAX_QUERY_PARAMETERS} parameters accepted.",
        )
    return None


def _too_large(limit: int) -> HTTPException:
    # The rest of the body is never read: the connection closes with the answer.
    return HTTPException(
        413, f"The request body is over the {limit} bytes accepted.", {"Connection": "close"}
    )


def _with_head(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    name, value = header
    if name.lower() != b"allow" or b"GET" not in value or b"HEAD" in value:
        return header
    return name, value.replace(b"GET", b"GET, HEAD", 1)
