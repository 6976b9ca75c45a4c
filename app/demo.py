"""A small, realistic demo clinic for trying the API (`sclerosched seed-demo`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, time

from sqlalchemy.orm import Session

from app.models import Patient, PatientIdentifier, Practitioner, Sex, WeeklyAvailability

DEMO_NAMESPACE = uuid.UUID("5c1e05c4-0000-4000-8000-000000000000")
DEMO_MRN_SYSTEM = "urn:sclerosched:demo:mrn"

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


@dataclass(frozen=True)
class SeedResult:
    practitioners: int
    patients: int


def _demo_id(kind: str, index: int) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"{kind}:{index}")


def seed_demo_clinic(*, session: Session, time_zone: str) -> SeedResult:
    """Add the demo records that are missing; fixed ids make a second run add nothing."""
    practitioners = 0
    for index, (name, hours) in enumerate(_PRACTITIONERS, start=1):
        practitioner_id = _demo_id("practitioner", index)
        if session.get(Practitioner, practitioner_id) is not None:
            continue
        session.add(
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
                    )
                    for day, s, e in hours
                ],
            )
        )
        practitioners += 1
    patients = 0
    for index, (given, family, born, sex, weight, phone) in enumerate(_PATIENTS, start=1):
        patient_id = _demo_id("patient", index)
        if session.get(Patient, patient_id) is not None:
            continue
        session.add(
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
        patients += 1
    session.flush()
    return SeedResult(practitioners=practitioners, patients=patients)
