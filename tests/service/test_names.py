"""One word, one meaning: `db` is the database handle, "session" the clinic's treatment session."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def _functions() -> list[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found = []
    for path in APP.rglob("*.py"):
        if "versions" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        found += [
            (path, node)
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
    return found


def test_the_database_handle_is_called_db() -> None:
    seen = 0
    for path, function in _functions():
        arguments = function.args.args + function.args.kwonlyargs
        for argument in arguments:
            annotation = ast.unparse(argument.annotation) if argument.annotation else ""
            if annotation in {"Session", "Db", "ReadDb"}:
                seen += 1
                where = f"{path.relative_to(APP.parent)}:{function.lineno} {function.name}"
                assert argument.arg == "db", f"{where} names its database handle {argument.arg!r}"
    assert seen > 50, "the walk found too few database handles: has the annotation changed?"


def test_no_call_passes_session_as_session() -> None:
    for path in APP.rglob("*.py"):
        assert "session=session" not in path.read_text(), path
