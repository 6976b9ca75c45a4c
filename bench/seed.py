"""The benchmark's clinic: a fresh database with realistic histories, loaded with COPY.

Each patient has a course of about 40 sessions, about a month apart (20 working days), with
the practitioner they usually see; a few have 200. What lies in the past is fulfilled, with its
completion record; what lies ahead is booked. Weekdays 08:00-17:00 in Paris, in 45-minute
slots (12 a day), 20 practitioners. The present (the last 20 working days and the next 60) is
the same at every size, its diaries 40% full; the history behind it grows with the size, its
diaries about three quarters full; the free slots are scattered as in a real diary. Only
what lies behind the present differs between a small clinic and a large one, so what slot
search and proposals cost at each is measured on the same diaries. The clinic has one
location with a treatment room per
practitioner (each session in its practitioner's room): slot search, proposals and booking look
for a free room as well as a free practitioner. On top of that:

- `full_days`: days on which a practitioner sees 12 patients (half in the past, half ahead,
  booked), the same in every size of clinic, for the day list;
- `bookable`: patients whose course ended long ago, with nothing ahead, for the booking
  benchmark, which books them into an empty stretch of diaries well ahead (`booking_days`).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.access.credentials import NewApiKey, new_api_key
from app.db import make_engine
from app.migrations import upgrade_to_head
from app.vocabulary import RiskFactor

ZONE = ZoneInfo("Europe/Paris")
SLOTS = [time(8, 0)] + [
    (datetime.combine(date(2000, 1, 1), time(8, 0)) + timedelta(minutes=45 * i)).time()
    for i in range(1, 12)
]
LENGTH = timedelta(minutes=45)
EVERY = 20  # working days between two sessions of a course: about a month
AHEAD = 60  # working days booked ahead
FILL = 0.75  # how full a diary is in the clinic's history
NEAR = 20  # working days of the present behind today
PRESENT_FILL = 0.4  # how full the diaries are in the present (NEAR behind, AHEAD ahead)
FULL_DAYS = 10  # per side of today


@dataclass
class Clinic:
    api_key: str
    location: uuid.UUID
    practitioners: list[uuid.UUID]
    patients: list[uuid.UUID]
    long_histories: list[uuid.UUID]
    ongoing: list[uuid.UUID]  # patients with a session booked ahead: the proposals ask for them
    bookable: list[uuid.UUID]
    full_days: list[tuple[uuid.UUID, date]] = field(default_factory=list)
    booking_days: list[date] = field(default_factory=list)
    sessions: int = 0

    @property
    def authorization(self) -> str:
        return f"Bearer {self.api_key}"


def libpq(database_url: str) -> str:
    """A libpq connection string for a SQLAlchemy PostgreSQL URL."""
    url = make_url(database_url)
    parts = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "dbname": url.database,
        "password": url.password,
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def reset(database_url: str) -> None:
    """An empty schema, brought to the head migration."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade_to_head(database_url)


def _working_days(first: date, count: int, step: int = 1) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=step)
    return days


def seed(
    database_url: str,
    *,
    sessions: int,
    practitioners: int = 20,
    per_patient: int = 40,
    long_histories: int = 5,
    bookable: int = 1_000,
    seed_value: int = 7,
) -> Clinic:
    """Reset the database and load a clinic of about `sessions` sessions."""
    rng = random.Random(seed_value)
    reset(database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.astimezone(ZONE).date()
    per_day = practitioners * len(SLOTS)
    span = per_patient * EVERY
    history = max(NEAR + int(sessions / (per_day * FILL)) + span // 2, 200 * EVERY + 40)
    past = _working_days(today - timedelta(days=1), history, step=-1)[::-1]
    ahead = _working_days(today + timedelta(days=1), AHEAD)
    days = past + ahead
    first_ahead = len(past)
    doctors = [uuid.uuid4() for _ in range(practitioners)]
    site, rooms = uuid.uuid4(), [uuid.uuid4() for _ in range(practitioners)]
    taken: set[tuple[int, int, int]] = set()  # (day, slot, practitioner)
    busy: set[tuple[int, int, uuid.UUID]] = set()  # (day, slot, patient)
    rows: list[
        tuple[uuid.UUID, uuid.UUID, uuid.UUID, int, int]
    ] = []  # id, patient, doctor, day, slot

    def place(patient: uuid.UUID, usual: int, day: int, before: int | None = None) -> bool:
        """A session for `patient` on `day` or up to four working days after (not on or
        after day `before`), with their usual practitioner or another."""
        for shift in range(5):
            d = day + shift
            if not 0 <= d < (len(days) if before is None else before):
                return False
            for doctor in (usual, *rng.sample(range(practitioners), 3)):
                for slot in rng.sample(range(len(SLOTS)), len(SLOTS)):
                    if (d, slot, doctor) not in taken and (d, slot, patient) not in busy:
                        taken.add((d, slot, doctor))
                        busy.add((d, slot, patient))
                        rows.append((uuid.uuid4(), patient, doctors[doctor], d, slot))
                        return True
        return False

    # Full days first, so every size of clinic has them whole.
    full_days: list[tuple[uuid.UUID, date]] = []
    walk_ins: list[uuid.UUID] = []
    chosen = rng.sample(range(first_ahead - NEAR, first_ahead - 1), FULL_DAYS) + rng.sample(
        range(first_ahead + 5, first_ahead + 40), FULL_DAYS
    )
    for d in chosen:
        doctor = rng.randrange(practitioners)
        full_days.append((doctors[doctor], days[d]))
        for slot in range(len(SLOTS)):
            patient = uuid.uuid4()
            walk_ins.append(patient)
            taken.add((d, slot, doctor))
            busy.add((d, slot, patient))
            rows.append((uuid.uuid4(), patient, doctors[doctor], d, slot))

    # The present (the last NEAR working days and the AHEAD ahead) next, the same in every
    # size of clinic: courses under way, a session every EVERY working days, until the
    # diaries are PRESENT_FILL full. Slot search, proposals and the 14-day rule look here, so
    # what they cost is compared between sizes on the same diaries; only the history differs.
    present = first_ahead - NEAR
    room = int(PRESENT_FILL * (NEAR + AHEAD) * per_day)
    room = min(room, sessions - len(rows) - 200 * long_histories)  # a smoke run's tiny clinic
    ongoing: list[tuple[uuid.UUID, int, int]] = []  # patient, usual practitioner, first day
    placed = 0
    while placed < room:
        patient, usual = uuid.uuid4(), rng.randrange(practitioners)
        first = present + rng.randrange(-EVERY, 0)
        for k in range(1, (NEAR + AHEAD) // EVERY + 2):
            day = first + k * EVERY + rng.randrange(-2, 3)
            if present <= day < len(days) and place(patient, usual, day):
                placed += 1
        ongoing.append((patient, usual, first))

    long = [uuid.uuid4() for _ in range(long_histories)]
    for patient in long:
        usual, start = rng.randrange(practitioners), first_ahead - 200 * EVERY
        for k in range(200):
            place(patient, usual, start + k * EVERY + rng.randrange(3))

    # The history, as big as the size asks: first the courses under way reach back (up to
    # `per_patient` sessions each), then courses that ended before the present.
    for patient, usual, first in ongoing:
        for k in range(per_patient - (NEAR + AHEAD) // EVERY):
            if len(rows) >= sessions or not place(patient, usual, first - k * EVERY, present):
                break
    courses: list[uuid.UUID] = []
    while len(rows) < sessions:
        patient = uuid.uuid4()
        courses.append(patient)
        usual = rng.randrange(practitioners)
        start = rng.randrange(0, max(1, present - span // 2))
        for k in range(per_patient):
            day = start + k * EVERY + rng.randrange(-2, 3)
            if not place(patient, usual, day, before=present):
                break
    # Patients seen once, over a year ago: free to book again.
    free = []
    for _ in range(bookable):
        patient = uuid.uuid4()
        usual, start = rng.randrange(practitioners), rng.randrange(0, first_ahead - 300)
        place(patient, usual, start)
        free.append(patient)
    everyone = walk_ins + [p for p, _, _ in ongoing] + long + courses + free
    key = new_api_key()
    _load(database_url, now, (site, rooms), doctors, everyone, rows, days, first_ahead, key)
    beyond = _working_days(ahead[-1] + timedelta(days=30), 200)
    return Clinic(
        api_key=key.secret,
        location=site,
        practitioners=doctors,
        patients=everyone,
        long_histories=long,
        ongoing=[p for p, _, _ in ongoing],
        bookable=free,
        full_days=full_days,
        booking_days=beyond,
        sessions=len(rows),
    )


def _load(
    database_url: str,
    now: datetime,
    place: tuple[uuid.UUID, list[uuid.UUID]],
    doctors: list[uuid.UUID],
    patients: list[uuid.UUID],
    rows: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, int, int]],
    days: list[date],
    first_ahead: int,
    key: NewApiKey,
) -> None:
    risks = "{" + ",".join(f'"{f.value}": false' for f in RiskFactor) + "}"
    site, rooms = place
    room_of = dict(zip(doctors, rooms, strict=True))
    with psycopg.connect(libpq(database_url)) as connection, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO locations (id, name, name_key, address, time_zone, created_at,"
            " updated_at, version) VALUES (%s, 'Bench clinic', 'bench clinic', NULL, %s, %s,"
            " %s, 1)",
            (site, ZONE.key, now, now),
        )
        with cursor.copy(
            "COPY rooms (id, location_id, name, name_key, active, created_at, updated_at,"
            " version) FROM STDIN"
        ) as copy:
            for i, room in enumerate(rooms):
                copy.write_row((room, site, f"Room {i:03d}", f"room {i:03d}", True, now, now, 1))
        with cursor.copy(
            "COPY practitioners (id, name, name_key, active, time_zone, created_at, updated_at,"
            " version) FROM STDIN"
        ) as copy:
            for i, doctor in enumerate(doctors):
                copy.write_row((doctor, f"Dr {i:03d}", f"dr {i:03d}", True, ZONE.key, now, now, 1))
        with cursor.copy(
            "COPY practitioner_availability (id, practitioner_id, weekday, start_time, end_time,"
            " location_id) FROM STDIN"
        ) as copy:
            for doctor in doctors:
                for weekday in range(5):
                    copy.write_row((uuid.uuid4(), doctor, weekday, time(8, 0), time(17, 0), site))
        with cursor.copy(
            "COPY patients (id, given_name, family_name, given_key, family_key, birth_date, sex,"
            " weight_kg, archived, created_at, updated_at, version) FROM STDIN"
        ) as copy:
            for i, patient in enumerate(patients):
                born = date(1950 + i % 50, 1 + i % 12, 1 + i % 28)
                given, family = f"Given{i}", f"Family{i}"
                copy.write_row(
                    (
                        patient,
                        given,
                        family,
                        given.lower(),
                        family.lower(),
                        born,
                        "female",
                        65.0,
                        False,
                        now,
                        now,
                        1,
                    )
                )
        with cursor.copy(
            "COPY patient_identifiers (id, patient_id, system, value) FROM STDIN"
        ) as copy:
            for patient in patients:
                copy.write_row((uuid.uuid4(), patient, "urn:bench:mrn", str(patient)))
        with cursor.copy(
            "COPY patient_weights (id, patient_id, weight_kg, recorded_at) FROM STDIN"
        ) as copy:
            for patient in patients:
                copy.write_row((uuid.uuid4(), patient, 65.0, now - timedelta(days=400)))
        with cursor.copy(
            "COPY evaluations (id, patient_id, practitioner_id, performed_at, spider_vein_sites,"
            " ceap_class, varicose_veins, risk_factors, benefits_and_risks_explained, outcome,"
            " flags, valid_until, created_at) FROM STDIN"
        ) as copy:
            for patient in patients:
                copy.write_row(
                    (
                        uuid.uuid4(),
                        patient,
                        doctors[0],
                        now - timedelta(days=30),
                        '["left-calf", "right-calf"]',
                        "C1",
                        "absent",
                        risks,
                        True,
                        "eligible",
                        "[]",
                        now + timedelta(days=450),
                        now - timedelta(days=30),
                    )
                )
        with cursor.copy(
            "COPY treatment_sessions (id, patient_id, practitioner_id, start_at, end_at,"
            " time_zone, status, created_at, updated_at, version, location_id, room_id)"
            " FROM STDIN"
        ) as copy:
            for session, patient, doctor, day, slot in rows:
                start = datetime.combine(days[day], SLOTS[slot], tzinfo=ZONE).astimezone(UTC)
                status = "fulfilled" if day < first_ahead else "booked"
                copy.write_row(
                    (
                        session,
                        patient,
                        doctor,
                        start,
                        start + LENGTH,
                        ZONE.key,
                        status,
                        now,
                        now,
                        1,
                        site,
                        room_of[doctor],
                    )
                )
        treated = [(uuid.uuid4(), row) for row in rows if row[3] < first_ahead]
        with cursor.copy(
            "COPY completion_records (id, session_id, treated_sites, administered_at,"
            " anaesthetic, compression, complications, aftercare, warnings, recorded_at)"
            " FROM STDIN"
        ) as copy:
            for record, (session, _, _, day, slot) in treated:
                given = datetime.combine(days[day], SLOTS[slot], tzinfo=ZONE).astimezone(UTC)
                copy.write_row(
                    (
                        record,
                        session,
                        '["left-calf"]',
                        given + timedelta(minutes=20),
                        "none",
                        False,
                        "[]",
                        '["walk"]',
                        "[]",
                        given + timedelta(minutes=30),
                    )
                )
        # Each record's one line: 4 mL of 0.5% polidocanol, in 20 injections into the spider
        # veins of the left calf (20 mg).
        with cursor.copy(
            "COPY injection_lines (id, completion_id, position, site, vessel, sclerosant,"
            " concentration_percent, form, volume_ml, count, dose_mg) FROM STDIN"
        ) as copy:
            for record, _ in treated:
                copy.write_row(
                    (
                        uuid.uuid4(),
                        record,
                        0,
                        "left-calf",
                        "telangiectasia",
                        "polidocanol",
                        0.5,
                        "liquid",
                        4.0,
                        20,
                        20.0,
                    )
                )
        cursor.execute(
            "INSERT INTO api_keys (id, name, role, prefix, key_hash, created_at, updated_at,"
            " version) VALUES (%s, 'benchmark front desk', 'receptionist', %s, %s, %s, %s, 1)",
            (uuid.uuid4(), key.prefix, key.key_hash, now, now),
        )
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
