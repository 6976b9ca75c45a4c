"""The one SQLAlchemy model of the domain; importing this package registers every table."""

from app.models.account import ApiKey, LoginFailure, LoginRefusal, RevokedToken, User
from app.models.audit import AuditChainHead, AuditEvent, AuditOutcome
from app.models.base import Base, Entity, UTCDateTime, among, one_of, utcnow, uuid7
from app.models.calendar_feed import CalendarFeed
from app.models.consent import Consent
from app.models.evaluation import Clearance, Evaluation
from app.models.idempotency import IdempotentResponse
from app.models.limits import RequestCount
from app.models.location import Location, Room, RoomClosure
from app.models.outbox import (
    OutboxEvent,
    ReminderEmail,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from app.models.patient import Patient, PatientIdentifier, PatientWeight, Sex
from app.models.practitioner import Practitioner, TimeOff, WeeklyAvailability
from app.models.review import ReviewedSite, SiteComplication, SiteReview
from app.models.treatment import (
    AWAITING_TREATMENT,
    CALENDAR_STATUSES,
    LIVE_STATUSES,
    LONGEST_SESSION,
    USUAL_COURSE_SESSIONS,
    USUAL_INTERVAL_DAYS,
    CompletionRecord,
    InjectionLine,
    SessionEvent,
    TreatmentPlan,
    TreatmentSession,
)
from app.models.waitlist import FreedSlot, WaitlistEntry, WaitlistOffer

__all__ = [
    "AWAITING_TREATMENT",
    "CALENDAR_STATUSES",
    "LIVE_STATUSES",
    "LONGEST_SESSION",
    "USUAL_COURSE_SESSIONS",
    "USUAL_INTERVAL_DAYS",
    "ApiKey",
    "AuditChainHead",
    "AuditEvent",
    "AuditOutcome",
    "Base",
    "CalendarFeed",
    "Clearance",
    "CompletionRecord",
    "Consent",
    "Entity",
    "Evaluation",
    "FreedSlot",
    "IdempotentResponse",
    "InjectionLine",
    "Location",
    "LoginFailure",
    "LoginRefusal",
    "OutboxEvent",
    "Patient",
    "PatientIdentifier",
    "PatientWeight",
    "Practitioner",
    "ReminderEmail",
    "RequestCount",
    "ReviewedSite",
    "RevokedToken",
    "Room",
    "RoomClosure",
    "SessionEvent",
    "Sex",
    "SiteComplication",
    "SiteReview",
    "TimeOff",
    "TreatmentPlan",
    "TreatmentSession",
    "UTCDateTime",
    "User",
    "WaitlistEntry",
    "WaitlistOffer",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "WeeklyAvailability",
    "among",
    "one_of",
    "utcnow",
    "uuid7",
]
