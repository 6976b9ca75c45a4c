"""What the tests of the scheduling operations share: their `Parameters` bodies, written as an
EHR writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.fhir.fhir import BASE


def parameters(*parameter: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parameter)}


def find_body(
    patient_id: str, start: str, end: str, practitioner_id: str | None = None
) -> dict[str, Any]:
    """`$find`'s parameters: a window (dates or date-times), the patient, perhaps a
    practitioner."""
    kind = "valueDate" if len(start) == 10 else "valueDateTime"
    found = [
        {"name": "start", kind: start},
        {"name": "end", kind: end},
        {"name": "patient", "valueReference": {"reference": f"Patient/{patient_id}"}},
    ]
    if practitioner_id:
        found.append(
            {
                "name": "practitioner",
                "valueReference": {"reference": f"Practitioner/{practitioner_id}"},
            }
        )
    return parameters(*found)


def with_appointment(appointment: dict[str, Any]) -> dict[str, Any]:
    """`$hold`'s and `$book`'s parameters: the Appointment, as `appt-resource`."""
    return parameters({"name": "appt-resource", "resource": appointment})


def proposal(
    patient_id: str, practitioner_id: str, start: datetime, minutes: int = 45
) -> dict[str, Any]:
    """A `proposed` Appointment as `$find` answers one."""
    from datetime import timedelta

    return {
        "resourceType": "Appointment",
        "status": "proposed",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=minutes)).isoformat(),
        "participant": [
            {"actor": {"reference": f"Patient/{patient_id}"}, "status": "needs-action"},
            {"actor": {"reference": f"Practitioner/{practitioner_id}"}, "status": "needs-action"},
        ],
    }


FIND = f"{BASE}/Appointment/$find"
HOLD = f"{BASE}/Appointment/$hold"
BOOK = f"{BASE}/Appointment/$book"
