"""Treat only whom we may treat, when we may: each finding of the outside test runs, played
through HTTP, refused or flagged, beside the legitimate path that still works.

Every case is one row of the one table `FINDINGS`, gathered from the findings_*.py files: it
sets a clinic up through the API, moves the clinic's clock to the session's day where the
finding needs it, and checks what the service answers. The suite runs on SQLite and on
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.sessions import (
    findings_calendar,
    findings_dose,
    findings_eligibility,
    findings_injections,
    findings_timing,
)
from tests.sessions.clinic import (
    Clinic,
)

FINDINGS: list[Callable[[Clinic], None]] = [
    *findings_eligibility.FINDINGS,
    *findings_timing.FINDINGS,
    *findings_dose.FINDINGS,
    *findings_injections.FINDINGS,
    *findings_calendar.FINDINGS,
]


@pytest.mark.parametrize("finding", FINDINGS, ids=lambda f: f.__name__)
def test_finding(finding: Callable[[Clinic], None], clinic: Clinic) -> None:
    finding(clinic)
