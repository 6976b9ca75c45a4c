"""Domain errors: what a service refuses, with a stable code. No web framework here: the HTTP
side (`app.web.problems`) renders them as RFC 9457 problem+json, with the status each carries.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from app.roles import Role


class DomainError(Exception):
    """A refusal the client can act on. Subclasses fix `status`, `code` and `title`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    headers: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        discloses: uuid.UUID | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        # The class's headers, plus any this refusal adds (e.g. how long to wait).
        self.response_headers = {**type(self).headers, **(headers or {})}
        # The patient whose data the refusal shows (the flags that stand in the way of their
        # booking, that an identifier is theirs): a read of it, audited though nothing is kept.
        self.discloses = discloses

    def as_seen_by(self, role: Role | None) -> DomainError:
        """The refusal as a caller of `role` (None: not known) may read it: all of it, unless
        a subclass holds what that role may not read (`EligibilityBlocked`: why the patient
        may not be treated). Applied where every refusal becomes an answer
        (`app.web.problems`), so no route can forget it."""
        return self


class NotFound(DomainError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class ConcurrentUpdate(Conflict):
    code = "concurrent-update"
    title = "Concurrent update"


class InvalidValue(DomainError):
    status = 422
    code = "invalid-value"
    title = "Invalid value"


class DuplicateIdentifier(Conflict):
    code = "duplicate-identifier"
    title = "Identifier already in use"


class VersionMismatch(DomainError):
    status = 412
    code = "version-mismatch"
    title = "The record has changed since it was read"


# The versions an `If-Match` names (a list may name several: any of them will do).
Versions = frozenset[int]


def require_version(kind: str, current: int, expected: Versions | None) -> None:
    """The record is still at a version the client read (`If-Match`), or 412: a change made
    meanwhile is never overwritten unseen. None: the client sent no `If-Match`, or `*`."""
    if expected is not None and current not in expected:
        named = ", ".join(str(version) for version in sorted(expected))
        raise VersionMismatch(
            f"{kind} is at version {current}, not {named}.", current_version=current
        )


class InvalidCursor(DomainError):
    status = 422
    code = "invalid-cursor"
    title = "Invalid pagination cursor"


class InvalidQuery(DomainError):
    status = 422
    code = "invalid-query"
    title = "Invalid query parameter"


class InvalidField(DomainError):
    """A field well formed but wrong against the stored records or the clinic's clock, found
    by a service: answered exactly as a request validation failure is (`errors` lists it)."""

    status = 422
    code = "validation-error"
    title = "The request is not valid"

    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(
            f"Invalid input at: {'.'.join(str(part) for part in loc)}",
            errors=[{"loc": list(loc), "msg": msg, "type": "value_error"}],
        )
