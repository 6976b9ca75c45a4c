"""What booking, the life cycle and completion refuse, each with its stable code."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from app.consents.service import ConsentMissing
from app.errors import Conflict, DomainError
from app.evaluations.service import Eligibility
from app.patients.service import PatientArchived
from app.plans.service import UnknownPlan
from app.practitioners.service import (
    InactivePractitioner,
    OutsideAvailability,
    UnknownPractitioner,
)
from app.roles import Permission, Role, allows
from app.sessions.dosing import MILLIGRAM, Exceeded
from app.vocabulary import Flag


class UnknownPatient(DomainError):
    status = 422
    code = "unknown-patient"
    title = "No such patient"


class EligibilityBlocked(Conflict):
    code = "eligibility-blocked"
    title = "The patient may not be booked or treated"

    @classmethod
    def because(
        cls, patient_id: uuid.UUID, standing: Eligibility, flags: Sequence[Flag], doing: str
    ) -> EligibilityBlocked:
        # The reasons themselves: the outcome alone may read `eligible` when what stands in the
        # way is, say, an evaluation that expires before the session ends.
        reasons = "; ".join(f"{f.code}: {f.message}" for f in flags) or standing.outcome.value
        return cls(
            f"Micro-sclerotherapy cannot be {doing}: {reasons}",
            discloses=patient_id,
            outcome=standing.outcome.value,
            flags=[
                {"code": f.code, "severity": f.severity.value, "message": f.message} for f in flags
            ],
        )

    def as_seen_by(self, role: Role | None) -> EligibilityBlocked:
        """The reasons only for a role that may read evaluations' outcomes."""
        if role is not None and allows(role, Permission.EVALUATIONS_READ_OUTCOME):
            return self
        return self.without_reasons()

    def without_reasons(self) -> EligibilityBlocked:
        """The same refusal without the outcome and flags, for a caller who may not read
        evaluations (an EHR integration)."""
        return EligibilityBlocked(
            "Micro-sclerotherapy cannot go ahead for this patient now; the clinic's staff can "
            "see why.",
            # That this patient may not be treated now is still told: audited all the same.
            discloses=self.discloses,
        )


class SlotTaken(Conflict):
    code = "slot-taken"
    title = "The time overlaps another session"


class RoomTaken(Conflict):
    code = "room-taken"
    title = "The room has another session then"


class UnknownRoom(DomainError):
    status = 422
    code = "unknown-room"
    title = "No such room"


class RoomElsewhere(DomainError):
    status = 422
    code = "room-elsewhere"
    title = "The room is not where the practitioner sees patients then"


class InactiveRoom(DomainError):
    status = 422
    code = "inactive-room"
    title = "The room is not in use"


class RoomClosed(DomainError):
    status = 422
    code = "room-closed"
    title = "The room is closed then"


class BufferConflict(Conflict):
    code = "buffer-conflict"
    title = "Too close to another session of the practitioner"


class HoldExpired(Conflict):
    code = "hold-expired"
    title = "The hold no longer stands"


class HeldForOffer(Conflict):
    """The hold is a waitlist offer: it is accepted or declined as one (`waitlist:manage`),
    so that the offer, its entry and the patients after them follow."""

    code = "waitlist-offer"
    title = "The hold is a waitlist offer"


class HoldMismatch(DomainError):
    status = 422
    code = "hold-mismatch"
    title = "The hold is for another slot"


class IntervalTooShort(DomainError):
    status = 422
    code = "interval-too-short"
    title = "Too close to another session of the patient"


class InThePast(DomainError):
    status = 422
    code = "in-the-past"
    title = "The time is in the past"


class TooShortNotice(DomainError):
    status = 422
    code = "too-short-notice"
    title = "Sooner than the practitioner's minimum notice"


class PlanFull(Conflict):
    code = "plan-full"
    title = "The plan has all its sessions"


class InvalidTransition(Conflict):
    code = "invalid-transition"
    title = "The session cannot go to that status"


class CheckInNotOpen(Conflict):
    code = "check-in-not-open"
    title = "Check-in is open on the session's day only"


class FacialVeinsExcluded(DomainError):
    status = 422
    code = "facial-veins-excluded"
    title = "The face is not treated"


class SiteNotEvaluated(DomainError):
    status = 422
    code = "site-not-evaluated"
    title = "A site the current evaluation did not assess"


class DoseLimitExceeded(DomainError):
    status = 422
    code = "dose-limit-exceeded"
    title = "Over the sclerosant's dose limit"

    @classmethod
    def over(cls, exceeded: Exceeded, *, discloses: uuid.UUID) -> DoseLimitExceeded:
        """The refusal naming the limit, what counts against it, its value and its source;
        for a limit in milligrams, also this session's dose and the limit as before lines of
        injections were kept (`dose_mg`, `limit_mg`)."""
        in_mg = exceeded.unit == MILLIGRAM
        earlier: dict[str, Any] = (
            {"dose_mg": round(exceeded.session, 3), "limit_mg": round(exceeded.allowed, 3)}
            if in_mg
            else {}
        )
        return cls(
            exceeded.describe(),
            discloses=discloses,
            limit=exceeded.limit.value,
            total=round(exceeded.total, 3),
            allowed=round(exceeded.allowed, 3),
            unit=exceeded.unit,
            source=exceeded.source,
            **earlier,
        )


BOOKING_ERRORS = (
    UnknownPatient,
    UnknownPractitioner,
    PatientArchived,
    EligibilityBlocked,
    OutsideAvailability,
    SlotTaken,
    RoomTaken,
    UnknownRoom,
    RoomElsewhere,
    InactiveRoom,
    RoomClosed,
    BufferConflict,
    IntervalTooShort,
    InThePast,
    TooShortNotice,
    UnknownPlan,
    PlanFull,
    InactivePractitioner,
    HoldExpired,
    HoldMismatch,
    HeldForOffer,
)

# Holding a slot (for a course, perhaps) is refused as booking it would be.
_BOOKING_ONLY = {HoldExpired, HoldMismatch, HeldForOffer}
HOLD_ERRORS = tuple(e for e in BOOKING_ERRORS if e not in _BOOKING_ONLY)

COMPLETION_ERRORS = (
    InvalidTransition,
    PatientArchived,
    EligibilityBlocked,
    ConsentMissing,
    FacialVeinsExcluded,
    SiteNotEvaluated,
    IntervalTooShort,
    DoseLimitExceeded,
)
