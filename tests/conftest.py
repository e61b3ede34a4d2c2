"""Shared fixtures: the raw archive of real published files, and an isolated data directory."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# No per-example deadline: speed is measured by the benchmarks (`nox -s bench`), never by
# timed tests, and on a loaded 2-core machine a polars call can outlast hypothesis' default
# 200 ms, failing a correct property test at random.
settings.register_profile("sendstats", deadline=None)
settings.load_profile("sendstats")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = REPO.parent / "shared" / "data" / "raw"


def _archive_path() -> Path:
    env = os.environ.get("SENDSTATS_TEST_ARCHIVE")
    return Path(env) if env else DEFAULT_ARCHIVE


@pytest.fixture(scope="session")
def raw_archive() -> Path:
    """The raw archive of real files (../shared/data/raw); missing is a failure under CI."""
    path = _archive_path()
    if not (path / "MANIFEST.csv").is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"raw archive not found at {path}: CI must have ../shared beside the repo")
        pytest.skip(f"raw archive not found at {path}")
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty, isolated SENDSTATS_DATA_DIR for one test."""
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("SENDSTATS_DATA_DIR", str(d))
    yield d


@pytest.fixture(scope="session")
def session_build(raw_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """One full offline build for the whole session: its data folder and its build report.

    Tests never use it in place: each user copies the folder first (``shutil.copytree``), so
    a test that deletes or corrupts outputs cannot disturb another, and the build runs once.
    """
    from sendstats.pipeline import build

    data = tmp_path_factory.mktemp("session-build") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SENDSTATS_DATA_DIR", str(data))
        mp.setenv("SENDSTATS_ARCHIVE", str(raw_archive))
        report = build.build(offline=True, progress=False)
    return data, report


@pytest.fixture(scope="module")
def built_root(
    raw_archive: Path, session_build: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A folder whose ``data/`` holds a full offline build; the env points at it for the module."""
    root = tmp_path_factory.mktemp("built")
    shutil.copytree(session_build[0], root / "data", symlinks=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("SENDSTATS_DATA_DIR", str(root / "data"))
    mp.setenv("SENDSTATS_ARCHIVE", str(raw_archive))
    yield root
    mp.undo()


@pytest.fixture(scope="session")
def ons_workbooks(
    raw_archive: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Path]:
    """The pinned ONS workbooks resolved from the archive, handed to the population reader.

    The build hands a source its paths; tests that call the population functions directly
    get the same through this fixture (sources never fetch).
    """
    from sendstats.acquire import fetch
    from sendstats.sources import ons_population

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SENDSTATS_ARCHIVE", str(raw_archive))
        mp.setenv("SENDSTATS_DATA_DIR", str(tmp_path_factory.mktemp("ons")))
        mp.setenv("SENDSTATS_OFFLINE", "1")
        paths = {
            (release, name): fetch.resolve_file(ons_population.SOURCE_ID, release, name)
            for release, name in ons_population.required_files()
        }
    ons_population.use_workbooks(paths)
    return paths
