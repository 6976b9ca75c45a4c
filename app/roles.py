"""Roles and what each may do: the permission matrix, in one place.

Routes name the permission they need (`Allow(Permission.PATIENTS_READ)`); nothing else decides
who may do what. The README's table is checked against `GRANTS` by a test.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Role(enum.StrEnum):
    ADMIN = "admin"
    CLINICIAN = "clinician"
    RECEPTIONIST = "receptionist"
    INTEGRATION = "integration"


class Permission(enum.StrEnum):
    """One thing a caller may do. The value is what a 403 names."""

    PATIENTS_READ = "patients:read"
    PATIENTS_WRITE = "patients:write"  # register and update demographics
    PATIENTS_ARCHIVE = "patients:archive"
    CALENDARS_READ = "calendars:read"  # practitioners, their hours, time off and free slots
    CALENDARS_WRITE = "calendars:write"  # and rooms' closures (maintenance), like time off
    # The clinic's sites and their rooms: every role reads them (an EHR books rooms);
    # setting them up (adding sites and rooms, renaming, taking a room out of use) is the
    # administrator's.
    LOCATIONS_READ = "locations:read"
    LOCATIONS_MANAGE = "locations:manage"
    # A practitioner's secret calendar feed: whoever holds its URL sees their sessions.
    CALENDAR_FEEDS_MANAGE = "calendar-feeds:manage"
    EVALUATIONS_READ_OUTCOME = "evaluations:read-outcome"  # outcome, flags, eligibility
    # Clinical detail wherever it is: an evaluation's findings and clearance reason, a
    # session's treatment record, a plan's notes.
    CLINICAL_READ = "clinical:read"
    EVALUATIONS_WRITE = "evaluations:write"
    CLEARANCES_WRITE = "clearances:write"
    # Whether a patient consented to a procedure, and since when: what the front desk checks
    # before a visit. The risks explained and a withdrawal's reason need `clinical:read`.
    CONSENTS_READ = "consents:read"
    CONSENTS_WRITE = "consents:write"  # record a patient's consent, and its withdrawal
    PLANS_READ = "plans:read"
    PLANS_WRITE = "plans:write"
    # How treated sites respond, and the complications seen since (a review); read with
    # `clinical:read`.
    REVIEWS_WRITE = "reviews:write"
    PROPOSALS = "scheduling:propose"
    SESSIONS_READ = "sessions:read"
    SESSIONS_BOOK = "sessions:book"
    # Book, move or hold a session starting inside the practitioner's minimum notice: people
    # at the clinic who know it can be ready, never an integration.
    SESSIONS_BOOK_WITHIN_NOTICE = "sessions:book-within-notice"
    SESSIONS_RESCHEDULE = "sessions:reschedule"
    SESSIONS_CANCEL = "sessions:cancel"
    SESSIONS_CHECK_IN = "sessions:check-in"  # and no-show: the front desk's calls
    SESSIONS_COMPLETE = "sessions:complete"
    SESSIONS_ENTERED_IN_ERROR = "sessions:entered-in-error"
    USERS_MANAGE = "users:manage"
    API_KEYS_MANAGE = "api-keys:manage"
    AUDIT_READ = "audit:read"
    WEBHOOKS_MANAGE = "webhooks:manage"  # subscriptions, their deliveries and secrets
    WAITLIST_READ = "waitlist:read"  # who waits for an earlier visit, and the offers made
    # Put patients on the waitlist and take them off; accept or decline offers for them.
    WAITLIST_MANAGE = "waitlist:manage"


_INTEGRATION = frozenset(
    {
        Permission.PATIENTS_READ,
        Permission.PATIENTS_WRITE,
        # An EHR books into a practitioner's free slot: it must see the calendars, and the
        # rooms it may name.
        Permission.CALENDARS_READ,
        Permission.LOCATIONS_READ,
        Permission.PLANS_READ,
        Permission.SESSIONS_READ,
        Permission.SESSIONS_BOOK,
        Permission.SESSIONS_CANCEL,
    }
)
_RECEPTIONIST = frozenset(
    {
        Permission.PATIENTS_READ,
        Permission.PATIENTS_WRITE,
        Permission.PATIENTS_ARCHIVE,
        Permission.CALENDARS_READ,
        Permission.CALENDARS_WRITE,
        Permission.LOCATIONS_READ,
        Permission.EVALUATIONS_READ_OUTCOME,
        Permission.CONSENTS_READ,
        Permission.PLANS_READ,
        Permission.PROPOSALS,
        Permission.SESSIONS_READ,
        Permission.SESSIONS_BOOK,
        Permission.SESSIONS_BOOK_WITHIN_NOTICE,
        Permission.SESSIONS_RESCHEDULE,
        Permission.SESSIONS_CANCEL,
        Permission.SESSIONS_CHECK_IN,
        Permission.WAITLIST_READ,
        Permission.WAITLIST_MANAGE,
    }
)
# Clinicians see the waitlist; the front desk runs it (the matrix).
_CLINICIAN = (_RECEPTIONIST - {Permission.WAITLIST_MANAGE}) | {
    Permission.CLINICAL_READ,
    Permission.EVALUATIONS_WRITE,
    Permission.CLEARANCES_WRITE,
    Permission.CONSENTS_WRITE,
    Permission.PLANS_WRITE,
    Permission.REVIEWS_WRITE,
    Permission.SESSIONS_COMPLETE,
    Permission.SESSIONS_ENTERED_IN_ERROR,
}

GRANTS: Mapping[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.CLINICIAN: frozenset(_CLINICIAN),
    Role.RECEPTIONIST: _RECEPTIONIST,
    Role.INTEGRATION: _INTEGRATION,
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in GRANTS[role]
