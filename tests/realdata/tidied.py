"""Tidy tables for the tests, checked against their step's schema once, as the build checks them.

The source readers return their tables unchecked: the build's runner checks each step's output
against the step's schema (:func:`sendstats.pipeline.build.check_output`), once. Tests that read
real files through a reader get the same single check here, so a real tidy table that breaks
its schema still fails the tests that use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from sendstats.pipeline import build, table


def checked(step_name: str, df: pl.DataFrame) -> pl.DataFrame:
    """Return ``df`` once it meets the schema of the build step ``step_name``."""
    step = table.step_named(table.STEPS, step_name)
    return build.check_output(step, df, Path(step.writes))


def tidied(step_name: str, paths: dict[tuple[str, str], Any]) -> Any:
    """Run the tidy step ``step_name`` on ``paths`` and check its table, as the build does.

    Returns what the step's function returns (a table, or a table and its read log), the
    table checked.
    """
    step = table.step_named(table.STEPS, step_name)
    made = build.resolve(step.function)(paths)
    if isinstance(made, tuple):
        df, details = made
        return checked(step_name, df), details
    return checked(step_name, made)
