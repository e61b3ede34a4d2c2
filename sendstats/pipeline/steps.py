"""One build step: skipped when its inputs are unchanged, else made, checked and written.

A step's fingerprint is a sha256 over the sendstats version, the package's code and data maps,
and the sha256 of everything the step reads. A step whose fingerprint matches its last
successful run, and whose output is still there, is skipped; otherwise it is made, a metric
table meets its pandera contract, and the output is written through a temp file and a rename
and recorded in the manifest. The fingerprints live in ``<data>/.build_state.json``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from sendstats import __version__
from sendstats.acquire import manifest
from sendstats.core import config
from sendstats.core import io as sio


@dataclass
class StepResult:
    """What one build step did."""

    step: str
    output: Path
    rows: int
    skipped: bool
    inputs: list[str] = field(default_factory=list)
    details: dict[str, Any] | None = None


@cache
def code_fingerprint() -> str:
    """Return a sha256 over the package's code and data maps, so a code change reruns steps."""
    h = hashlib.sha256()
    for path in sorted(config.PACKAGE_DIR.rglob("*")):
        if path.suffix in {".py", ".csv", ".yaml"} and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(config.PACKAGE_DIR)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def fingerprint(parts: Sequence[str]) -> str:
    """Return a sha256 over the sendstats version, its code and ``parts``."""
    h = hashlib.sha256()
    for p in [__version__, code_fingerprint(), *parts]:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


def load_state() -> dict[str, str]:
    """Return each step's last fingerprint (empty if there is no state or it is unreadable)."""
    path = config.data_dir() / config.STATE_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def save_state(state: dict[str, str]) -> None:
    """Write the steps' fingerprints atomically."""
    sio.atomic_write_text(
        config.data_dir() / config.STATE_FILE, json.dumps(state, indent=2, sort_keys=True)
    )


def inputs_fingerprint(inputs: dict[str, str]) -> str:
    """Return the fingerprint of a step's inputs (name -> sha256 or setting)."""
    return fingerprint([f"{k}={v}" for k, v in sorted(inputs.items())])


def must_run(step: str, output: Path, fp: str, state: dict[str, str], *, force: bool) -> bool:
    """Return True unless the step's fingerprint matches its last run and its output is there."""
    return force or state.get(step) != fp or not output.is_file()


def run_step(
    step: str,
    output: Path,
    inputs: dict[str, str],
    make: Callable[[], pl.DataFrame | tuple[pl.DataFrame, dict[str, Any]]],
    state: dict[str, str],
    *,
    force: bool,
    reads: Sequence[str] | None = None,
) -> StepResult:
    """Run one step unless its fingerprint matches and its output is still there.

    Args:
        inputs: what the step depends on (name -> sha256 or setting), for the fingerprint.
        reads: manifest ids of what it reads (defaults to the keys of ``inputs``).

    """
    fp = inputs_fingerprint(inputs)
    if not must_run(step, output, fp, state, force=force):
        rows = pl.scan_parquet(output).select(pl.len()).collect().item()
        return StepResult(step, output, int(rows), skipped=True, inputs=sorted(inputs))
    made = make()
    df, details = made if isinstance(made, tuple) else (made, None)
    if step.startswith("metrics:") and step != "metrics:benchmarks":
        # Every theme's table meets one contract before it may replace the last good one.
        from sendstats.metrics.schema import validate

        df = validate(df, output)
    sio.write_parquet_atomic(df, output)
    manifest.record_output(
        output, step=step, inputs=sorted(reads or inputs), rows=df.height, details=details
    )
    state[step] = fp
    save_state(state)
    return StepResult(
        step, output, df.height, skipped=False, inputs=sorted(inputs), details=details
    )
