"""Sessions people run: tests (all lanes, or the fast one), lint, typecheck, build, report,
render_quarto, site, bench, lock.

Each session installs the locked versions (``requirements.lock``, made by ``uv pip compile
pyproject.toml --extra dev --universal``) and then the project itself without resolving again,
so a rebuild next year installs what made today's outputs. Refresh the lock with
``nox -s lock`` when pyproject.toml's dependencies change.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_venv = "yes"
# uv installs the locked versions in seconds where it is present (.ci/run installs it); pip
# otherwise.
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = False

PYTHON = "3.11"
QUARTO_VERSION = "1.7.34"
QUARTO_SETUP = Path("../shared/tools/quarto/setup.sh")


LOCK = "requirements.lock"


def _install(session: nox.Session) -> None:
    session.install("-r", LOCK)
    session.install("--no-deps", "-e", ".")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run every test lane: unit, realdata (reads ../shared/data/raw) and render."""
    _install(session)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def fast(session: nox.Session) -> None:
    """Run the unit lane only: no raw archive, under a minute."""
    _install(session)
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session(python=PYTHON, default=False)
def lock(session: nox.Session) -> None:
    """Re-resolve requirements.lock from pyproject.toml (needs the package index)."""
    session.install("uv")
    session.run(
        "uv",
        "pip",
        "compile",
        "pyproject.toml",
        "--extra",
        "dev",
        "--universal",
        "--python-version",
        PYTHON,
        "-o",
        LOCK,
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check style and common bugs with ruff, and the layers with import-linter."""
    _install(session)
    paths = ("sendstats", "tests", "benchmarks", "scripts", "noxfile.py")
    session.run("ruff", "check", *paths, *session.posargs)
    session.run("ruff", "format", "--check", *paths)
    session.run("lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Type-check the package with mypy (strict)."""
    _install(session)
    session.run("mypy", *session.posargs)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Fetch pinned raw files and build tidy and metric tables (posargs go to `sendstats build`)."""
    _install(session)
    session.run("sendstats", "build", *session.posargs)


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """Render one LA profile: `nox -s report -- --la Leeds` (posargs go to `sendstats report`)."""
    _install(session)
    args = session.posargs or ["--la", "Leeds"]
    session.run("sendstats", "report", *args)


@nox.session(python=PYTHON, default=False)
def render_quarto(session: nox.Session) -> None:
    """Run the render tests with real Quarto 1.7.34 (installed by ../shared/tools/quarto)."""
    _install(session)
    if not QUARTO_SETUP.is_file():
        session.error(f"{QUARTO_SETUP} not found: the Quarto toolchain must sit beside the repo")
    # setup.sh caches its install (about 20 s the first time, 0.1 s after); its default folder.
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    install_dir = cache / f"sendstats-quarto-{QUARTO_VERSION}"
    session.run("bash", str(QUARTO_SETUP), str(install_dir), external=True)
    quarto_bin = install_dir / "bin"
    session.env["PATH"] = os.pathsep.join([str(quarto_bin), session.bin, os.environ["PATH"]])
    # Quarto's kernel and `-P` parameters need this venv's jupyter, ipykernel and papermill.
    session.env["QUARTO_PYTHON"] = str(Path(session.bin) / "python")
    session.run(str(quarto_bin / "quarto"), "--version", external=True)
    args = session.posargs or ["tests/render"]
    session.run("pytest", *args)


@nox.session(python=PYTHON, default=False)
def site(session: nox.Session) -> None:
    """Render every LA profile and the site pages into _site (posargs go to `report --all`)."""
    _install(session)
    session.run("sendstats", "report", "--all", *session.posargs)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Measure build and render speed and memory on the real raw archive (slow)."""
    _install(session)
    if not os.path.exists("benchmarks/run.py"):
        session.skip("no benchmarks yet")
    session.run("python", "benchmarks/run.py", *session.posargs)
