"""The `sclerosched` command: serve, worker, migrate, create-user, create-api-key, seed-demo,
openapi, audit verify."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.config import Settings, SettingsError, configure_logging, load_settings

if TYPE_CHECKING:
    from app.events.worker import Chore

logger = logging.getLogger("sclerosched")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import secrets

    import uvicorn

    from app.main import create_app, ready_to_serve
    from app.migrations import upgrade_to_head
    from app.web.protocol import HeadDeadlineProtocol

    if args.workers > 1 and make_url(settings.database_url).get_backend_name() != "postgresql":
        print(
            "sclerosched: --workers above 1 needs PostgreSQL (SQLite: one process)", file=sys.stderr
        )
        return 2
    upgrade_to_head(settings.migration_url, runtime_url=settings.database_url)
    shown_host = "127.0.0.1" if args.host in {"0.0.0.0", "::"} else args.host  # noqa: S104
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    print(
        f"sclerosched: serving on http://{shown_host}:{args.port}{workers} (docs: /docs)",
        flush=True,
    )
    if args.workers > 1 and settings.secret_key is None:
        # Every worker must sign and check tokens with one key: made here, lent to them all.
        logger.warning("SCLEROSCHED_SECRET_KEY is not set: the workers share a random key")
        os.environ["SCLEROSCHED_SECRET_KEY"] = secrets.token_urlsafe(48)
    HeadDeadlineProtocol.head_seconds = settings.request_head_seconds
    HeadDeadlineProtocol.body_seconds = settings.request_body_seconds
    # The webhook worker in a thread of this process, stopped with the server.
    stop_worker = _embedded_worker(settings) if args.with_worker else None
    try:
        uvicorn.run(
            # Several workers each build the app in their own process, from the same environment.
            "app.main:create_served_app"
            if args.workers > 1
            else ready_to_serve(create_app(settings)),
            factory=args.workers > 1,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level=settings.log_level.lower(),
            log_config=None,  # keep our handler: every line carries the request id
            access_log=False,  # ours leaves out query strings, which may hold names
            # Proxy headers are believed only from SCLEROSCHED_TRUSTED_PROXIES (`app.main`).
            proxy_headers=False,
            server_header=False,  # no banner naming the server and its version to a prober
            # httptools, with a bound on a request's head (nothing unbounded happens before the
            # app's own bounds, `app.web.middleware`), and a head that must come whole within
            # SCLEROSCHED_REQUEST_HEAD_SECONDS (`app.web.protocol`): a client trickling one holds
            # no connection for long.
            http=HeadDeadlineProtocol,
        )
    finally:
        if stop_worker is not None:
            stop_worker()
    return 0


def _embedded_worker(settings: Settings) -> Callable[[], None]:
    """The webhook worker in a thread of the server's process (`serve --with-worker`); the
    answer stops it."""
    import threading

    from app.db import make_engine
    from app.events.worker import Worker
    from app.policy import reminder_mail, webhook_rules

    engine = make_engine(settings.database_url)
    worker = Worker(
        engine=engine,
        rules=webhook_rules(settings),
        mail=reminder_mail(settings),
        chores=[_waitlist_sweep(settings)],
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="webhook-worker", daemon=True)
    thread.start()

    def stopped() -> None:
        stop.set()
        thread.join(timeout=worker.rules.timeout.total_seconds() + 5)
        worker.close()
        engine.dispose()

    return stopped


def _waitlist_sweep(settings: Settings) -> Chore:
    """The worker's waitlist sweep, by the clinic's booking rules (an offer is a hold) and the
    waitlist's."""
    from app.policy import ClinicPolicy
    from app.waitlist.offers import OfferRules, sweep_chore

    policy = ClinicPolicy.from_settings(settings)
    return sweep_chore(OfferRules(booking=policy.booking, waitlist=policy.waitlist))


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    import signal
    import threading

    from app.db import make_engine
    from app.events.worker import Worker
    from app.migrations import upgrade_to_head
    from app.policy import reminder_mail, webhook_rules

    upgrade_to_head(settings.migration_url, runtime_url=settings.database_url)
    engine = make_engine(settings.database_url)
    worker = Worker(
        engine=engine,
        rules=webhook_rules(settings),
        mail=reminder_mail(settings),
        chores=[_waitlist_sweep(settings)],
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print("sclerosched: webhook worker running (stop: Ctrl-C or SIGTERM)", flush=True)
    try:
        if args.once:
            worker.work_once()
        else:
            worker.run(stop)
    finally:
        worker.close()
        engine.dispose()
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from app.migrations import upgrade_to_head

    upgrade_to_head(settings.migration_url, runtime_url=settings.database_url)
    print("sclerosched: database schema is up to date")
    return 0


def _openapi(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from app.main import create_app

    document = json.dumps(create_app(settings).openapi(), indent=2, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(document)
    else:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(document)
    return 0


@contextmanager
def _database(settings: Settings) -> Iterator[Session]:
    """The schema brought up to date, then one transaction, committed if all went well."""
    from app.db import make_engine, make_sessionmaker
    from app.migrations import upgrade_to_head

    upgrade_to_head(settings.migration_url, runtime_url=settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine).begin() as db:
            yield db
    finally:
        engine.dispose()


def _seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from app.auditing import AuditTrail, command_line
    from app.demo import seed_demo_clinic, seed_demo_users
    from app.policy import passwords_of

    if settings.environment == "production":
        # Demo logins with printed passwords, and made-up patients among real ones.
        print(
            "sclerosched: seed-demo is refused in production (SCLEROSCHED_ENVIRONMENT): "
            "it adds made-up patients and demo logins whose passwords it prints",
            file=sys.stderr,
        )
        return 2
    with _database(settings) as db:
        audit = AuditTrail(db, command_line("seed-demo"))
        added = seed_demo_clinic(
            db=db,
            audit=audit,
            time_zone=settings.clinic_time_zone,
            validity_months=settings.evaluation_validity_months,
        )
        logins = seed_demo_users(db=db, audit=audit, passwords=passwords_of(settings))
    print(
        f"sclerosched: demo clinic ready ({added.locations} location(s) with their rooms, "
        f"{added.practitioners} practitioners, "
        f"{added.patients} patients, {added.evaluations} evaluations and {added.consents} "
        "consents added; "
        "existing demo records left as they were)"
    )
    print("Demo logins (press Authorize on /docs to log in):")
    for username, password in logins.items():
        shown = password or "(already there: its password was not changed)"
        print(f"  {username:<20} {shown}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Same password again: ") != password:
        raise _Refused("the two passwords differ")
    return password


class _Refused(Exception):
    """A command that cannot be carried out, with the reason to print."""


def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.password_rules import WeakPassword
    from app.accounts.schemas import UserCreate
    from app.accounts.users import PractitionerLinked, UsernameTaken, create_user
    from app.auditing import AuditTrail, Resource, command_line
    from app.policy import passwords_of
    from app.practitioners.service import UnknownPractitioner

    try:
        data = UserCreate(
            username=args.username,
            password=_read_password(args),
            role=args.role,
            practitioner_id=args.practitioner,
        )
        with _database(settings) as db:
            user = create_user(db=db, data=data, passwords=passwords_of(settings))
            AuditTrail(db, command_line("create-user")).record(
                "create", Resource.USER, user.id, patient_id=None
            )
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"sclerosched: {reasons}", file=sys.stderr)
        return 1
    except (UsernameTaken, PractitionerLinked, UnknownPractitioner, WeakPassword, _Refused) as exc:
        print(f"sclerosched: {exc}", file=sys.stderr)
        return 1
    signs = f", signing as practitioner {user.practitioner_id}" if user.practitioner_id else ""
    print(f"sclerosched: user {user.username} ({user.role}{signs}) created; log in at /docs")
    return 0


def _create_api_key(settings: Settings, args: argparse.Namespace) -> int:
    from app.accounts.api_keys import create_api_key
    from app.accounts.schemas import ApiKeyCreate
    from app.auditing import AuditTrail, Resource, command_line

    try:
        data = ApiKeyCreate(name=args.name, role=args.role)
    except ValidationError as exc:
        print(f"sclerosched: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 1
    with _database(settings) as db:
        created = create_api_key(db=db, data=data)
        AuditTrail(db, command_line("create-api-key")).record(
            "create", Resource.API_KEY, created.record.id, patient_id=None
        )
    print(f"sclerosched: API key {created.record.prefix}... ({data.role}) for {data.name!r}:")
    print(created.secret)
    print("It is shown this once: store it in the integration's secrets now.", file=sys.stderr)
    return 0


def _purge_idempotency_keys(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from app.idempotency import purge

    with _database(settings) as db:
        removed = purge(db=db, now=datetime.now(UTC))
    print(f"sclerosched: {removed} expired Idempotency-Key answers removed")
    return 0


def _verify_audit(settings: Settings, args: argparse.Namespace) -> int:
    from app.audit.chain import verify
    from app.db import make_engine
    from app.migrations import upgrade_to_head

    upgrade_to_head(settings.migration_url, runtime_url=settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            verdict = verify(connection)
    finally:
        engine.dispose()
    if verdict.broken is None:
        print(
            f"sclerosched: the audit trail is whole: {verdict.events} events, each linked to "
            "the one before"
        )
        return 0
    broken = verdict.broken
    event = f" (id {broken.event_id})" if broken.event_id else ""
    print(
        f"sclerosched: the audit trail is broken at event #{broken.seq}{event}: "
        f"{broken.reason}; the {verdict.events} events before it hold",
        file=sys.stderr,
    )
    return 1


def _workers(text: str) -> int:
    count = int(text)
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError("between 1 and 64")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sclerosched",
        description="Micro-sclerotherapy clinic API. Settings come from SCLEROSCHED_* variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="apply pending migrations, then serve the API")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="API processes (default 1; more than 1 on PostgreSQL, one per core)",
    )
    serve.add_argument(
        "--with-worker",
        action="store_true",
        help="also deliver webhooks from this process (one process set-up, e.g. SQLite)",
    )
    serve.set_defaults(handler=_serve)
    worker = commands.add_parser(
        "worker",
        help="deliver webhooks (several may run on PostgreSQL; one on SQLite)",
    )
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.set_defaults(handler=_worker)
    commands.add_parser("migrate", help="apply pending database migrations").set_defaults(
        handler=_migrate
    )
    contract = commands.add_parser("openapi", help="write the OpenAPI document (no database)")
    contract.add_argument("--output", default="-", help="file to write (default: stdout)")
    contract.set_defaults(handler=_openapi)
    from app.roles import Role

    roles = [r.value for r in Role]
    user = commands.add_parser("create-user", help="create a staff account (password prompted)")
    user.add_argument("username")
    user.add_argument("--role", required=True, choices=roles)
    user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user.add_argument(
        "--practitioner",
        metavar="ID",
        help="the practitioner this person is (their id): the name their evaluations and "
        "clearances are signed in",
    )
    user.set_defaults(handler=_create_user)
    key = commands.add_parser("create-api-key", help="create an integration's key (shown once)")
    key.add_argument("--name", required=True, help="which system uses it, e.g. 'Hospital EHR'")
    key.add_argument("--role", default="integration", choices=[r for r in roles if r != Role.ADMIN])
    key.set_defaults(handler=_create_api_key)
    commands.add_parser(
        "purge-idempotency-keys",
        help="remove the answers kept for Idempotency-Keys that have expired",
    ).set_defaults(handler=_purge_idempotency_keys)
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True, metavar="AUDIT_COMMAND"
    )
    audit.add_parser(
        "verify",
        help="walk the audit trail's hash chain and name its first broken link (exit 1)",
    ).set_defaults(handler=_verify_audit)
    commands.add_parser(
        "seed-demo", help="load a small demo clinic and demo logins (safe to run again)"
    ).set_defaults(handler=_seed_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"sclerosched: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        result: int = args.handler(settings, args)
    except OperationalError as exc:
        # The driver's first line says why (refused, no such file, bad password); the SQL and
        # its parameters are left out.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        url = make_url(settings.database_url).render_as_string(hide_password=True)
        print(f"sclerosched: cannot use the database {url}: {reason}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
