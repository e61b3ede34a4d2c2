"""The unit lane reads no raw archive: a test here that asks for it is in the wrong lane."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from httpserver import ScriptedServer, running_server

from sendstats.acquire import fetch


@pytest.fixture(scope="session")
def raw_archive() -> Path:
    """Refuse: unit tests use small inline frames and loopback servers, not the archive."""
    pytest.fail("tests/unit may not read the raw archive: move the test to tests/realdata")


@pytest.fixture
def offline_web(monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path) -> None:
    """Fetch as on a machine with no proxy, no offline flag and an empty raw archive.

    The download tests then reach only their loopback servers, and every file they fetch
    comes from the network path, not from the archive.
    """
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("SENDSTATS_OFFLINE", raising=False)
    monkeypatch.setenv("SENDSTATS_ARCHIVE", str(tmp_path / "empty_archive"))
    fetch.clear_archive_index()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted HTTP server on 127.0.0.1 (``httpserver.py``), stopped after the test."""
    with running_server() as srv:
        yield srv
