"""The unit lane reads no raw archive: a test here that asks for it is in the wrong lane."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def raw_archive() -> Path:
    """Refuse: unit tests use small inline frames and loopback servers, not the archive."""
    pytest.fail("tests/unit may not read the raw archive: move the test to tests/realdata")
