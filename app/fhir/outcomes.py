"""Errors as FHIR `OperationOutcome`s: the HTTP status the REST API gives, the FHIR IssueType
that matches, and the REST API's stable code in `issue.details.coding` (the error-code
CodeSystem), so an EHR can act on a refusal exactly as a REST client does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.fhir import MEDIA_TYPE
from app.fhir.codes import CodeSystem, coding

# The FHIR IssueType of a stable code, where the status alone would say less.
_BY_CODE = {
    "authentication-required": "login",
    "invalid-token": "login",
    "forbidden": "forbidden",
    "not-found": "not-found",
    "duplicate-identifier": "duplicate",
    "eligibility-blocked": "business-rule",
    "interval-too-short": "business-rule",
    "outside-availability": "business-rule",
    "inactive-practitioner": "business-rule",
    "patient-archived": "business-rule",
    "plan-full": "business-rule",
    "in-the-past": "business-rule",
    "too-short-notice": "business-rule",
    "invalid-transition": "business-rule",
    "slot-taken": "conflict",
    "waitlist-offer": "conflict",
    "room-taken": "conflict",
    "room-elsewhere": "business-rule",
    "inactive-room": "business-rule",
    "room-closed": "business-rule",
    "buffer-conflict": "conflict",
    "version-mismatch": "conflict",
    "concurrent-update": "lock-error",
    "too-many-requests": "throttled",
    "database-unavailable": "transient",
    "internal-error": "exception",
    "unknown-search-parameter": "not-supported",
    "not-acceptable": "not-supported",
    "unsupported-media-type": "not-supported",
    "method-not-allowed": "not-supported",
    "payload-too-large": "too-costly",
    "uri-too-long": "too-costly",
    "request-header-fields-too-large": "too-costly",
    "too-many-query-parameters": "too-costly",
}
# Else, by the HTTP status.
_BY_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    428: "required",
    429: "throttled",
    500: "exception",
    503: "transient",
}


def issue_type(status: int, code: str) -> str:
    """The FHIR IssueType for a refusal of this status and stable code."""
    return (
        _BY_CODE.get(code)
        or _BY_STATUS.get(status)
        or ("exception" if status >= 500 else "processing")
    )


def operation_outcome(
    *, status: int, code: str, title: str, detail: str, extensions: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The OperationOutcome of a refusal: `issue[0]` says what the REST API's problem says
    (its code in `details.coding`, its title as `details.text`, its detail as
    `diagnostics`); then one issue per flag that stands in the way (`eligibility-blocked`),
    each carrying the flag's code beside the refusal's, and one per field at fault."""
    main = {
        "severity": "error",
        "code": issue_type(status, code),
        "details": {"coding": [coding(CodeSystem.ERROR_CODE, code)], "text": title},
        "diagnostics": detail,
    }
    extra = extensions or {}
    issues = [main, *_flag_issues(code, extra.get("flags")), *_field_issues(extra.get("errors"))]
    return {"resourceType": "OperationOutcome", "issue": issues}


def _flag_issues(code: str, flags: object) -> list[dict[str, Any]]:
    if not isinstance(flags, Sequence):
        return []
    return [
        {
            "severity": "error",
            "code": "business-rule",
            "details": {
                "coding": [
                    coding(CodeSystem.FLAG, str(flag["code"])),
                    coding(CodeSystem.ERROR_CODE, code),
                ],
                "text": str(flag.get("message", "")),
            },
            "diagnostics": f"{flag['code']} ({flag.get('severity', '')}): {flag.get('message')}",
        }
        for flag in flags
        if isinstance(flag, Mapping) and "code" in flag
    ]


def _field_issues(errors: object) -> list[dict[str, Any]]:
    """A validation error's fields at fault, each an issue (where, and what is wrong)."""
    if not isinstance(errors, Sequence):
        return []
    return [
        {
            "severity": "error",
            "code": "invalid",
            "details": {"coding": [coding(CodeSystem.ERROR_CODE, "validation-error")]},
            "diagnostics": f"{'.'.join(str(p) for p in error.get('loc', ()))}: "
            f"{error.get('msg', '')}",
        }
        for error in errors
        if isinstance(error, Mapping)
    ]


def as_outcome(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    extensions: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], str]:
    """A problem in the FHIR interface's dialect (`app.web.problems.Dialect`): the
    OperationOutcome, as `application/fhir+json`."""
    rendered = operation_outcome(
        status=status, code=code, title=title, detail=detail, extensions=extensions
    )
    return rendered, MEDIA_TYPE
