"""The package runs from anywhere, and what is installed is the locked tree.

The wheel is built from this source, installed into a fresh virtual environment, and run from a
temporary directory with no source tree in sight: it migrates a new database and serves.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.servers import ROOT, running_server

LOCKS = {"requirements.lock": (), "requirements-test.lock": ("test",)}
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;]+)\s*(?:;\s*(?P<marker>.+))?$")


def pins(lock: str) -> dict[str, tuple[str, Marker | None]]:
    found = {}
    for line in (ROOT / lock).read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            marker = Marker(match["marker"]) if match["marker"] else None
            found[canonicalize_name(match["name"])] = (match["version"], marker)
    return found


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return [Requirement(spec) for spec in specs]


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_the_lock_pins_every_declared_dependency_within_its_range(lock: str) -> None:
    pinned = pins(lock)
    for requirement in declared(LOCKS[lock]):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock} does not pin {name}: regenerate it (README)"
        version, _ = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside {requirement.specifier} in pyproject.toml"
        )


def test_this_environment_is_the_locked_tree() -> None:
    """The README's and CI's install (`-c requirements-test.lock`) gives exactly the pins."""
    for name, (version, marker) in pins("requirements-test.lock").items():
        if marker is not None and not marker.evaluate():
            continue
        assert metadata.version(name) == version, f"{name} is not the locked {version}"


def test_the_built_wheel_migrates_and_serves_from_any_directory(tmp_path: Path) -> None:
    # Built from a copy: setuptools leaves its build/ directory beside the sources.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    pip = (sys.executable, "-m", "pip")
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels), source],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("sclerosched-*.whl")

    # A fresh venv, its dependencies lent by this one (a path entry, so no editable install
    # of the source comes with them), the wheel installed into it as `pip install` would.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    own_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(own_site, "lent-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [*pip, "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    environ = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    where = subprocess.run(
        [python, "-c", "import app; print(app.__file__)"],
        cwd=elsewhere,
        env=environ,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(own_site), f"the service came from {where}, not the wheel"

    script = venv / "bin" / "sclerosched"
    database_url = f"sqlite:///{elsewhere / 'clinic.db'}"
    migrated = subprocess.run(
        [script, "migrate"],
        cwd=elsewhere,
        env={**environ, "SCLEROSCHED_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
    )
    assert migrated.returncode == 0, migrated.stderr
    with running_server(
        database_url,
        command=(str(script), "serve"),
        cwd=elsewhere,
        environ=environ,
        log=tmp_path / "server.log",
    ) as base:
        assert httpx.get(f"{base}/health/ready").status_code == 200
        assert httpx.get(f"{base}/api/v1/patients").status_code == 401  # a real route
    assert not (elsewhere / "alembic.ini").exists()
