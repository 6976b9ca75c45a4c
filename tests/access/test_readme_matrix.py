"""The README's table of roles and permissions is the matrix the service enforces."""

from __future__ import annotations

import re
from pathlib import Path

from app.roles import GRANTS, Permission, Role


def test_the_readme_permission_table_is_the_matrix_the_service_enforces() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Roles and permissions", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    header = next(line for line in section.splitlines() if line.startswith("| permission"))
    names = [cell.strip() for cell in header.strip("|").split("|")]
    columns = {Role(name): i for i, name in enumerate(names) if name in set(Role)}
    assert set(columns) == set(Role)
    table: dict[Permission, set[Role]] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        permission = Permission(re.sub(r"`", "", cells[0]))
        table[permission] = {role for role, i in columns.items() if cells[i] == "✓"}
    assert set(table) == set(Permission)
    for permission, holders in table.items():
        assert holders == {r for r in Role if permission in GRANTS[r]}, permission
