"""The FHIR R4 interface (`/fhir/R4`): the same records, credentials, permissions, transactions
and audit trail as `/api/v1`, spoken as FHIR resources.

- `router`: the routes (HTTP only); `http` is their machinery (media type, format
  negotiation, the route registry the CapabilityStatement is built from); `scheduling`: the
  `$find`, `$hold` and `$book` operations and cancelling, with their own router.
- `codes`: the project's code systems; `outcomes`: errors as OperationOutcome; `search`:
  search parameters parsed; `bundles`: searchset Bundles; `capability`: the
  CapabilityStatement.
- A module per resource (`patients`, `practitioners`, `schedules`, `slots`, ...): its mapping
  and the queries it needs, with no web framework.
"""

from __future__ import annotations

# Where the interface is mounted: its base URL is the server's address followed by this.
BASE_PATH = "/fhir/R4"
FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"


def is_fhir_path(path: str) -> bool:
    """Whether a request path is the FHIR interface's (its errors are OperationOutcomes)."""
    return path == BASE_PATH or path.startswith(BASE_PATH + "/")
