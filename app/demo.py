"""A small, realistic demo clinic for trying the API (`sclerosched seed-demo`)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access.credentials import Passwords
from app.accounts.schemas import UserCreate
from app.accounts.users import create_user
from app.auditing import AuditTrail, Resource
from app.consents.schemas import ConsentCreate
from app.consents.service import record_consent
from app.evaluations.schemas import EvaluationCreate
from app.evaluations.service import record_evaluation
from app.models import (
    Consent,
    Evaluation,
    Location,
    Patient,
    PatientIdentifier,
    Practitioner,
    Room,
    Sex,
    User,
    WeeklyAvailability,
)
from app.patients.service import keep_weight
from app.roles import Role
from app.vocabulary import RISKS_TO_EXPLAIN, ConsentProcedure, RiskFactor

DEMO_NAMESPACE = uuid.UUID("5c1e05c4-0000-4000-8000-000000000000")
DEMO_MRN_SYSTEM = "urn:sclerosched:demo:mrn"

# The demo clinic's one site and its treatment rooms.
_LOCATION = ("Clinique des Veines", "12 rue de Rennes, 75006 Paris")
_ROOMS = ("Room 1", "Room 2")

# name, weekly hours as (weekday, start, end)
_PRACTITIONERS = [
    (
        "Dr Amélie Laurent",
        [
            (0, "08:30", "12:30"),
            (0, "13:30", "17:30"),
            (2, "08:30", "12:30"),
            (3, "13:30", "18:00"),
        ],
    ),
    (
        "Dr Jonas Weber",
        [
            (1, "09:00", "13:00"),
            (1, "14:00", "17:00"),
            (3, "09:00", "12:00"),
            (4, "09:00", "15:00"),
        ],
    ),
]

# given, family, birth date, sex, weight (kg), phone
_PATIENTS = [
    ("Claire", "Dubois", date(1984, 3, 12), Sex.FEMALE, 64.5, "+33 6 12 34 56 78"),
    ("Sofia", "Marchetti", date(1979, 11, 2), Sex.FEMALE, 58.0, "+39 347 555 0192"),
    ("Hannah", "Schmidt", date(1991, 6, 24), Sex.FEMALE, 71.2, None),
    ("Marta", "Kowalska", date(1968, 1, 30), Sex.FEMALE, 77.9, "+48 601 555 014"),
    ("Élodie", "Moreau", date(1995, 9, 8), Sex.FEMALE, 55.3, None),
    ("Inès", "García", date(1973, 4, 17), Sex.FEMALE, 62.0, "+34 612 555 321"),
    ("Fatima", "El Amrani", date(1988, 12, 5), Sex.FEMALE, None, None),
    ("Grace", "O'Connor", date(1960, 7, 21), Sex.FEMALE, 69.4, "+353 85 555 0147"),
    ("Lucas", "Bernard", date(1982, 2, 14), Sex.MALE, 82.1, None),
    ("Pieter", "de Vries", date(1975, 10, 3), Sex.MALE, 88.0, "+31 6 5555 0123"),
    ("Yuki", "Tanaka", date(1999, 5, 29), Sex.FEMALE, 51.7, None),
    ("Sam", "Nguyen", date(1986, 8, 11), Sex.OTHER, 66.0, None),
]


# Demo patient number -> what their evaluation records (the rest have none yet).
_NO_RISKS: dict[str, Any] = {factor.value: False for factor in RiskFactor}
_EVALUATIONS: dict[int, dict[str, Any]] = {
    1: {},  # clean, counselling done: eligible
    2: {"ceap_class": "C2", "varicose_veins": "present"},  # varicose-treatment-first
    3: {"risk_factors": {**_NO_RISKS, "hormonal_contraception": True}},  # the pill
    4: {"risk_factors": {**_NO_RISKS, "history_of_blood_clots": True}},  # past DVT
    5: {"spider_vein_sites": ["face"]},  # facial veins only: not-suitable
    6: {  # varicose veins treated first, now eligible
        "ceap_class": "C2",
        "varicose_veins": "treated",
        "varicose_treatment": {"kind": "endovenous-thermal-ablation", "completed_on": None},
    },
    8: {  # recurrent varicose veins: the earlier treatment no longer counts
        "ceap_class": "C2rs",
        "varicose_veins": "treated",
        "varicose_treatment": {"kind": "surgery", "completed_on": None},
    },
    9: {  # pigmentation: a venous work-up, then a clinician's clearance
        "ceap_class": "C4as",
        "varicose_veins": "treated",
        "varicose_treatment": {"kind": "endovenous-chemical-ablation", "completed_on": None},
    },
}

# The demo patients who may be treated (eligible, or once a clinician clears the pill or the
# past DVT): each signed the consent to micro-sclerotherapy at their evaluation.
_CONSENTED = (1, 3, 4, 6)


@dataclass(frozen=True)
class SeedResult:
    locations: int
    practitioners: int
    patients: int
    evaluations: int
    consents: int


def demo_id(kind: str, index: int) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"{kind}:{index}")


def seed_demo_clinic(
    *, db: Session, audit: AuditTrail, time_zone: str, validity_months: int = 12
) -> SeedResult:
    """Add the demo records that are missing; fixed ids make a second run add nothing. Each
    record added is written to the audit trail as the command's doing."""
    locations = _seed_location(db=db, audit=audit, time_zone=time_zone)
    practitioners = 0
    for index, (name, hours) in enumerate(_PRACTITIONERS, start=1):
        practitioner_id = demo_id("practitioner", index)
        if db.get(Practitioner, practitioner_id) is not None:
            continue
        db.add(
            Practitioner(
                id=practitioner_id,
                name=name,
                name_key=name.casefold(),
                time_zone=time_zone,
                availability=[
                    WeeklyAvailability(
                        weekday=day,
                        start_time=time.fromisoformat(s),
                        end_time=time.fromisoformat(e),
                        location_id=DEMO_LOCATION,
                    )
                    for day, s, e in hours
                ],
            )
        )
        audit.record("create", Resource.PRACTITIONER, practitioner_id, patient_id=None)
        practitioners += 1
    added: list[Patient] = []
    for index, (given, family, born, sex, weight, phone) in enumerate(_PATIENTS, start=1):
        patient_id = demo_id("patient", index)
        if db.get(Patient, patient_id) is not None:
            continue
        added.append(
            Patient(
                id=patient_id,
                given_name=given,
                family_name=family,
                given_key=given.casefold(),
                family_key=family.casefold(),
                birth_date=born,
                sex=sex,
                weight_kg=weight,
                phone=phone,
                identifiers=[PatientIdentifier(system=DEMO_MRN_SYSTEM, value=f"DEMO-{index:04d}")],
            )
        )
        audit.record("create", Resource.PATIENT, patient_id, patient_id=patient_id)
    db.add_all(added)
    db.flush()
    for patient in added:
        keep_weight(db, patient, datetime.now(UTC))
    evaluations = _seed_evaluations(db=db, audit=audit, validity_months=validity_months)
    consents = _seed_consents(db=db, audit=audit)
    return SeedResult(
        locations=locations,
        practitioners=practitioners,
        patients=len(added),
        evaluations=evaluations,
        consents=consents,
    )


# Where the demo practitioners see patients.
DEMO_LOCATION = demo_id("location", 1)


def _seed_location(*, db: Session, audit: AuditTrail, time_zone: str) -> int:
    """The demo clinic's site, in the clinic's zone, with its rooms (0: it was there)."""
    if db.get(Location, DEMO_LOCATION) is not None:
        return 0
    name, address = _LOCATION
    db.add(
        Location(
            id=DEMO_LOCATION,
            name=name,
            name_key=name.casefold(),
            address=address,
            time_zone=time_zone,
        )
    )
    db.flush()
    audit.record("create", Resource.LOCATION, DEMO_LOCATION, patient_id=None)
    for index, room in enumerate(_ROOMS, start=1):
        room_id = demo_id("room", index)
        db.add(Room(id=room_id, location_id=DEMO_LOCATION, name=room, name_key=room.casefold()))
        audit.record("create", Resource.ROOM, room_id, patient_id=None)
    db.flush()
    return 1


# The practitioner the demo clinician is: their evaluations are signed in that name.
DEMO_CLINICIAN_PRACTITIONER = demo_id("practitioner", 1)


def _seed_evaluations(*, db: Session, audit: AuditTrail, validity_months: int) -> int:
    """Evaluations recorded through the service, so the rules compute their outcomes."""
    now = datetime.now(UTC)
    performed_at = now.replace(microsecond=0) - timedelta(days=14)
    added = 0
    for index, changes in _EVALUATIONS.items():
        patient_id = demo_id("patient", index)
        if db.scalar(select(Evaluation.id).where(Evaluation.patient_id == patient_id)):
            continue
        body: dict[str, Any] = {
            "performed_at": performed_at,
            "spider_vein_sites": ["left-calf", "right-calf", "right-thigh"],
            "ceap_class": "C1",
            "varicose_veins": "absent",
            "risk_factors": _NO_RISKS,
            "benefits_and_risks_explained": True,
            **changes,
        }
        if "varicose_treatment" in body:
            body["varicose_treatment"] = {
                **body["varicose_treatment"],
                "completed_on": (performed_at - timedelta(days=60)).date(),
            }
        evaluation = record_evaluation(
            db=db,
            patient_id=patient_id,
            data=EvaluationCreate.model_validate(body),
            practitioner_id=DEMO_CLINICIAN_PRACTITIONER,
            validity_months=validity_months,
            now=now,
        ).evaluation
        audit.record("create", Resource.EVALUATION, evaluation.id, patient_id=patient_id)
        added += 1
    return added


def _seed_consents(*, db: Session, audit: AuditTrail) -> int:
    """The consents of the patients who may be treated, signed at their evaluation."""
    now = datetime.now(UTC)
    added = 0
    for index in _CONSENTED:
        patient_id = demo_id("patient", index)
        if db.scalar(select(Consent.id).where(Consent.patient_id == patient_id)):
            continue
        evaluated = db.scalar(
            select(Evaluation.performed_at)
            .where(Evaluation.patient_id == patient_id)
            .order_by(Evaluation.performed_at)
            .limit(1)
        )
        procedure = ConsentProcedure.MICRO_SCLEROTHERAPY
        data = ConsentCreate(
            document_version="demo-1",
            procedure=procedure,
            risks_explained=sorted(RISKS_TO_EXPLAIN[procedure]),
            obtained_at=evaluated or now,
        )
        consent = record_consent(
            db=db,
            patient_id=patient_id,
            data=data,
            practitioner_id=DEMO_CLINICIAN_PRACTITIONER,
            now=now,
        )
        audit.record("create", Resource.CONSENT, consent.id, patient_id=patient_id)
        added += 1
    return added


def demo_username(role: Role) -> str:
    return f"demo-{role.value}"


def seed_demo_users(
    *, db: Session, audit: AuditTrail, passwords: Passwords
) -> dict[str, str | None]:
    """One demo user per role. A missing one is created with a random password, returned to
    be printed (a demo clinic has no well-known login); one that exists is left as it is, its
    password, status and practitioner included (None): an admin may have changed them. The
    demo clinician is created as the first demo practitioner (unless another account is
    already), so that they can record evaluations and clearances."""
    logins: dict[str, str | None] = {}
    for role in Role:
        username = demo_username(role)
        if db.scalar(select(User.id).where(User.username == username)) is not None:
            logins[username] = None
            continue
        password = secrets.token_urlsafe(12)
        practitioner = DEMO_CLINICIAN_PRACTITIONER
        signs = role is Role.CLINICIAN and _unlinked(db, practitioner)
        data = UserCreate(
            username=username,
            password=password,
            role=role,
            practitioner_id=practitioner if signs else None,
        )
        user = create_user(db=db, data=data, passwords=passwords)
        audit.record("create", Resource.USER, user.id, patient_id=None)
        logins[username] = password
    return logins


def _unlinked(db: Session, practitioner_id: uuid.UUID) -> bool:
    """Whether the practitioner exists and no account is them yet."""
    return db.get(Practitioner, practitioner_id) is not None and (
        db.scalar(select(User.id).where(User.practitioner_id == practitioner_id)) is None
    )
