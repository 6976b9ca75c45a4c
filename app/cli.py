"""The `sclerosched` command: serve, migrate, seed-demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from app.config import Settings, SettingsError, configure_logging, load_settings

logger = logging.getLogger("sclerosched")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app
    from app.migrations import upgrade_to_head

    upgrade_to_head(settings.database_url)
    shown_host = "127.0.0.1" if args.host in {"0.0.0.0", "::"} else args.host  # noqa: S104
    print(f"sclerosched: serving on http://{shown_host}:{args.port} (docs: /docs)", flush=True)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep our handler: every line carries the request id
        proxy_headers=True,
    )
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from app.migrations import upgrade_to_head

    upgrade_to_head(settings.database_url)
    print("sclerosched: database schema is up to date")
    return 0


def _seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from app.db import make_engine, make_sessionmaker
    from app.demo import seed_demo_clinic
    from app.migrations import upgrade_to_head

    upgrade_to_head(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            added = seed_demo_clinic(
                session=session,
                time_zone=settings.clinic_time_zone,
                validity_months=settings.evaluation_validity_months,
            )
    finally:
        engine.dispose()
    print(
        f"sclerosched: demo clinic ready ({added.practitioners} practitioners, "
        f"{added.patients} patients and {added.evaluations} evaluations added; "
        "existing demo records left as they were)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sclerosched",
        description="Micro-sclerotherapy clinic API. Settings come from SCLEROSCHED_* variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="apply pending migrations, then serve the API")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.set_defaults(handler=_serve)
    commands.add_parser("migrate", help="apply pending database migrations").set_defaults(
        handler=_migrate
    )
    commands.add_parser(
        "seed-demo", help="load a small demo clinic (safe to run again)"
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
    result: int = args.handler(settings, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
