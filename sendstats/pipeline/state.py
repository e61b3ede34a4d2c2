"""The build state: each step's last fingerprint, code and output sha256, and what a step did.

Kept in ``<data>/.build_state.json`` and written atomically after a build has committed its
tables, so the state never describes tables that are not in place. An unreadable state is an
empty one: every step then runs once and the state is written afresh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sendstats.core import config
from sendstats.core import io as sio


@dataclass
class StepResult:
    """What one build step did, and why it ran."""

    step: str
    output: Path
    rows: int
    skipped: bool
    inputs: list[str] = field(default_factory=list)
    details: dict[str, Any] | None = None
    reason: str = "unchanged"


def load_state() -> dict[str, str]:
    """Return each step's last fingerprint (empty if there is no state or it is unreadable)."""
    path = config.data_dir() / config.STATE_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save_state(state: dict[str, str]) -> None:
    """Write the steps' fingerprints atomically."""
    sio.atomic_write_text(
        config.data_dir() / config.STATE_FILE, json.dumps(state, indent=2, sort_keys=True)
    )
