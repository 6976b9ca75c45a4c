"""The one SQLAlchemy model of the domain; importing this package registers every table."""

from app.models.base import Base, Entity, UTCDateTime, utcnow
from app.models.evaluation import Clearance, Evaluation
from app.models.patient import Patient, PatientIdentifier, Sex
from app.models.practitioner import Practitioner, TimeOff, WeeklyAvailability

__all__ = [
    "Base",
    "Clearance",
    "Entity",
    "Evaluation",
    "Patient",
    "PatientIdentifier",
    "Practitioner",
    "Sex",
    "TimeOff",
    "UTCDateTime",
    "WeeklyAvailability",
    "utcnow",
]
