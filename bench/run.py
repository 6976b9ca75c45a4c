"""The load benchmark: each endpoint beside the least work it must do, measured in one run.

For each size of clinic (default 10,000 and 1,000,000 sessions), it seeds a fresh PostgreSQL
database (`seed.py`), starts sclerosched (one process, API key auth, audit on) and the
minimal reference apps (`references/`) on it, and drives each pair with wrk, interleaved round
by round (this machine is shared and noisy, so only a ratio measured in one run means much).
It prints requests per second, p50/p99 latency and the server's CPU time per request, the
ratio of sclerosched to its reference, how each endpoint scales from the smallest clinic to
the largest, and the throughput of `sclerosched serve --workers 2` against one.

    createdb bench   # once; the benchmark owns this database and resets it
    .venv/bin/python bench/run.py                      # 10k and 1M sessions (about 20 minutes)
    .venv/bin/python bench/run.py --sizes 10000 --rounds 3 --seconds 5
    .venv/bin/python bench/run.py --smoke              # a few seconds: does it still run?
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.load import Figures, Server, run_wrk, starting, write_requests  # noqa: E402
from bench.seed import SLOTS, ZONE, Clinic, libpq, seed  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
POOL = 16  # connections per server process (the references' pools too)


@dataclass
class Pair:
    """An endpoint of sclerosched and its reference, with the requests both are sent."""

    name: str
    app_requests: Path
    ref_requests: Path | None
    ref: str | None  # which reference app
    connections: int = 32
    reset: Callable[[], None] | None = None  # before every round: bookings undone


@dataclass
class Measured:
    name: str
    size: int
    app: list[Figures] = field(default_factory=list)
    ref: list[Figures] = field(default_factory=list)

    @staticmethod
    def median(runs: list[Figures]) -> Figures | None:
        if not runs:
            return None
        return Figures(
            requests=sum(r.requests for r in runs),
            rps=statistics.median(r.rps for r in runs),
            p50_ms=statistics.median(r.p50_ms for r in runs),
            p99_ms=statistics.median(r.p99_ms for r in runs),
            errors=sum(r.errors for r in runs),
            cpu_ms=statistics.median(r.cpu_ms for r in runs),
        )


def _requests(clinic: Clinic, rng: random.Random) -> dict[str, list[str]]:
    """Each endpoint's requests, as lines for wrk."""
    patients = rng.sample(clinic.patients, min(2000, len(clinic.patients)))
    past = [(d, day) for d, day in clinic.full_days if day < datetime.now(UTC).date()]
    ahead = [(d, day) for d, day in clinic.full_days if day >= datetime.now(UTC).date()]

    def day_query(practitioner: uuid.UUID, day: date) -> str:
        start = datetime.combine(day, datetime.min.time(), tzinfo=ZONE)
        window = (
            f"from={quote(start.isoformat())}&to={quote((start + timedelta(days=1)).isoformat())}"
        )
        return f"GET\t/api/v1/sessions?practitioner_id={practitioner}&{window}"

    asked = clinic.ongoing[:1000] + clinic.long_histories
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    proposals = [
        "POST\t/api/v1/scheduling/proposals\t"
        + json.dumps(
            {
                "patient_id": str(p),
                "sessions": 3,
                "earliest": (tomorrow + timedelta(days=rng.randrange(20))).isoformat(),
            }
        )
        for p in rng.sample(asked, len(asked))
    ]

    def find(patient: uuid.UUID) -> str:
        first = tomorrow + timedelta(days=rng.randrange(20))
        window = [
            {"name": "start", "valueDate": first.isoformat()},
            {"name": "end", "valueDate": (first + timedelta(days=70)).isoformat()},
            {"name": "patient", "valueReference": {"reference": f"Patient/{patient}"}},
        ]
        body = {"resourceType": "Parameters", "parameter": window}
        return "POST\t/fhir/R4/Appointment/$find\t" + json.dumps(body)

    def free_slots(practitioner: uuid.UUID) -> str:
        first = datetime.combine(
            tomorrow + timedelta(days=rng.randrange(20)), datetime.min.time(), tzinfo=ZONE
        )
        window = (
            f"from={quote(first.isoformat())}&to={quote((first + timedelta(days=7)).isoformat())}"
        )
        return f"GET\t/api/v1/practitioners/{practitioner}/slots?{window}"

    return {
        "hello": ["GET\t/hello"],
        "live": ["GET\t/health/live"],
        "read": [f"GET\t/api/v1/patients/{p}" for p in patients],
        "fhir read": [f"GET\t/fhir/R4/Patient/{p}" for p in patients],
        "fhir find": [find(p) for p in rng.sample(asked, len(asked))],
        "day past": [day_query(d, day) for d, day in past],
        "day ahead": [day_query(d, day) for d, day in ahead],
        "proposals": proposals,
        "free slots": [free_slots(rng.choice(clinic.practitioners)) for _ in range(1000)],
        "long history": [p for p in proposals if any(str(h) in p for h in clinic.long_histories)],
        "booking": _bookings(clinic),
    }


def _bookings(clinic: Clinic) -> list[str]:
    """Distinct free slots well ahead, each for a patient with nothing booked near it: the
    same patient comes back three weeks later, on another day."""
    lines, doctors, per_day = [], clinic.practitioners, len(clinic.practitioners) * len(SLOTS)
    patients = clinic.bookable
    for visit in range(len(clinic.booking_days) // 16):
        for index, patient in enumerate(patients):
            day = clinic.booking_days[visit * 15 + index // per_day]
            spot = index % per_day
            start = datetime.combine(day, SLOTS[spot // len(doctors)], tzinfo=ZONE)
            body = {
                "patient_id": str(patient),
                "practitioner_id": str(doctors[spot % len(doctors)]),
                "start": start.isoformat(),
            }
            lines.append("POST\t/api/v1/sessions\t" + json.dumps(body))
    return lines


def _undo_bookings(database_url: str, clinic: Clinic) -> Callable[[], None]:
    first = datetime.combine(clinic.booking_days[0], datetime.min.time(), tzinfo=ZONE)

    def undo() -> None:
        with psycopg.connect(libpq(database_url), autocommit=True) as connection:
            with connection.transaction():
                # The trail is append-only (a trigger); the benchmark owns this database.
                connection.execute("SET LOCAL session_replication_role = replica")
                connection.execute(
                    "DELETE FROM session_events WHERE session_id IN"
                    " (SELECT id FROM treatment_sessions WHERE start_at >= %s)",
                    (first,),
                )
                connection.execute("DELETE FROM treatment_sessions WHERE start_at >= %s", (first,))
                # The chain's head goes on from its last link (a bench trail is not verified).
                connection.execute("DELETE FROM audit_events")
            connection.execute(
                "VACUUM ANALYZE treatment_sessions, session_events, audit_events, audit_chain_head"
            )

    return undo


@contextmanager
def servers(
    database_url: str, log: Path, *, workers: int = 1, pool: int = POOL
) -> Iterator[dict[str, Server]]:
    env = {
        "SCLEROSCHED_DATABASE_URL": database_url,
        "SCLEROSCHED_LOG_LEVEL": "WARNING",
        "SCLEROSCHED_DATABASE_POOL_SIZE": str(pool),
        "SCLEROSCHED_CLINIC_TIME_ZONE": ZONE.key,
        "BENCH_PGURL": libpq(database_url),
        "BENCH_POOL_SIZE": str(pool),
    }
    app = [sys.executable, "-m", "app.cli", "serve", "--workers", str(workers)]
    refs = {
        "hello": "bench.references.hello:app",
        "read": "bench.references.read:app",
        "day": "bench.references.daylist:app",
        "booking": "bench.references.booking:app",
    }
    uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
    with ExitStack() as stack:
        # All started at once, then each waited for: a start is seconds of importing.
        ready = {"app": stack.enter_context(starting(app, env=env, probe="/health/ready", log=log))}
        if workers == 1:
            for name, target in refs.items():
                ready[name] = stack.enter_context(
                    starting([*uvicorn, target], env=env, probe="/docs", log=log)
                )
        yield {name: wait() for name, wait in ready.items()}


def measure(
    pairs: list[Pair],
    running: dict[str, Server],
    clinic: Clinic,
    size: int,
    *,
    rounds: int,
    seconds: float,
) -> list[Measured]:
    results = []
    for pair in pairs:
        measured = Measured(pair.name, size)
        for _ in range(rounds):
            runs: list[tuple[str, Path, list[Figures]]] = [("app", pair.app_requests, measured.app)]
            if pair.ref in running and pair.ref_requests is not None:
                runs.append((pair.ref, pair.ref_requests, measured.ref))
            for who, requests, into in runs:
                if pair.reset:
                    pair.reset()
                server = running[who]
                into.append(
                    run_wrk(
                        server.base,
                        requests,
                        pid=server.pid,
                        connections=pair.connections,
                        seconds=seconds,
                        authorization=clinic.authorization if who != "hello" else None,
                    )
                )
        results.append(measured)
        print(f"  {pair.name}: sclerosched {Measured.median(measured.app)}", flush=True)
        if measured.ref:
            print(f"  {' ' * len(pair.name)}  reference   {Measured.median(measured.ref)}")
    return results


def report(results: list[Measured], workers: dict[int, float]) -> None:
    print("\nsclerosched beside its references (medians of the rounds; ratio: of req/s)")
    header = f"{'endpoint':<26}{'sessions':>10}{'req/s':>8}{'p99 ms':>8}{'CPU ms':>8}"
    print(header + f"{'ref req/s':>10}{'ref p99':>8}{'ref CPU':>8}{'ratio':>7}  not 2xx")
    for m in results:
        app, ref = Measured.median(m.app), Measured.median(m.ref)
        assert app is not None
        line = f"{m.name:<26}{m.size:>10,}{app.rps:>8.0f}{app.p99_ms:>8.1f}{app.cpu_ms:>8.2f}"
        if ref is not None:
            line += f"{ref.rps:>10.0f}{ref.p99_ms:>8.1f}{ref.cpu_ms:>8.2f}{app.rps / ref.rps:>7.0%}"
        else:
            line += " " * 33
        print(f"{line}  {app.errors}{'/' + str(ref.errors) if ref else ''}")
    sizes = sorted({m.size for m in results})
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\nscaling: CPU time per request at {large:,} sessions against {small:,}; beside")
        print("it its reference's (the hello app's where it has none), measured in the same")
        print("rounds: the machine's own drift between the two sizes. Net: the one over the other.")

        def cpu(name: str, size: int, reference: bool) -> float | None:
            for m in results:
                if m.name == name and m.size == size:
                    figures = Measured.median(m.ref if reference else m.app)
                    return figures.cpu_ms if figures else None
            return None

        hello = "framework (hello)"
        for name in dict.fromkeys(m.name for m in results):
            own = cpu(name, large, False) / cpu(name, small, False)  # type: ignore[operator]
            ref_large, ref_small = cpu(name, large, True), cpu(name, small, True)
            if ref_large is None or ref_small is None:
                ref_large, ref_small = cpu(hello, large, True), cpu(hello, small, True)
            if ref_large is None or ref_small is None:
                print(f"  {name:<26}{own:>6.2f}x")
                continue
            drift = ref_large / ref_small
            print(f"  {name:<26}{own:>6.2f}x  reference {drift:>5.2f}x  net {own / drift:>5.2f}x")
    if workers:
        one, two = workers.get(1), workers.get(2)
        if one and two:
            print(f"\npatient read, 2 workers against 1: {two:.0f} against {one:.0f} req/s", end="")
            print(f" ({two / one:.2f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--sizes", default="10000,1000000", help="sessions, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--smoke", action="store_true", help="a tiny clinic, one short round")
    args = parser.parse_args(argv)
    # A smoke run measures nothing: small pools keep its five servers (each up to `pool`
    # connections) well inside a server's 100, beside a test suite's own.
    pool = 4 if args.smoke else POOL
    if args.smoke:
        args.sizes, args.rounds, args.seconds = "3000", 1, 1
    rng = random.Random(7)
    log = Path(tempfile.mkdtemp(prefix="sclerosched-bench-")) / "servers.log"
    results: list[Measured] = []
    workers: dict[int, float] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        clinic = seed(args.database_url, sessions=size)
        print(f"\n{clinic.sessions:,} sessions, {len(clinic.patients):,} patients", flush=True)
        files = {name: write_requests(lines) for name, lines in _requests(clinic, rng).items()}
        undo = _undo_bookings(args.database_url, clinic)
        pairs = [
            Pair("framework (hello)", files["live"], files["hello"], "hello"),
            Pair("patient read", files["read"], files["read"], "read"),
            Pair("day list (past)", files["day past"], files["day past"], "day"),
            Pair("day list (ahead)", files["day ahead"], files["day ahead"], "day"),
            Pair("booking", files["booking"], files["booking"], "booking", reset=undo),
            Pair("proposals, c8", files["proposals"], None, None, connections=8),
            # A practitioner's free slots over a week: a free room needed too.
            Pair("free slots (week), c8", files["free slots"], None, None, connections=8),
            Pair("proposals, 200 past, c8", files["long history"], None, None, connections=8),
            # The FHIR interface: a patient read does the REST read's work (its reference is
            # the same); `$find` the proposals' work.
            Pair("FHIR patient read", files["fhir read"], files["read"], "read"),
            Pair("FHIR $find, c8", files["fhir find"], None, None, connections=8),
        ]
        with servers(args.database_url, log, pool=pool) as running:
            results += measure(
                pairs, running, clinic, size, rounds=args.rounds, seconds=args.seconds
            )
        undo()
        if size == max(int(s) for s in args.sizes.split(",")):
            read = [p for p in pairs if p.name == "patient read"]
            for count in (1, 2):
                with servers(args.database_url, log, workers=count, pool=pool) as running:
                    # Every worker up and warm first: the probe that starts measuring hears
                    # from one of them, and another may still be starting (on a busy machine,
                    # longer than a smoke run's one second).
                    app = running["app"]
                    run_wrk(
                        app.base,
                        read[0].app_requests,
                        pid=app.pid,
                        connections=read[0].connections,
                        seconds=max(args.seconds, 3),
                        authorization=clinic.authorization,
                    )
                    figures = measure(
                        read, running, clinic, size, rounds=args.rounds, seconds=args.seconds
                    )[0]
                workers[count] = Measured.median(figures.app).rps  # type: ignore[union-attr]
                undo()
    report(results, workers)
    print(f"\nserver logs: {log}")
    failures = sum(Measured.median(m.app).errors for m in results if "booking" not in m.name)  # type: ignore[union-attr]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
