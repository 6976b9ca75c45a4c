"""The house keeps its layers: no web framework in the services or the pure core, no database in
the pure core, and no router leaning on another router. Read from the imports themselves."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"

WEB = ("fastapi", "starlette", "fastapi_offline", "uvicorn")
# The pure core: rules and arithmetic, tested exhaustively, with no I/O of any kind.
PURE = {
    "app/roles.py",
    "app/policy.py",
    "app/evaluations/rules.py",
    "app/evaluations/ceap.py",
    "app/practitioners/hours.py",
    "app/scheduling/slots.py",
    "app/scheduling/proposals.py",
    "app/sessions/dosing.py",
    "app/calendar_feeds/ics.py",
    "app/waitlist/matching.py",
}
STORAGE = ("sqlalchemy", "psycopg", "alembic", "app.models", "app.db")


def _modules() -> dict[str, set[str]]:
    """Each module of the app, and every module it imports (at any depth of the file)."""
    found: dict[str, set[str]] = {}
    for path in sorted(APP.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        found[path.relative_to(APP.parent).as_posix()] = imported
    return found


def _uses(imported: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in imported if any(m == p or m.startswith(p + ".") for p in prefixes))


def _is_http_side(module: str) -> bool:
    return (
        module.startswith("app/web/")
        or module.endswith("/router.py")
        # An interface's own HTTP machinery, beside its routers (the FHIR interface's).
        or module.endswith("/http.py")
        or module in {"app/main.py", "app/cli.py"}
    )


def test_only_the_http_side_imports_the_web_framework() -> None:
    offenders = {
        module: _uses(imported, WEB)
        for module, imported in _modules().items()
        if not _is_http_side(module) and _uses(imported, WEB)
    }
    assert offenders == {}


def test_the_pure_core_does_no_io() -> None:
    modules = _modules()
    assert set(modules) >= PURE, "a pure module moved: update PURE"
    offenders = {
        m: _uses(modules[m], (*WEB, *STORAGE)) for m in PURE if _uses(modules[m], (*WEB, *STORAGE))
    }
    assert offenders == {}


def test_no_router_imports_another_router() -> None:
    offenders = {
        module: sorted(
            m
            for m in imported
            if m.endswith(".router") and not module.startswith(m.replace(".", "/"))
        )
        for module, imported in _modules().items()
        if module.endswith("/router.py")
    }
    assert {m: found for m, found in offenders.items() if found} == {}


def test_the_checks_see_a_violation() -> None:
    """The walk itself works: it finds what a router imports."""
    modules = _modules()
    assert _uses(modules["app/sessions/router.py"], WEB)
    assert not _is_http_side("app/sessions/booking.py")


TESTS = APP.parent / "tests"
SHARED = {"__init__.py", "conftest.py", "factories.py", "routes.py", "servers.py"}


def test_the_tests_mirror_the_packages() -> None:
    """A test module lives in the folder of what it tests (tests/sessions/, ...), never loose
    in tests/, and no test file grows past about 400 lines."""
    loose = [p.name for p in TESTS.glob("*.py") if p.name not in SHARED]
    assert loose == [], f"move these into a package's folder: {loose}"
    for path in TESTS.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= 420, f"{path.relative_to(TESTS)} has {lines} lines: split it by topic"
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    packages = {p.name for p in APP.iterdir() if (p / "__init__.py").exists()}
    # models and migrations are tested in tests/service (migrations), health in tests/web
    assert packages - {"models", "migrations", "health"} <= folders
