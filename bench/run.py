"""Load benchmark: slot search, follow-up proposals and booking against a running server.

Seeds a clinic (default 10,000 patients, 200,000 sessions, 20 practitioners) into a fresh
database, starts `sclerosched serve` on it, and reports requests per second and p50/p99
latency per endpoint, from concurrent clients on this machine.

    python bench/run.py                                   # PostgreSQL database "bench"
    python bench/run.py --database-url sqlite:///bench.db --patients 1000 --sessions 20000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.access.credentials import new_api_key  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.evaluations.rules import RiskFactor  # noqa: E402
from app.migrations import upgrade_to_head  # noqa: E402
from app.models import (  # noqa: E402
    ApiKey,
    Base,
    Evaluation,
    Patient,
    PatientIdentifier,
    Practitioner,
    TreatmentSession,
    WeeklyAvailability,
)
from app.roles import Role  # noqa: E402
from tests.servers import running_server  # noqa: E402

ZONE = "Europe/Paris"
SLOTS_PER_DAY = 12  # 08:00-17:00 in 45-minute sessions
DURATION = timedelta(minutes=45)


def reset(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    upgrade_to_head(database_url)


def _working_days(first: date, step: int, count: int) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=step)
    return days


def seed(database_url: str, *, patients: int, sessions: int, practitioners: int) -> dict[str, Any]:
    """Bulk-load the clinic. Past sessions are fulfilled; the second half of the patients has
    nothing booked ahead, so the booking benchmark can book them."""
    engine = make_engine(database_url)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    zone = ZoneInfo(ZONE)
    doctor_ids = [uuid.uuid4() for _ in range(practitioners)]
    patient_ids = [uuid.uuid4() for _ in range(patients)]
    with engine.begin() as connection:
        connection.execute(
            insert(Practitioner),
            [
                {
                    "id": pid,
                    "name": f"Dr {i:03d}",
                    "name_key": f"dr {i:03d}",
                    "active": True,
                    "time_zone": ZONE,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for i, pid in enumerate(doctor_ids)
            ],
        )
        connection.execute(
            insert(WeeklyAvailability),
            [
                {
                    "id": uuid.uuid4(),
                    "practitioner_id": pid,
                    "weekday": day,
                    "start_time": datetime.strptime("08:00", "%H:%M").time(),
                    "end_time": datetime.strptime("17:00", "%H:%M").time(),
                }
                for pid in doctor_ids
                for day in range(5)
            ],
        )
        for chunk in range(0, patients, 5000):
            ids = patient_ids[chunk : chunk + 5000]
            connection.execute(
                insert(Patient),
                [
                    {
                        "id": pid,
                        "given_name": f"Given{chunk + i}",
                        "family_name": f"Family{chunk + i}",
                        "given_key": f"given{chunk + i}",
                        "family_key": f"family{chunk + i}",
                        "birth_date": date(
                            1960 + (chunk + i) % 40, 1 + (chunk + i) % 12, 1 + (chunk + i) % 28
                        ),
                        "sex": "female",
                        "weight_kg": 65.0,
                        "archived": False,
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                    for i, pid in enumerate(ids)
                ],
            )
            connection.execute(
                insert(PatientIdentifier),
                [
                    {
                        "id": uuid.uuid4(),
                        "patient_id": pid,
                        "system": "urn:bench:mrn",
                        "value": str(pid),
                    }
                    for pid in ids
                ],
            )
            connection.execute(
                insert(Evaluation),
                [
                    {
                        "id": uuid.uuid4(),
                        "patient_id": pid,
                        "practitioner_id": doctor_ids[0],
                        "performed_at": now - timedelta(days=30),
                        "spider_vein_sites": ["left-calf"],
                        "ceap_class": "C1",
                        "varicose_veins": "absent",
                        "varicose_treatment_kind": None,
                        "varicose_treatment_completed_on": None,
                        "risk_factors": {f.value: False for f in RiskFactor},
                        "benefits_and_risks_explained": True,
                        "patient_expectations": None,
                        "notes": None,
                        "weight_kg": None,
                        "outcome": "eligible",
                        "flags": [],
                        "valid_until": now + timedelta(days=335),
                        "created_at": now,
                    }
                    for pid in ids
                ],
            )
        # The past is fully booked and fulfilled; ahead, 10% of the sessions fill a third of
        # the slots, as in a clinic whose diary is partly taken.
        future_count = sessions // 10
        per_day = practitioners * SLOTS_PER_DAY
        past_days = -(-(sessions - future_count) // per_day)
        today = now.astimezone(zone).date()
        days = _working_days(today - timedelta(days=1), -1, past_days)[::-1]
        days += _working_days(today + timedelta(days=1), 1, -(-future_count * 3 // per_day) + 1)
        rows = []
        booked_patients = patient_ids[: patients // 2]
        made = 0
        for the_day in days:
            ahead = the_day > today
            for index in range(SLOTS_PER_DAY):
                if made >= sessions or (ahead and index % 3):
                    continue
                start = datetime.combine(the_day, datetime.min.time(), tzinfo=zone) + timedelta(
                    hours=8, minutes=45 * index
                )
                for doctor in range(practitioners):
                    if made >= sessions:
                        break
                    # In turn, so every booked patient has a history (about a visit a month
                    # at the default sizes) and, at one time, the practitioners see different
                    # patients.
                    patient = booked_patients[made % len(booked_patients)]
                    rows.append(
                        {
                            "id": uuid.uuid4(),
                            "patient_id": patient,
                            "practitioner_id": doctor_ids[doctor],
                            "plan_id": None,
                            "start_at": start.astimezone(UTC),
                            "end_at": (start + DURATION).astimezone(UTC),
                            "time_zone": ZONE,
                            "status": "booked" if ahead else "fulfilled",
                            "cancel_reason": None,
                            "created_at": now,
                            "updated_at": now,
                            "version": 1,
                        }
                    )
                    made += 1
                if len(rows) >= 10000:
                    connection.execute(insert(TreatmentSession), rows)
                    rows = []
        if rows:
            connection.execute(insert(TreatmentSession), rows)
        # The front desk's credential: a receptionist may search, propose and book.
        key = new_api_key()
        connection.execute(
            insert(ApiKey),
            [
                {
                    "id": uuid.uuid4(),
                    "name": "benchmark front desk",
                    "role": Role.RECEPTIONIST,
                    "prefix": key.prefix,
                    "key_hash": key.key_hash,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            ],
        )
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    engine.dispose()
    return {
        "practitioners": doctor_ids,
        "free_patients": patient_ids[patients // 2 :],
        "headers": {"Authorization": f"Bearer {key.secret}"},
    }


def measure(
    name: str,
    calls: list[Callable[[httpx.Client], httpx.Response]],
    base: str,
    concurrency: int,
    headers: dict[str, str],
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    queue = list(calls)

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=60, headers=headers) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    call = queue.pop()
                began = time.perf_counter()
                response = call(http)
                elapsed = time.perf_counter() - began
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status_code] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    latencies.sort()
    return {
        "endpoint": name,
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "statuses": dict(statuses),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench"
    )
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--practitioners", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400, help="per endpoint")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)

    random.seed(7)
    began = time.perf_counter()
    reset(args.database_url)
    clinic = seed(
        args.database_url,
        patients=args.patients,
        sessions=args.sessions,
        practitioners=args.practitioners,
    )
    print(
        f"seeded {args.patients} patients, {args.sessions} sessions, "
        f"{args.practitioners} practitioners in {time.perf_counter() - began:.1f}s",
        flush=True,
    )

    doctors = [str(d) for d in clinic["practitioners"]]
    headers = clinic["headers"]
    free_patients = [str(p) for p in clinic["free_patients"]]
    today = datetime.now(UTC)
    results = []
    with running_server(args.database_url, clinic_time_zone=ZONE) as base:

        def slots(http: httpx.Client) -> httpx.Response:
            start = today + timedelta(days=random.randint(1, 60))
            return http.get(
                f"/api/v1/practitioners/{random.choice(doctors)}/slots",
                params={"from": start.isoformat(), "to": (start + timedelta(days=7)).isoformat()},
            )

        def proposals(http: httpx.Client) -> httpx.Response:
            earliest = (today + timedelta(days=random.randint(1, 30))).date().isoformat()
            return http.post(
                "/api/v1/scheduling/proposals",
                json={
                    "patient_id": random.choice(free_patients),
                    "practitioner_id": random.choice(doctors),
                    "sessions": 3,
                    "earliest": earliest,
                },
            )

        results.append(
            measure("GET slots (7 days)", [slots] * args.requests, base, args.concurrency, headers)
        )
        results.append(
            measure(
                "POST proposals (3 visits)",
                [proposals] * args.requests,
                base,
                args.concurrency,
                headers,
            )
        )

        # Booking: distinct free patients on free slots found beforehand (so most succeed).
        targets = []
        with httpx.Client(base_url=base, timeout=60, headers=headers) as http:
            for doctor in doctors:
                start = today + timedelta(days=70)
                found = http.get(
                    f"/api/v1/practitioners/{doctor}/slots",
                    params={
                        "from": start.isoformat(),
                        "to": (start + timedelta(days=28)).isoformat(),
                    },
                ).json()
                # Slots 45 minutes apart, so bookings do not overlap one another.
                targets += [(doctor, s["start"]) for s in found["slots"][::3]]
        random.shuffle(targets)
        count = min(args.requests, len(targets), len(free_patients))
        calls = [
            (
                lambda http, d=d, s=s, p=p: http.post(
                    "/api/v1/sessions", json={"patient_id": p, "practitioner_id": d, "start": s}
                )
            )
            for (d, s), p in zip(targets[:count], free_patients[:count], strict=True)
        ]
        results.append(measure("POST sessions (booking)", calls, base, args.concurrency, headers))

    print(f"\n{'endpoint':<28}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for r in results:
        figures = f"{r['requests']:>9}{r['rps']:>9.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
        print(f"{r['endpoint']:<28}{figures}  {r['statuses']}")
    failures = sum(n for r in results for status, n in r["statuses"].items() if status >= 500)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
